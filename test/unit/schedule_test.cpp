#include "daemon_loop.hpp"
#include "schedule.hpp"

#include <gtest/gtest.h>

using namespace schemahostd;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace
{

const PassSchedule::time_point t0{seconds(1000)};
constexpr milliseconds kInterval{2000};
constexpr milliseconds kFull{600000};

} // namespace

TEST(Schedule, FirstPassIsDueAtOnceAndFull)
{
    PassSchedule s(t0);
    EXPECT_TRUE(s.due(t0));
    EXPECT_TRUE(s.full_due(t0));
    EXPECT_FALSE(s.next_full().has_value());
}

TEST(Schedule, FixedRateFromTheStartOfEachPass)
{
    PassSchedule s(t0);
    s.pass_done(t0, t0 + milliseconds(300), true, kInterval, kFull);
    EXPECT_EQ(s.next_due(), t0 + kInterval);
    EXPECT_FALSE(s.due(t0 + milliseconds(1999)));
    EXPECT_TRUE(s.due(t0 + kInterval));
    // A pass that overran its interval is followed at once, not twice.
    s.pass_done(t0 + kInterval, t0 + seconds(7), false, kInterval, kFull);
    EXPECT_EQ(s.next_due(), t0 + seconds(7));
}

TEST(Schedule, FullReconcileEveryFullInterval)
{
    PassSchedule s(t0);
    s.pass_done(t0, t0 + milliseconds(10), true, kInterval, kFull);
    EXPECT_FALSE(s.full_due(t0 + kInterval));
    EXPECT_FALSE(s.full_due(t0 + kFull - milliseconds(1)));
    EXPECT_TRUE(s.full_due(t0 + kFull));
    // Quick passes do not move the full clock.
    s.pass_done(t0 + kInterval, t0 + kInterval, false, kInterval, kFull);
    EXPECT_TRUE(s.full_due(t0 + kFull));
}

TEST(Schedule, FailedFullPassIsRetried)
{
    PassSchedule s(t0);
    // The first (full) pass's refresh failed: the next pass is full again.
    s.pass_done(t0, t0, false, kInterval, kFull);
    EXPECT_TRUE(s.full_due(t0 + kInterval));
    s.pass_done(t0 + kInterval, t0 + kInterval, true, kInterval, kFull);
    EXPECT_FALSE(s.full_due(t0 + kInterval * 2));
    EXPECT_EQ(*s.next_full(), t0 + kInterval + kFull);
}

TEST(Schedule, RetryAfterKeepsTheFullClock)
{
    PassSchedule s(t0);
    s.pass_done(t0, t0, true, kInterval, kFull);
    s.retry_after(t0 + kInterval, seconds(8));
    EXPECT_EQ(s.next_due(), t0 + kInterval + seconds(8));
    EXPECT_EQ(*s.next_full(), t0 + kFull);
}

TEST(Schedule, EarlyWakeBringsTheNextPassForwardButNotIntoABusyLoop)
{
    EXPECT_EQ(PassSchedule::early_wake_gap(kInterval), milliseconds(500));
    EXPECT_EQ(PassSchedule::early_wake_gap(milliseconds(400)), milliseconds(100));
    EXPECT_EQ(PassSchedule::early_wake_gap(seconds(60)), milliseconds(500));

    PassSchedule s(t0);
    s.pass_done(t0, t0 + milliseconds(50), true, kInterval, kFull);
    // Right after a pass: not before the gap.
    s.wake_early(t0 + milliseconds(100), kInterval);
    EXPECT_EQ(s.next_due(), t0 + milliseconds(500));
    // Later in the interval: at once.
    s.pass_done(t0, t0 + milliseconds(50), true, kInterval, kFull);
    s.wake_early(t0 + milliseconds(1200), kInterval);
    EXPECT_EQ(s.next_due(), t0 + milliseconds(1200));
    // Never later than already planned.
    s.retry_after(t0, milliseconds(100));
    s.wake_early(t0 + milliseconds(50), kInterval);
    EXPECT_EQ(s.next_due(), t0 + milliseconds(100));
    // Before any pass: at once.
    PassSchedule fresh(t0);
    fresh.wake_early(t0 + seconds(1), kInterval);
    EXPECT_EQ(fresh.next_due(), t0);
}

TEST(Schedule, RescheduleAppliesShorterIntervalsAtOnce)
{
    PassSchedule s(t0);
    s.pass_done(t0, t0, true, seconds(60), seconds(3600));
    EXPECT_EQ(s.next_due(), t0 + seconds(60));
    s.reschedule(t0 + seconds(1), kInterval, kFull);
    EXPECT_EQ(s.next_due(), t0 + seconds(3));
    EXPECT_EQ(*s.next_full(), t0 + seconds(1) + kFull);
    // A longer interval does not postpone what is already planned.
    s.reschedule(t0 + seconds(2), seconds(30), seconds(7200));
    EXPECT_EQ(s.next_due(), t0 + seconds(3));
}

TEST(Targets, OnePerDsnOrOnePerDiscoveredDatabase)
{
    Config c;
    auto w = wanted_targets(c, {});
    ASSERT_EQ(w.size(), 1U);
    EXPECT_EQ(w[0], TargetKey("", ""));

    c.dsns = {"host=a dbname=x", "host=b dbname=y"};
    w = wanted_targets(c, {{"host=a", "ignored"}});
    ASSERT_EQ(w.size(), 2U);
    EXPECT_EQ(w[1], TargetKey("host=b dbname=y", ""));

    c.discover = true;
    w = wanted_targets(c, {{"host=a", "app1"}, {"host=a", "app2"}});
    ASSERT_EQ(w.size(), 2U);
    EXPECT_EQ(w[0], TargetKey("host=a", "app1"));
    // Nothing discovered (yet): nothing watched, not libpq's defaults.
    EXPECT_TRUE(wanted_targets(c, {}).empty());
}
