// Delivers due alerts: claims them through the extension's daemon API, sends
// them all at once (each with its own timeout) and records each outcome as
// soon as it is known. The daemon calls run_once() once per pass and
// database:
//
//     alerts::AlertDispatcher dispatcher(config.alerts);   // reads the secret files
//     dispatcher.run_once(conn);                           // PgError propagates
//
// A pass sends at most options.batch deliveries and takes at most about the
// longest of --smtp-timeout / --webhook-timeout. Delivery is at least once:
// a daemon that dies after sending and before recording sends again, with the
// same event id and Message-ID.
#pragma once

#include "alerts/alert_message.hpp"
#include "alerts/alert_options.hpp"
#include "alerts/alert_sender.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace schemahostd {
class PgConnection;
}

namespace schemahostd::alerts {

// The extension's daemon API, as an interface so that the dispatcher can be
// tested without a database.
class DeliveryStore
{
  public:
    virtual ~DeliveryStore() = default;
    virtual std::vector<Delivery> claim(int max_deliveries, const std::vector<std::string> &channels,
                                        int max_attempts) = 0;
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
                                int max_attempts) override;
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
    int claimed = 0;
    int delivered = 0;
    int retrying = 0; // failed this time, will be retried
    int failed = 0;   // failed for good
};

// Checks the alert options; returns {option, message} for the first problem
// (e.g. --smtp-url without --smtp-from, a URL of the wrong scheme, a secret
// file that cannot be read through read_file, which throws with the reason;
// nullptr: read_secret_file).
using SecretReader = std::function<std::string(const std::string &path)>;
std::optional<std::pair<std::string, std::string>>
check_alert_options(const AlertOptions &options, const SecretReader &read_file = nullptr);

// Reads a secret file: its contents without trailing CR/LF. Throws
// std::runtime_error with the reason (never the contents).
std::string read_secret_file(const std::string &path);

class AlertDispatcher
{
  public:
    // Reads the secret files. Throws std::runtime_error naming the option when
    // one cannot be read.
    explicit AlertDispatcher(AlertOptions options);

    // The channels this daemon can send: "email" with --smtp-url, "webhook"
    // with --webhook-url. Deliveries of other channels wait in the database.
    std::vector<std::string> channels() const;

    // api_schema: where the extension's functions are (ExtensionInfo::schema);
    // empty: found through the connection's search_path.
    PassStats run_once(PgConnection &conn, const std::string &api_schema = {});
    PassStats run_once(DeliveryStore &store);

    // The request that would be sent for a delivery; throws
    // std::invalid_argument when it cannot be sent at all (bad recipient).
    // `now` is the signature's timestamp.
    Request build_request(const Delivery &d, std::int64_t now) const;

    // For tests: replaces libcurl.
    using Sender = std::function<void(const std::vector<Request> &, std::size_t,
                                      const std::function<void(std::size_t, const SendResult &)> &)>;
    void set_sender(Sender sender) { sender_ = std::move(sender); }

  private:
    AlertOptions options_;
    std::string smtp_password_;
    std::string webhook_secret_;
    Sender sender_;
};

// The pass step: delivers due alerts of one database if any channel is
// configured. Logs and swallows everything except PgError, which the caller
// handles like any other database error (reconnect, retry later).
PassStats deliver_alerts(PgConnection &conn, const AlertOptions &options,
                         const std::string &api_schema = {});

} // namespace schemahostd::alerts
