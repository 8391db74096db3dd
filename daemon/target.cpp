#include "target.hpp"

#include "dsn.hpp"
#include "logging.hpp"
#include "signals.hpp"

#include <algorithm>

namespace schemahostd
{

namespace
{

double seconds(std::chrono::milliseconds d)
{
    return static_cast<double>(d.count()) / 1000.0;
}

std::string make_label(const std::string &dsn, const std::string &dbname)
{
    std::string label = dsn.empty() ? "(libpq defaults)" : mask_dsn(dsn);
    if (!dbname.empty())
        label += " dbname=" + quote_conninfo_value(dbname);
    return label;
}

} // namespace

Target::Target(std::string dsn, std::string dbname, const BackoffPolicy &policy, std::uint64_t seed)
    : dsn_(std::move(dsn)), dbname_(std::move(dbname)), label_(make_label(dsn_, dbname_)),
      backoff_(policy, seed), schedule_(Clock::now())
{
}

void Target::step(const Config &config)
{
    if (conn_ && !conn_->usable())
        drop_connection();
    if (!conn_ && !connect())
        return;

    const auto start = Clock::now();
    try {
        const ExtensionInfo info = check_.run(*conn_);
        if (hello_schema_ != info.schema) {
            api_.hello(*conn_, info.schema, kDaemonVersion);
            hello_schema_ = info.schema;
        }
        if (!active_) {
            if (!api_.try_lock(*conn_, info.schema)) {
                if (!standby_logged_)
                    log_info("standby: another schemahostd is active on this database",
                             {{"target", label_},
                              {"database", conn_->dbname()},
                              {"active_pid", api_.active_daemon_pid(*conn_, info.schema)}});
                standby_logged_ = true;
                healthy_ = true;
                backoff_.reset();
                // Retried every interval: a takeover within two intervals.
                schedule_.retry_after(Clock::now(), config.interval);
                return;
            }
            active_ = true;
            conn_->exec("LISTEN schemahost_config");
            log_info(standby_logged_ ? "active: took over from the previous schemahostd" : "active",
                     {{"target", label_},
                      {"database", conn_->dbname()},
                      {"schema", info.schema},
                      {"schemahost", info.sql_version},
                      {"library", info.library_version}});
            standby_logged_ = false;
        }

        const bool full = schedule_.full_due(start);
        const PassReport report =
            run_pass(*conn_, api_, info.schema, config, full, label_, signals::shutdown_requested);
        log_report(report, start);
        healthy_ = true;
        backoff_.reset();
        schedule_.pass_done(start, Clock::now(), report.full_done, config.interval,
                            config.full_interval);
        // Changes notified while the pass ran may have missed it.
        if (!conn_->take_notifications().empty())
            schedule_.wake_early(Clock::now(), config.interval);
    } catch (const ExtensionError &e) {
        api_.forget(); // the next check starts with DEALLOCATE ALL
        retry_later("schemahost not usable", e.what());
    } catch (const PgError &e) {
        if (e.kind() == PgError::Kind::connection_lost) {
            drop_connection();
            retry_later("connection lost", e.what());
        } else {
            retry_later("pass failed", e.what());
        }
    }
}

void Target::log_report(const PassReport &report, Clock::time_point start)
{
    const auto now = Clock::now();
    for (const auto &f : report.failures)
        if (step_errors_.should_log(f.step, f.error, now))
            log_error("pass step failed",
                      {{"target", label_}, {"step", f.step}, {"error", f.error}});
    for (const char *step : {"refresh_usage", "runtime_limits", "purge_expired", "event_retention",
                             "connection_counts", "alerts"}) {
        const bool failed = std::any_of(report.failures.begin(), report.failures.end(),
                                        [&](const StepFailure &f) { return f.step == step; });
        if (!failed && !report.interrupted && step_errors_.recovered(step))
            log_info("pass step works again", {{"target", label_}, {"step", step}});
    }
    for (const auto &c : conn_limits_.update(report.connections))
        log_warn("project at its connection limit", {{"target", label_},
                                                     {"project", c.project},
                                                     {"connections", c.connections},
                                                     {"max_connections", c.max_connections}});
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - start).count();
    if (report.full)
        log_info("full pass done", {{"target", label_},
                                    {"projects_measured", report.measured},
                                    {"sessions", report.sessions()},
                                    {"projects_connected", report.connections.size()},
                                    {"failed_steps", report.failures.size()},
                                    {"ms", ms}});
    else
        log_debug("pass done", {{"target", label_},
                                {"projects_measured", report.measured},
                                {"sessions", report.sessions()},
                                {"failed_steps", report.failures.size()},
                                {"ms", ms}});
}

void Target::reschedule(const Config &config)
{
    if (healthy_)
        schedule_.reschedule(Clock::now(), config.interval, config.full_interval);
}

int Target::socket() const
{
    return conn_ && conn_->usable() ? conn_->socket() : -1;
}

void Target::on_readable(const Config &config)
{
    if (!conn_)
        return;
    try {
        if (!conn_->take_notifications().empty() && active_)
            schedule_.wake_early(Clock::now(), config.interval);
    } catch (const PgError &e) {
        drop_connection();
        retry_later("connection lost", e.what());
    }
}

bool Target::connect()
{
    try {
        conn_.emplace(PgConnection::connect(dsn_, timeouts_, signals::shutdown_requested, dbname_));
    } catch (const PgError &e) {
        if (e.kind() == PgError::Kind::interrupted)
            return false;
        retry_later("cannot connect", e.what());
        return false;
    }
    check_ = ExtensionCheck{};
    api_.forget();
    hello_schema_.reset();
    active_ = false;
    log_info("connected", {{"target", label_},
                           {"server", describe_target(conn_->get())},
                           {"server_version", PQserverVersion(conn_->get())}});
    return true;
}

void Target::drop_connection()
{
    conn_.reset();
    // The lock went with the session.
    if (active_)
        log_warn("no longer active: connection closed", {{"target", label_}});
    active_ = false;
    hello_schema_.reset();
    api_.forget();
}

void Target::retry_later(const char *msg, const std::string &error)
{
    healthy_ = false;
    const auto delay = backoff_.next();
    schedule_.retry_after(Clock::now(), delay);
    // The first failure is an error (alerting sees the transition); repeats
    // while the backoff runs are warnings, one per attempt.
    log(backoff_.failures() == 1 ? LogLevel::error : LogLevel::warn, msg,
        {{"target", label_},
         {"error", error},
         {"attempt", backoff_.failures()},
         {"retry_in_s", seconds(delay)}});
}

} // namespace schemahostd
