// One database the daemon watches: its connection, its schedule and its
// reconnection backoff. Server trouble is logged and retried here, never
// propagated, so one bad database cannot stop the others.
#pragma once

#include "backoff.hpp"
#include "config.hpp"
#include "pg_conn.hpp"
#include "version_check.hpp"

#include <chrono>
#include <optional>
#include <string>

namespace schemahostd {

class Target
{
  public:
    using Clock = std::chrono::steady_clock;

    Target(std::string dsn, const BackoffPolicy &policy, std::uint64_t seed);

    const std::string &dsn() const { return dsn_; }
    // Password-free name for logs: the masked dsn, or "(libpq defaults)".
    const std::string &label() const { return label_; }
    Clock::time_point next_due() const { return next_due_; }

    // Does what is due: connect (with backoff) and/or run a pass.
    void step(const Config &config);
    // After a reload: passes follow the new interval from now on.
    void reschedule(const Config &config);

  private:
    bool connect();
    void pass(const Config &config);
    void retry_later(const char *msg, const std::string &error);

    std::string dsn_;
    std::string label_;
    std::optional<PgConnection> conn_;
    ExtensionCheck check_;
    Backoff backoff_;
    PgTimeouts timeouts_;
    Clock::time_point next_due_;
    std::optional<Clock::time_point> next_full_;
    bool healthy_ = false;
};

} // namespace schemahostd
