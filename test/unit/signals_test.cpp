#include "signals.hpp"

#include <gtest/gtest.h>

#include <csignal>

#include <poll.h>
#include <unistd.h>

using namespace schemahostd;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

TEST(Signals, WaitTimesOutAndSeesReadyDescriptors)
{
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const auto start = Clock::now();
    EXPECT_EQ(signals::wait(fds[0], POLLIN, start + milliseconds(50)), signals::Wake::timeout);
    EXPECT_GE(Clock::now() - start, milliseconds(45));
    ASSERT_EQ(write(fds[1], "x", 1), 1);
    EXPECT_EQ(signals::wait(fds[0], POLLIN, Clock::now() + milliseconds(5000)),
              signals::Wake::ready);
    EXPECT_EQ(signals::wait(-1, 0, Clock::now() - milliseconds(1)), signals::Wake::timeout);
    close(fds[0]);
    close(fds[1]);
}

// A signal arriving between the loop's last flag check and its wait must not
// be lost: after install() it stays pending until the wait, which it ends.
TEST(Signals, SignalsRaisedOutsideAWaitEndTheNextWaitAtOnce)
{
    signals::install();
    ASSERT_FALSE(signals::shutdown_requested());
    ASSERT_FALSE(signals::take_reload_request());

    std::raise(SIGHUP);
    EXPECT_FALSE(signals::reload_pending()); // blocked: not delivered yet
    const auto start = Clock::now();
    EXPECT_EQ(signals::wait(-1, 0, start + milliseconds(5000)), signals::Wake::signal);
    EXPECT_LT(Clock::now() - start, milliseconds(1000));
    EXPECT_TRUE(signals::take_reload_request());
    EXPECT_FALSE(signals::take_reload_request()); // once per signal
    EXPECT_FALSE(signals::shutdown_requested());

    std::raise(SIGTERM);
    EXPECT_EQ(signals::wait(-1, 0, Clock::now() + milliseconds(5000)), signals::Wake::signal);
    EXPECT_TRUE(signals::shutdown_requested());
}
