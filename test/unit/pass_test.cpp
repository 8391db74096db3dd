#include "pass.hpp"

#include <gtest/gtest.h>

using namespace schemahostd;
using std::chrono::seconds;

TEST(PassReport, OkOnlyWithoutFailuresOrInterruption)
{
    PassReport r;
    EXPECT_TRUE(r.ok());
    r.interrupted = true;
    EXPECT_FALSE(r.ok());
    r.interrupted = false;
    r.failures.push_back({"purge_expired", "boom"});
    EXPECT_FALSE(r.ok());
}

TEST(PassReport, SummaryCountsEverything)
{
    PassReport r;
    r.full = true;
    r.measured = 12;
    r.enforced = {{"blog", 42, "cancel", 2000, 2500, "statement_timeout"}};
    r.purged = {"old1", "old2"};
    r.connections = {{"blog", 3, 10}, {"shop", 1, 5}};
    r.alerts.delivered = 4;
    EXPECT_EQ(summarize(r), "full pass: 12 projects measured, 1 runtime limits enforced, 2 "
                            "projects purged, 4 sessions in 2 projects, 4 alerts sent");
    r.full = false;
    r.measured = -1;
    r.failures = {{"refresh_usage", "permission denied"}};
    const std::string s = summarize(r);
    EXPECT_EQ(s.rfind("quick pass: 0 projects measured", 0), 0U) << s;
    EXPECT_NE(s.find("; refresh_usage failed: permission denied"), std::string::npos) << s;
}

TEST(PassReport, EnforcementMessageSaysWhy)
{
    EXPECT_STREQ(enforcement_message({"p", 1, "cancel", 2000, 2500, "statement_timeout"}),
                 "statement cancelled: runtime limit");
    EXPECT_STREQ(
        enforcement_message({"p", 1, "terminate", 60000, 61000, "idle_in_transaction_timeout"}),
        "session terminated: idle in transaction too long");
    EXPECT_STREQ(enforcement_message({"p", 1, "terminate", 0, 10, "project_suspended"}),
                 "session terminated: project suspended");
    EXPECT_STREQ(enforcement_message({"p", 1, "terminate", 0, 10, "project_dropped"}),
                 "session terminated: project dropped");
    // An extension newer than the daemon may add reasons.
    EXPECT_STREQ(enforcement_message({"p", 1, "terminate", 0, 10, "something_new"}),
                 "session terminated: runtime limit");
}

TEST(ConnectionLimitTracker, ReportsEachProjectOnceWhileAtItsLimit)
{
    ConnectionLimitTracker t;
    EXPECT_TRUE(t.update({{"blog", 9, 10}}).empty());
    auto fresh = t.update({{"blog", 10, 10}, {"shop", 1, 5}});
    ASSERT_EQ(fresh.size(), 1U);
    EXPECT_EQ(fresh[0].project, "blog");
    // Still at the limit: not again.
    EXPECT_TRUE(t.update({{"blog", 10, 10}}).empty());
    // Below, then at it again: reported again.
    EXPECT_TRUE(t.update({{"blog", 4, 10}}).empty());
    EXPECT_EQ(t.update({{"blog", 10, 10}}).size(), 1U);
    // A project with no sessions is absent from the counts: it left the limit.
    EXPECT_TRUE(t.update({}).empty());
    EXPECT_EQ(t.update({{"blog", 11, 10}}).size(), 1U);
}

TEST(StepErrorLog, NewOrChangedErrorsAtOnceRepeatsOncePerPeriod)
{
    StepErrorLog log(seconds(60));
    const StepErrorLog::Clock::time_point t0{seconds(100)};
    EXPECT_TRUE(log.should_log("refresh_usage", "e1", t0));
    EXPECT_FALSE(log.should_log("refresh_usage", "e1", t0 + seconds(2)));
    EXPECT_TRUE(log.should_log("purge_expired", "e1", t0 + seconds(2)));
    EXPECT_TRUE(log.should_log("refresh_usage", "e2", t0 + seconds(4)));
    EXPECT_FALSE(log.should_log("refresh_usage", "e2", t0 + seconds(63)));
    EXPECT_TRUE(log.should_log("refresh_usage", "e2", t0 + seconds(64)));
    EXPECT_TRUE(log.recovered("refresh_usage"));
    EXPECT_FALSE(log.recovered("refresh_usage"));
    EXPECT_FALSE(log.recovered("alerts"));
    EXPECT_TRUE(log.should_log("refresh_usage", "e2", t0 + seconds(65)));
}
