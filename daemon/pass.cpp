#include "pass.hpp"

#include "logging.hpp"

#include <fmt/format.h>

#include <numeric>

namespace schemahostd
{

int PassReport::sessions() const
{
    return std::accumulate(connections.begin(), connections.end(), 0,
                           [](int sum, const ConnectionCount &c) { return sum + c.connections; });
}

PassReport run_pass(PgConnection &conn, DaemonApi &api, const std::string &schema,
                    const Config &config, bool full, const std::string &target,
                    const std::function<bool()> &stop)
{
    PassReport report;
    report.full = full;
    // Runs one step; false when the pass must end (shutdown requested).
    auto step = [&](const char *name, auto &&body) {
        if (stop && stop()) {
            report.interrupted = true;
            return false;
        }
        try {
            body();
        } catch (const PgError &e) {
            if (e.kind() != PgError::Kind::query)
                throw;
            report.failures.push_back({name, e.what()});
        }
        return true;
    };

    const bool go =
        step("refresh_usage",
             [&] {
                 report.measured = api.refresh_usage(conn, schema, full);
                 report.full_done = full;
                 log_debug("usage refreshed",
                           {{"target", target}, {"full", full}, {"projects", report.measured}});
             }) &&
        step("runtime_limits",
             [&] {
                 report.enforced = api.enforce_runtime_limits(conn, schema);
                 for (const auto &e : report.enforced)
                     log_info(enforcement_message(e), {{"target", target},
                                                       {"project", e.project},
                                                       {"pid", e.pid},
                                                       {"action", e.action},
                                                       {"reason", e.reason},
                                                       {"limit_ms", e.limit_ms},
                                                       {"duration_ms", e.duration_ms}});
             }) &&
        step("purge_expired",
             [&] {
                 report.purged = api.purge_expired(conn, schema);
                 for (const auto &p : report.purged)
                     log_info("project purged", {{"target", target}, {"project", p}});
             }) &&
        step("event_retention",
             [&] {
                 if (!full || config.event_retention_days <= 0)
                     return;
                 report.events_deleted =
                     api.delete_old_events(conn, schema, config.event_retention_days);
                 if (report.events_deleted > 0)
                     log_info("old events deleted",
                              {{"target", target},
                               {"events", report.events_deleted},
                               {"retention_days", config.event_retention_days}});
             }) &&
        step("connection_counts",
             [&] { report.connections = api.connection_counts(conn, schema); }) &&
        // Last: delivers what the steps above wrote.
        // --once waits for its requests; the loop lets them outlast the pass.
        step("alerts", [&] {
            report.alerts = alerts::deliver_alerts(conn, config.alerts, schema, config.once);
        });
    (void)go;
    return report;
}

const char *enforcement_message(const Enforcement &e)
{
    if (e.reason == "project_suspended")
        return "session terminated: project suspended";
    if (e.reason == "project_dropped")
        return "session terminated: project dropped";
    if (e.reason == "idle_in_transaction_timeout")
        return "session terminated: idle in transaction too long";
    if (e.reason == "statement_timeout")
        return "statement cancelled: runtime limit";
    return e.action == "cancel" ? "statement cancelled: runtime limit"
                                : "session terminated: runtime limit";
}

std::string summarize(const PassReport &r)
{
    std::string s = fmt::format(
        "{} pass: {} projects measured, {} runtime limits enforced, {} projects purged, {} "
        "sessions in {} projects, {} alerts sent",
        r.full ? "full" : "quick", r.measured < 0 ? 0 : r.measured, r.enforced.size(),
        r.purged.size(), r.sessions(), r.connections.size(), r.alerts.delivered);
    if (r.interrupted)
        s += "; interrupted";
    for (const auto &f : r.failures)
        s += fmt::format("; {} failed: {}", f.step, f.error);
    return s;
}

std::vector<ConnectionCount>
ConnectionLimitTracker::update(const std::vector<ConnectionCount> &counts)
{
    std::vector<ConnectionCount> fresh;
    std::map<std::string, int> now;
    for (const auto &c : counts) {
        if (c.max_connections <= 0 || c.connections < c.max_connections)
            continue;
        now[c.project] = c.connections;
        if (!at_limit_.count(c.project))
            fresh.push_back(c);
    }
    at_limit_ = std::move(now);
    return fresh;
}

bool StepErrorLog::should_log(const std::string &step, const std::string &error,
                              Clock::time_point now)
{
    auto it = last_.find(step);
    if (it == last_.end() || it->second.error != error || now - it->second.logged >= repeat_) {
        last_[step] = {error, now};
        return true;
    }
    return false;
}

bool StepErrorLog::recovered(const std::string &step)
{
    return last_.erase(step) > 0;
}

} // namespace schemahostd
