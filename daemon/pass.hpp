// One pass over one database: the steps, in order, each one statement and so
// one transaction of its own (a daemon killed between or during steps leaves
// every step either done or not done, never half done):
//
//   1. schemahost_refresh_usage(full)      usage, quota transitions, cancel writers over quota
//   2. schemahost_enforce_runtime_limits() statement / idle-in-transaction limits, sessions
//                                          of suspended and dropped projects
//   3. schemahost_purge_expired()          projects whose drop grace is over
//      schemahost_delete_old_events()      full passes: events past --event-retention
//   4. schemahost_connection_counts()      sessions per project (reported)
//   5. alert delivery (alerts::deliver_alerts), always last
//
// A step that fails with a server error is recorded and the next step still
// runs; a lost connection ends the pass (PgError propagates). A requested
// shutdown is honoured between steps: the current step always finishes.
#pragma once

#include "alerts/alert_dispatcher.hpp"
#include "config.hpp"
#include "daemon_api.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace schemahostd
{

struct StepFailure {
    std::string step;
    std::string error;
};

struct PassReport {
    bool full = false;
    bool full_done = false; // the full refresh succeeded
    int measured = -1;      // -1: refresh not run
    std::vector<Enforcement> enforced;
    std::vector<std::string> purged;
    long long events_deleted = 0; // full passes only (--event-retention)
    std::vector<ConnectionCount> connections;
    alerts::PassStats alerts;
    std::vector<StepFailure> failures;
    bool interrupted = false; // shutdown requested: later steps skipped

    bool ok() const { return failures.empty() && !interrupted; }
    int sessions() const;
};

// target: the password-free label for log lines.
PassReport run_pass(PgConnection &conn, DaemonApi &api, const std::string &schema,
                    const Config &config, bool full, const std::string &target,
                    const std::function<bool()> &stop);

// The log message of one enforcement of schemahost_enforce_runtime_limits().
const char *enforcement_message(const Enforcement &e);

// "full pass: 12 projects measured, 1 runtime limit enforced, 0 purged,
// 3 sessions in 2 projects, 0 alerts sent" (+ "; failed: step: error" ...)
std::string summarize(const PassReport &report);

// Which projects just reached their connection quota (each reported once
// until it drops below again).
class ConnectionLimitTracker
{
  public:
    std::vector<ConnectionCount> update(const std::vector<ConnectionCount> &counts);

  private:
    std::map<std::string, int> at_limit_;
};

// Step errors repeat every pass while their cause lasts: log one when it is
// new or differs from the last, else at most once per repeat period.
class StepErrorLog
{
  public:
    using Clock = std::chrono::steady_clock;
    explicit StepErrorLog(std::chrono::milliseconds repeat = std::chrono::minutes(1))
        : repeat_(repeat)
    {
    }
    bool should_log(const std::string &step, const std::string &error, Clock::time_point now);
    // The step succeeded; true if it had been failing (worth a log line).
    bool recovered(const std::string &step);

  private:
    struct Last {
        std::string error;
        Clock::time_point logged;
    };
    std::chrono::milliseconds repeat_;
    std::map<std::string, Last> last_;
};

} // namespace schemahostd
