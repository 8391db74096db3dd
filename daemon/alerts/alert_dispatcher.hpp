// Delivers due alerts: claims them through the extension's daemon API, sends
// each on a thread of its own (with its own timeouts) and records each
// outcome. The daemon calls deliver_alerts() once per pass and database.
//
// In the daemon loop a pass does not wait for the peers: it records what has
// finished since the previous pass, claims more (up to --alert-batch in
// flight) and returns, so that a hanging SMTP server or webhook never delays
// quota enforcement. With wait = true (--once) the pass waits for every
// request it started. Delivery is at least once: a daemon that dies after
// sending and before recording sends again, with the same event id and
// Message-ID.
#pragma once

#include "alerts/alert_message.hpp"
#include "alerts/alert_options.hpp"
#include "alerts/alert_sender.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace schemahostd
{
class PgConnection;
}

namespace schemahostd::alerts
{

// The extension's daemon API, as an interface so that the dispatcher can be
// tested without a database.
class DeliveryStore
{
  public:
    virtual ~DeliveryStore() = default;
    // exclude: deliveries this daemon is still sending.
    virtual std::vector<Delivery> claim(int max_deliveries,
                                        const std::vector<std::string> &channels, int max_attempts,
                                        const std::vector<std::int64_t> &exclude) = 0;
    virtual void done(std::int64_t delivery) = 0;
    // Returns the new status: "pending" (retried later) or "failed".
    virtual std::string failed(std::int64_t delivery, const std::string &error, int max_attempts,
                               std::chrono::milliseconds retry_base,
                               std::chrono::milliseconds retry_max) = 0;
};

// schemahost_claim_deliveries() and friends over a daemon connection. The
// functions are called unqualified unless api_schema is given.
class PgDeliveryStore : public DeliveryStore
{
  public:
    explicit PgDeliveryStore(PgConnection &conn, std::string api_schema = {});
    std::vector<Delivery> claim(int max_deliveries, const std::vector<std::string> &channels,
                                int max_attempts,
                                const std::vector<std::int64_t> &exclude) override;
    void done(std::int64_t delivery) override;
    std::string failed(std::int64_t delivery, const std::string &error, int max_attempts,
                       std::chrono::milliseconds retry_base,
                       std::chrono::milliseconds retry_max) override;

  private:
    std::string fn(const char *name) const;
    PgConnection &conn_;
    std::string prefix_;
};

struct PassStats {
    int claimed = 0;   // claimed and started in this pass
    int delivered = 0; // outcomes recorded in this pass, of this or earlier passes' requests
    int retrying = 0;  // failed this time, will be retried
    int failed = 0;    // failed for good
    int in_flight = 0; // still being sent when the pass ended
};

// Checks the alert options; returns {option, message} for the first problem
// (e.g. --smtp-url without --smtp-from, a URL of the wrong scheme). Reads no
// file: load_alert_secrets() does.
std::optional<std::pair<std::string, std::string>> check_alert_options(const AlertOptions &options);

// Reads a secret file: its contents without trailing CR/LF. Throws
// std::runtime_error with the reason (never the contents).
std::string read_secret_file(const std::string &path);

// Returns a file's contents; throws std::exception with the reason.
using SecretReader = std::function<std::string(const std::string &path)>;

// Reads the secret files that options names, again on every call, into
// options.smtp_password and options.webhook_secret: a file's contents without
// trailing CR/LF, which must not be empty. read_file: nullptr reads the files
// with read_secret_file.
//
// previous: the options in force (on reload), nullptr at startup. A file that
// cannot be read (missing, no permission, empty) keeps previous's secret of
// the same kind when it has one, so that a broken file never makes the daemon
// send unauthenticated or unsigned; the problem is returned with
// kept_previous. Otherwise the secret is left empty and the problem returned
// without kept_previous: the configuration must then be rejected.
std::vector<SecretFileProblem> load_alert_secrets(AlertOptions &options,
                                                  const SecretReader &read_file,
                                                  const AlertOptions *previous = nullptr);

class AlertDispatcher
{
  public:
    // The secrets must have been loaded (load_alert_secrets): throws
    // std::invalid_argument naming the option when a secret file is set and
    // its secret is not, rather than send unauthenticated or unsigned.
    explicit AlertDispatcher(AlertOptions options);
    // Aborts the requests still in flight and waits for their threads (about
    // a second); their outcomes are not recorded, so they are sent again
    // later, with the same ids.
    ~AlertDispatcher();
    AlertDispatcher(const AlertDispatcher &) = delete;
    AlertDispatcher &operator=(const AlertDispatcher &) = delete;

    // After a reload: new options, new secrets included, apply to deliveries
    // claimed from now on. Throws like the constructor; the old options then
    // stay in force.
    void reconfigure(const AlertOptions &options);

    // The channels this daemon can send: "email" with --smtp-url, "webhook"
    // with --webhook-url. Deliveries of other channels wait in the database.
    std::vector<std::string> channels() const;

    // api_schema: where the extension's functions are (ExtensionInfo::schema);
    // empty: found through the connection's search_path.
    PassStats run_once(PgConnection &conn, const std::string &api_schema = {}, bool wait = true);
    PassStats run_once(DeliveryStore &store, bool wait = true);

    std::size_t in_flight() const;

    // The request that would be sent for a delivery; throws
    // std::invalid_argument when it cannot be sent at all (bad recipient).
    // `now` is the signature's timestamp.
    Request build_request(const Delivery &d, std::int64_t now) const;

    // For tests: replaces libcurl. Called on the sending thread.
    using Transport = std::function<SendResult(const Request &)>;
    void set_transport(Transport transport) { transport_ = std::move(transport); }

  private:
    struct Job;
    void record_failure(DeliveryStore &store, const Delivery &d, const std::string &error,
                        int max_attempts, PassStats &stats);
    // Records every finished request; with wait, until none is in flight.
    void harvest(DeliveryStore &store, PassStats &stats, bool wait);

    AlertOptions options_;
    Transport transport_;
    std::atomic<bool> stopping_{false};
    mutable std::mutex mutex_;
    std::condition_variable finished_;
    std::map<std::int64_t, std::unique_ptr<Job>> jobs_; // by delivery id
};

// The pass step: delivers due alerts of one database if any channel is
// configured. Logs and swallows everything except PgError, which the caller
// handles like any other database error (reconnect, retry later). The
// dispatcher of each database (by host, port and name) lives as long as the
// process, so that requests can outlast a pass; wait = true (--once) waits
// for every request started.
PassStats deliver_alerts(PgConnection &conn, const AlertOptions &options,
                         const std::string &api_schema = {}, bool wait = false);

// At shutdown (SIGTERM): aborts every request still in flight, within about a
// second, and joins the sender threads. Their deliveries stay pending (their
// claims die with the daemon's sessions) and are sent again by the next
// daemon, with the same ids. Returns how many were aborted.
std::size_t shutdown_alerts();

} // namespace schemahostd::alerts
