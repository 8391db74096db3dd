// Signal handling for the main loop. Handlers only set flags. The signals are
// blocked except while waiting in ppoll(), so a signal can only arrive inside
// a wait and always ends it at once: no race between checking a flag and
// going to sleep, and no busy loop.
#pragma once

#include <chrono>
#include <vector>

namespace schemahostd::signals
{

using Clock = std::chrono::steady_clock;

// SIGTERM/SIGINT request shutdown, SIGHUP a reload; SIGPIPE is ignored.
// Without install() (--once), wait() is a plain poll and signals keep their
// default actions.
void install();

bool shutdown_requested();
// True once per SIGHUP received (several before a check count as one).
bool take_reload_request();
bool reload_pending();

enum class Wake { ready, timeout, signal };

// Waits until fd has one of events (POLLIN/POLLOUT), the deadline passes or a
// signal arrives. fd < 0 just sleeps. Throws std::system_error on poll errors.
Wake wait(int fd, short events, Clock::time_point deadline);

// Waits until any of fds is readable, the deadline passes or a signal
// arrives; ready[i] says which were. Negative fds are ignored.
Wake wait_readable(const std::vector<int> &fds, Clock::time_point deadline,
                   std::vector<bool> &ready);

} // namespace schemahostd::signals
