// Delays between reconnection attempts: exponential growth up to a cap, with
// random jitter so that many daemons restarted together do not hammer a
// recovering server in lockstep.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace schemahostd
{

struct BackoffPolicy {
    std::chrono::milliseconds base{1000}; // nominal delay after the first failure
    std::chrono::milliseconds cap{60000}; // the nominal delay never grows past this
    double multiplier = 2.0;              // growth per failure, >= 1
    double jitter = 0.5; // fraction in [0, 1): a delay is uniform in [nominal*(1-jitter), nominal]
};

class Backoff
{
  public:
    // Throws std::invalid_argument for a policy that could busy-loop or never grow.
    Backoff(BackoffPolicy policy, std::uint64_t seed);

    // The delay to wait before the next attempt; each call counts one failure.
    // Always >= 1 ms, never more than the cap.
    std::chrono::milliseconds next();

    // After a success: the next failure starts again from the base delay.
    void reset();

    unsigned failures() const { return failures_; }
    const BackoffPolicy &policy() const { return policy_; }

  private:
    BackoffPolicy policy_;
    std::mt19937_64 rng_;
    double nominal_ms_;
    unsigned failures_ = 0;
};

} // namespace schemahostd
