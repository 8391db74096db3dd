#include "schedule.hpp"

#include <algorithm>

namespace schemahostd
{

PassSchedule::ms PassSchedule::early_wake_gap(ms interval)
{
    return std::min(interval / 4, ms(500));
}

void PassSchedule::pass_done(time_point start, time_point now, bool full_done, ms interval,
                             ms full_interval)
{
    last_start_ = start;
    if (full_done)
        next_full_ = start + full_interval;
    next_due_ = std::max(start + interval, now);
}

void PassSchedule::wake_early(time_point now, ms interval)
{
    time_point earliest = now;
    if (last_start_)
        earliest = std::max(earliest, *last_start_ + early_wake_gap(interval));
    next_due_ = std::min(next_due_, earliest);
}

void PassSchedule::reschedule(time_point now, ms interval, ms full_interval)
{
    next_due_ = std::min(next_due_, now + interval);
    if (next_full_)
        next_full_ = std::min(*next_full_, now + full_interval);
}

} // namespace schemahostd
