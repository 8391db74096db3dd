// When the next pass over one database is due, and whether it is a full one.
// Pure logic on time points, so that every rule can be unit-tested.
//
// - Passes run at a fixed rate: one every interval, measured from the start
//   of the previous one; a pass that overran is followed at once, not twice.
// - The first pass after the daemon starts is full (a restart after kill -9
//   reconciles everything); after that one every full_interval, counted
//   from the last full pass that succeeded (a failed one is retried).
// - NOTIFY schemahost_config wakes the daemon early, but never sooner than
//   early_wake_gap() after the last pass started, so that a burst of
//   changes (thousands of projects created) costs a few passes, not
//   thousands.
#pragma once

#include <chrono>
#include <optional>

namespace schemahostd
{

class PassSchedule
{
  public:
    using Clock = std::chrono::steady_clock;
    using time_point = Clock::time_point;
    using ms = std::chrono::milliseconds;

    explicit PassSchedule(time_point now) : next_due_(now) {}

    time_point next_due() const { return next_due_; }
    bool due(time_point now) const { return now >= next_due_; }
    // Whether a pass starting at now must refresh in full.
    bool full_due(time_point now) const { return !next_full_ || now >= *next_full_; }
    std::optional<time_point> next_full() const { return next_full_; }

    // A pass started at start and ended at now. full_done: it completed a
    // full refresh.
    void pass_done(time_point start, time_point now, bool full_done, ms interval, ms full_interval);
    // The pass could not run (connection, extension): try again after delay.
    // The full-pass clock is unchanged.
    void retry_after(time_point now, ms delay) { next_due_ = now + delay; }
    // A notification arrived: run the next pass early (see early_wake_gap).
    void wake_early(time_point now, ms interval);
    // After a reload: the new intervals apply from now on.
    void reschedule(time_point now, ms interval, ms full_interval);

    static ms early_wake_gap(ms interval);

  private:
    time_point next_due_;
    std::optional<time_point> last_start_;
    std::optional<time_point> next_full_;
};

} // namespace schemahostd
