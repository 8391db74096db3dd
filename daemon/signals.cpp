#include "signals.hpp"

#include <cerrno>
#include <csignal>
#include <system_error>

#include <poll.h>

namespace schemahostd::signals
{

namespace
{

volatile std::sig_atomic_t g_shutdown = 0;
volatile std::sig_atomic_t g_reload = 0;

bool g_installed = false;
sigset_t g_wait_mask; // the mask in effect while waiting: ours unblocked

extern "C" void on_signal(int sig)
{
    if (sig == SIGHUP)
        g_reload = 1;
    else
        g_shutdown = 1;
}

void check(int rc, const char *what)
{
    if (rc != 0)
        throw std::system_error(errno, std::generic_category(), what);
}

} // namespace

void install()
{
    sigset_t ours;
    sigemptyset(&ours);
    sigaddset(&ours, SIGTERM);
    sigaddset(&ours, SIGINT);
    sigaddset(&ours, SIGHUP);

    sigset_t previous;
    check(sigprocmask(SIG_BLOCK, &ours, &previous), "sigprocmask");
    g_wait_mask = previous;
    sigdelset(&g_wait_mask, SIGTERM);
    sigdelset(&g_wait_mask, SIGINT);
    sigdelset(&g_wait_mask, SIGHUP);

    struct sigaction sa = {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; // no SA_RESTART: the wait must end on a signal
    for (int sig : {SIGTERM, SIGINT, SIGHUP})
        check(sigaction(sig, &sa, nullptr), "sigaction");

    // A vanished log reader must not kill the daemon; writes fail with EPIPE instead.
    struct sigaction ignore = {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    check(sigaction(SIGPIPE, &ignore, nullptr), "sigaction");
    g_installed = true;
}

bool shutdown_requested()
{
    return g_shutdown != 0;
}

bool reload_pending()
{
    return g_reload != 0;
}

bool take_reload_request()
{
    // Signals are blocked outside wait(), so nothing can set the flag between
    // the read and the reset.
    if (!g_reload)
        return false;
    g_reload = 0;
    return true;
}

namespace
{

timespec timeout_until(Clock::time_point deadline)
{
    const auto now = Clock::now();
    const auto left = deadline > now ? deadline - now : Clock::duration::zero();
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(left);
    const auto nsecs = std::chrono::duration_cast<std::chrono::nanoseconds>(left - secs);
    timespec timeout{};
    timeout.tv_sec = static_cast<time_t>(secs.count());
    timeout.tv_nsec = static_cast<long>(nsecs.count());
    return timeout;
}

// ppoll() with our signals unblocked for the wait only. Negative fds are
// ignored (none at all: a plain sleep).
Wake poll_until(pollfd *fds, std::size_t count, Clock::time_point deadline)
{
    const timespec timeout = timeout_until(deadline);
    const int rc = ppoll(fds, count, &timeout, g_installed ? &g_wait_mask : nullptr);
    if (rc < 0) {
        if (errno == EINTR)
            return Wake::signal;
        throw std::system_error(errno, std::generic_category(), "ppoll");
    }
    return rc == 0 ? Wake::timeout : Wake::ready;
}

} // namespace

Wake wait_readable(const std::vector<int> &fds, Clock::time_point deadline,
                   std::vector<bool> &ready)
{
    ready.assign(fds.size(), false);
    std::vector<pollfd> pfds(fds.size());
    for (std::size_t i = 0; i < fds.size(); ++i) {
        pfds[i].fd = fds[i];
        pfds[i].events = POLLIN;
    }
    const Wake wake = poll_until(pfds.data(), pfds.size(), deadline);
    if (wake == Wake::ready)
        for (std::size_t i = 0; i < fds.size(); ++i)
            ready[i] = fds[i] >= 0 && pfds[i].revents != 0;
    return wake;
}

Wake wait(int fd, short events, Clock::time_point deadline)
{
    pollfd pfd{};
    pfd.fd = fd; // poll ignores negative fds: a plain sleep
    pfd.events = events;
    return poll_until(&pfd, 1, deadline);
}

} // namespace schemahostd::signals
