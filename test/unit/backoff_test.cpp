#include "backoff.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <stdexcept>
#include <vector>

using schemahostd::Backoff;
using schemahostd::BackoffPolicy;
using ms = std::chrono::milliseconds;

namespace
{

BackoffPolicy policy(ms base, ms cap, double multiplier, double jitter)
{
    BackoffPolicy p;
    p.base = base;
    p.cap = cap;
    p.multiplier = multiplier;
    p.jitter = jitter;
    return p;
}

} // namespace

TEST(Backoff, WithoutJitterDoublesUpToTheCap)
{
    Backoff b(policy(ms(100), ms(1000), 2.0, 0.0), 1);
    const std::vector<long> expected = {100, 200, 400, 800, 1000, 1000, 1000};
    for (long e : expected)
        EXPECT_EQ(b.next().count(), e);
    EXPECT_EQ(b.failures(), expected.size());
}

TEST(Backoff, JitteredDelaysStayWithinBounds)
{
    const auto p = policy(ms(1000), ms(60000), 2.0, 0.5);
    for (std::uint64_t seed = 0; seed < 50; ++seed) {
        Backoff b(p, seed);
        double nominal = 1000;
        for (int i = 0; i < 20; ++i) {
            const auto d = b.next().count();
            EXPECT_GE(d, static_cast<long>(nominal * 0.5)) << "seed " << seed << " attempt " << i;
            EXPECT_LE(d, static_cast<long>(nominal)) << "seed " << seed << " attempt " << i;
            EXPECT_LE(d, 60000);
            nominal = std::min(60000.0, nominal * 2);
        }
    }
}

TEST(Backoff, JitterActuallyVaries)
{
    Backoff b(policy(ms(1000), ms(1000), 1.0, 0.5), 42);
    std::set<long> seen;
    for (int i = 0; i < 20; ++i)
        seen.insert(b.next().count());
    EXPECT_GT(seen.size(), 10U);
}

TEST(Backoff, SameSeedSameDelays)
{
    const auto p = policy(ms(500), ms(30000), 2.0, 0.5);
    Backoff a(p, 7);
    Backoff b(p, 7);
    Backoff c(p, 8);
    bool differs = false;
    for (int i = 0; i < 10; ++i) {
        const auto x = a.next();
        EXPECT_EQ(x, b.next());
        differs = differs || x != c.next();
    }
    EXPECT_TRUE(differs);
}

TEST(Backoff, GrowthIsMonotonicWithoutJitterAndSurvivesManyFailures)
{
    Backoff b(policy(ms(1), ms(3600000), 3.0, 0.0), 1);
    long previous = 0;
    for (int i = 0; i < 10000; ++i) {
        const long d = b.next().count();
        EXPECT_GE(d, previous);
        EXPECT_LE(d, 3600000);
        previous = d;
    }
    EXPECT_EQ(previous, 3600000);
}

TEST(Backoff, ResetStartsOver)
{
    Backoff b(policy(ms(100), ms(1000), 2.0, 0.0), 1);
    b.next();
    b.next();
    b.next();
    b.reset();
    EXPECT_EQ(b.failures(), 0U);
    EXPECT_EQ(b.next().count(), 100);
}

TEST(Backoff, NeverZeroEvenWithFullJitter)
{
    Backoff b(policy(ms(1), ms(1), 1.0, 0.999), 3);
    for (int i = 0; i < 1000; ++i)
        EXPECT_GE(b.next().count(), 1);
}

TEST(Backoff, RejectsPoliciesThatCouldBusyLoop)
{
    EXPECT_THROW(Backoff(policy(ms(0), ms(10), 2.0, 0.1), 1), std::invalid_argument);
    EXPECT_THROW(Backoff(policy(ms(100), ms(10), 2.0, 0.1), 1), std::invalid_argument);
    EXPECT_THROW(Backoff(policy(ms(10), ms(100), 0.5, 0.1), 1), std::invalid_argument);
    EXPECT_THROW(Backoff(policy(ms(10), ms(100), 2.0, 1.0), 1), std::invalid_argument);
    EXPECT_THROW(Backoff(policy(ms(10), ms(100), 2.0, -0.1), 1), std::invalid_argument);
}
