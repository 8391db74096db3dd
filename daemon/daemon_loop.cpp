#include "daemon_loop.hpp"

#include "exit_codes.hpp"
#include "logging.hpp"
#include "signals.hpp"
#include "version_check.hpp"

#include <algorithm>

namespace schemahostd {

DaemonLoop::DaemonLoop(Config config, std::vector<std::string> args, Environment env,
                       FileReader read_file)
    : config_(std::move(config)), args_(std::move(args)), env_(std::move(env)),
      read_file_(std::move(read_file)), seeds_(std::random_device{}())
{}

int DaemonLoop::run()
{
    signals::install();
    sync_targets();
    LogFields targets = LogFields::array();
    for (const auto &t : targets_)
        targets.push_back(t->label());
    log_info("schemahostd starting", {{"version", kDaemonVersion},
                                      {"targets", targets},
                                      {"interval_s", format_seconds(config_.interval)},
                                      {"full_interval_s", format_seconds(config_.full_interval)}});

    while (!signals::shutdown_requested()) {
        if (signals::take_reload_request())
            reload();
        for (auto &target : targets_) {
            if (signals::shutdown_requested())
                break;
            if (target->next_due() <= Target::Clock::now())
                target->step(config_);
        }
        if (signals::shutdown_requested() || signals::reload_pending())
            continue;
        auto wake = Target::Clock::now() + config_.interval;
        for (const auto &target : targets_)
            wake = std::min(wake, target->next_due());
        // Signals are blocked until this wait, so one that arrived since the
        // checks above ends it at once.
        signals::wait(-1, 0, wake);
    }

    log_info("schemahostd stopping", {{"reason", "signal"}});
    targets_.clear(); // closes the connections
    return kExitOk;
}

void DaemonLoop::reload()
{
    Config fresh;
    try {
        fresh = parse_config(args_, env_, read_file_).config;
        // Always: this also reopens a log file that logrotate moved away.
        configure_logging(log_settings(fresh));
    } catch (const ConfigError &e) {
        // SIGHUP is also logrotate's signal: reopen the current log file anyway.
        try {
            configure_logging(log_settings(config_));
        } catch (const ConfigError &) {
            // Keep the logger we have; the error below still goes somewhere.
        }
        log_error("configuration reload failed; keeping the previous configuration",
                  {{"error", e.what()}, {"option", e.option()}});
        return;
    }
    // The mode is chosen at startup; a reload cannot turn the daemon into --once.
    fresh.once = false;
    config_ = std::move(fresh);
    sync_targets();
    for (auto &target : targets_)
        target->reschedule(config_);
    LogFields targets = LogFields::array();
    for (const auto &t : targets_)
        targets.push_back(t->label());
    log_info("configuration reloaded", {{"targets", targets},
                                        {"interval_s", format_seconds(config_.interval)},
                                        {"full_interval_s", format_seconds(config_.full_interval)}});
}

void DaemonLoop::sync_targets()
{
    std::vector<std::string> wanted = config_.dsns;
    if (wanted.empty())
        wanted.emplace_back(); // libpq's defaults

    // Keep the connections of databases still configured; drop the others.
    std::vector<std::unique_ptr<Target>> next;
    for (const auto &dsn : wanted) {
        auto same = std::find_if(targets_.begin(), targets_.end(),
                                 [&](const auto &t) { return t && t->dsn() == dsn; });
        if (same != targets_.end()) {
            next.push_back(std::move(*same));
        } else {
            next.push_back(std::make_unique<Target>(dsn, BackoffPolicy{}, seeds_()));
        }
    }
    for (const auto &old : targets_)
        if (old)
            log_info("no longer watching", {{"target", old->label()}});
    targets_ = std::move(next);
}

} // namespace schemahostd
