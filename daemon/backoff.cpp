#include "backoff.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace schemahostd
{

Backoff::Backoff(BackoffPolicy policy, std::uint64_t seed)
    : policy_(policy), rng_(seed), nominal_ms_(static_cast<double>(policy.base.count()))
{
    if (policy_.base.count() <= 0)
        throw std::invalid_argument("backoff base must be > 0");
    if (policy_.cap < policy_.base)
        throw std::invalid_argument("backoff cap must be >= base");
    if (!(policy_.multiplier >= 1.0) || !std::isfinite(policy_.multiplier))
        throw std::invalid_argument("backoff multiplier must be >= 1");
    if (!(policy_.jitter >= 0.0 && policy_.jitter < 1.0))
        throw std::invalid_argument("backoff jitter must be in [0, 1)");
}

std::chrono::milliseconds Backoff::next()
{
    // Uniform in [0, 1) from the top 53 bits: unlike
    // std::uniform_real_distribution this is the same on every standard
    // library, so a seed gives the same delays everywhere (tests rely on it).
    const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
    const double delay = nominal_ms_ * (1.0 - policy_.jitter * u);
    const double cap = static_cast<double>(policy_.cap.count());
    // Grow in floating point and clamp, so that many failures cannot overflow.
    nominal_ms_ = std::min(cap, nominal_ms_ * policy_.multiplier);
    ++failures_;
    return std::chrono::milliseconds(std::max<std::int64_t>(1, std::llround(delay)));
}

void Backoff::reset()
{
    nominal_ms_ = static_cast<double>(policy_.base.count());
    failures_ = 0;
}

} // namespace schemahostd
