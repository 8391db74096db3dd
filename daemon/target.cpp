#include "target.hpp"

#include "alerts/alert_dispatcher.hpp"
#include "dsn.hpp"
#include "logging.hpp"
#include "signals.hpp"

#include <algorithm>

namespace schemahostd {

namespace {

double seconds(std::chrono::milliseconds d)
{
    return static_cast<double>(d.count()) / 1000.0;
}

} // namespace

Target::Target(std::string dsn, const BackoffPolicy &policy, std::uint64_t seed)
    : dsn_(std::move(dsn)), label_(dsn_.empty() ? "(libpq defaults)" : mask_dsn(dsn_)),
      backoff_(policy, seed), next_due_(Clock::now())
{}

void Target::step(const Config &config)
{
    if (conn_ && !conn_->usable())
        conn_.reset();
    if (!conn_ && !connect())
        return;
    pass(config);
}

void Target::reschedule(const Config &config)
{
    if (healthy_)
        next_due_ = std::min(next_due_, Clock::now() + config.interval);
    if (next_full_)
        next_full_ = std::min(*next_full_, Clock::now() + config.full_interval);
}

bool Target::connect()
{
    try {
        conn_.emplace(PgConnection::connect(dsn_, timeouts_, signals::shutdown_requested));
    } catch (const PgError &e) {
        if (e.kind() == PgError::Kind::interrupted)
            return false;
        retry_later("cannot connect", e.what());
        return false;
    }
    check_ = ExtensionCheck{};
    log_info("connected", {{"target", label_}, {"server", describe_target(conn_->get())},
                           {"server_version", PQserverVersion(conn_->get())}});
    return true;
}

void Target::pass(const Config &config)
{
    const auto start = Clock::now();
    const bool full = !next_full_ || start >= *next_full_;
    try {
        const ExtensionInfo info = check_.run(*conn_);
        // Alerts (issue 6): due deliveries, sent with per-request timeouts.
        alerts::deliver_alerts(*conn_, config.alerts, info.schema);
        if (!healthy_)
            log_info("schemahost ready", {{"target", label_},
                                          {"database", conn_->dbname()},
                                          {"schema", info.schema},
                                          {"schemahost", info.sql_version},
                                          {"library", info.library_version}});
        log_debug("pass done", {{"target", label_},
                                {"kind", full ? "full" : "quick"},
                                {"schemahost", info.sql_version},
                                {"ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                           Clock::now() - start)
                                           .count()}});
    } catch (const ExtensionError &e) {
        retry_later("schemahost not usable", e.what());
        return;
    } catch (const PgError &e) {
        if (e.kind() == PgError::Kind::connection_lost) {
            conn_.reset();
            retry_later("connection lost", e.what());
        } else {
            retry_later("pass failed", e.what());
        }
        return;
    }
    healthy_ = true;
    backoff_.reset();
    if (full)
        next_full_ = start + config.full_interval;
    // Fixed rate; a pass that overran its interval is followed at once, not twice.
    next_due_ = std::max(start + config.interval, Clock::now());
}

void Target::retry_later(const char *msg, const std::string &error)
{
    healthy_ = false;
    const auto delay = backoff_.next();
    next_due_ = Clock::now() + delay;
    // The first failure is an error (alerting sees the transition); repeats
    // while the backoff runs are warnings, one per attempt.
    log(backoff_.failures() == 1 ? LogLevel::error : LogLevel::warn, msg,
        {{"target", label_},
         {"error", error},
         {"attempt", backoff_.failures()},
         {"retry_in_s", seconds(delay)}});
}

} // namespace schemahostd
