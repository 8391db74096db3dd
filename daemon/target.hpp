// One database the daemon watches: its connection, its role (active or
// standby), its schedule and its reconnection backoff. Server trouble is
// logged and retried here, never propagated, so one bad database cannot stop
// the others.
#pragma once

#include "backoff.hpp"
#include "config.hpp"
#include "daemon_api.hpp"
#include "pass.hpp"
#include "pg_conn.hpp"
#include "schedule.hpp"
#include "version_check.hpp"

#include <chrono>
#include <optional>
#include <string>

namespace schemahostd
{

class Target
{
  public:
    using Clock = std::chrono::steady_clock;

    // dbname, when not empty, overrides dsn's database (--discover).
    Target(std::string dsn, std::string dbname, const BackoffPolicy &policy, std::uint64_t seed);

    const std::string &dsn() const { return dsn_; }
    const std::string &dbname_override() const { return dbname_; }
    // Password-free name for logs: the masked dsn, or "(libpq defaults)".
    const std::string &label() const { return label_; }
    Clock::time_point next_due() const { return schedule_.next_due(); }
    bool active() const { return active_; }

    // Does what is due: connect (with backoff), take the active lock or stay
    // on standby, run a pass.
    void step(const Config &config);
    // After a reload: passes follow the new intervals from now on.
    void reschedule(const Config &config);

    // The socket to watch for notifications and connection loss (-1: none).
    int socket() const;
    // The socket is readable: read notifications; a change notified by an
    // operator brings the next pass forward.
    void on_readable(const Config &config);

  private:
    bool connect();
    void drop_connection();
    void retry_later(const char *msg, const std::string &error);
    void log_report(const PassReport &report, Clock::time_point start);

    std::string dsn_;
    std::string dbname_;
    std::string label_;
    std::optional<PgConnection> conn_;
    ExtensionCheck check_;
    DaemonApi api_;
    Backoff backoff_;
    PgTimeouts timeouts_;
    PassSchedule schedule_;
    StepErrorLog step_errors_;
    ConnectionLimitTracker conn_limits_;
    std::optional<std::string> hello_schema_; // handshake done on this connection
    bool active_ = false;                     // holds the active-daemon lock
    bool standby_logged_ = false;
    bool healthy_ = false;
};

} // namespace schemahostd
