#include "daemon_loop.hpp"

#include "alerts/alert_dispatcher.hpp"
#include "discovery.hpp"
#include "dsn.hpp"
#include "exit_codes.hpp"
#include "logging.hpp"
#include "signals.hpp"
#include "version_check.hpp"

#include <algorithm>

namespace schemahostd
{

std::vector<TargetKey> wanted_targets(const Config &config,
                                      const std::vector<TargetKey> &discovered)
{
    if (config.discover)
        return discovered;
    std::vector<TargetKey> wanted;
    for (const auto &dsn : config.dsns)
        wanted.emplace_back(dsn, std::string());
    if (wanted.empty())
        wanted.emplace_back(); // libpq's defaults
    return wanted;
}

DaemonLoop::DaemonLoop(Config config, std::vector<std::string> args, Environment env,
                       FileReader read_file)
    : config_(std::move(config)), args_(std::move(args)), env_(std::move(env)),
      read_file_(std::move(read_file)), seeds_(std::random_device{}()),
      next_discovery_(Target::Clock::now()), discovery_backoff_(BackoffPolicy{}, seeds_())
{
}

int DaemonLoop::run()
{
    signals::install();
    if (config_.discover)
        discover();
    sync_targets();
    LogFields targets = LogFields::array();
    for (const auto &t : targets_)
        targets.push_back(t->label());
    log_info("schemahostd starting", {{"version", kDaemonVersion},
                                      {"targets", targets},
                                      {"discover", config_.discover},
                                      {"interval_s", format_seconds(config_.interval)},
                                      {"full_interval_s", format_seconds(config_.full_interval)}});

    while (!signals::shutdown_requested()) {
        if (signals::take_reload_request())
            reload();
        if (config_.discover && next_discovery_ <= Target::Clock::now()) {
            discover();
            sync_targets();
        }
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
        if (config_.discover)
            wake = std::min(wake, next_discovery_);
        wait_until(wake);
    }

    // Before the connections close: no sender thread outlives the loop.
    const std::size_t aborted = alerts::shutdown_alerts();
    log_info("schemahostd stopping", {{"reason", "signal"}, {"alerts_aborted", aborted}});
    targets_.clear(); // closes the connections, releasing the active locks
    return kExitOk;
}

void DaemonLoop::wait_until(Target::Clock::time_point wake)
{
    std::vector<int> fds;
    for (const auto &target : targets_)
        fds.push_back(target->socket());
    std::vector<bool> ready;
    // Signals are blocked until this wait, so one that arrived since the
    // checks above ends it at once.
    if (signals::wait_readable(fds, wake, ready) != signals::Wake::ready)
        return;
    for (std::size_t i = 0; i < targets_.size() && i < ready.size(); ++i)
        if (ready[i])
            targets_[i]->on_readable(config_);
}

void DaemonLoop::discover()
{
    std::vector<std::string> seeds = config_.dsns;
    if (seeds.empty())
        seeds.emplace_back();
    std::vector<TargetKey> found;
    bool failed = false;
    for (const auto &seed : seeds) {
        try {
            for (auto &db : discover_databases(seed, PgTimeouts{}, signals::shutdown_requested))
                found.emplace_back(seed, std::move(db));
        } catch (const PgError &e) {
            if (e.kind() == PgError::Kind::interrupted)
                return;
            failed = true;
            // Keep watching what this seed gave last time.
            for (const auto &old : discovered_)
                if (old.first == seed)
                    found.push_back(old);
            const auto delay = discovery_backoff_.next();
            log(discovery_backoff_.failures() == 1 ? LogLevel::error : LogLevel::warn,
                "discovery failed",
                {{"seed", seed.empty() ? "(libpq defaults)" : mask_dsn(seed)},
                 {"error", e.what()},
                 {"retry_in_s", static_cast<double>(delay.count()) / 1000.0}});
            next_discovery_ = Target::Clock::now() + delay;
        }
    }
    if (!failed) {
        discovery_backoff_.reset();
        next_discovery_ = Target::Clock::now() + config_.discover_interval;
    }
    if (found != discovered_) {
        LogFields dbs = LogFields::array();
        for (const auto &f : found)
            dbs.push_back(f.second);
        log_info("databases discovered", {{"databases", dbs}});
    }
    discovered_ = std::move(found);
}

void DaemonLoop::reload()
{
    // Reads the secret files again too, even at unchanged paths: rotating a
    // secret is rewriting its file and sending SIGHUP.
    ReloadedConfig reloaded;
    try {
        reloaded = reload_config(args_, env_, read_file_, config_);
        // Always: this also reopens a log file that logrotate moved away.
        configure_logging(log_settings(reloaded.config));
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
    Config &fresh = reloaded.config;
    // Path and reason only: the secret itself is never logged.
    for (const auto &problem : reloaded.kept_secrets)
        log_error("cannot read secret file; keeping the previous secret",
                  {{"option", problem.option},
                   {"file", problem.path},
                   {"error", problem.reason},
                   {"hint", "alerts are still sent with the secret read before; fix the file "
                            "and reload again"}});
    LogFields secrets_read = LogFields::array();
    for (const auto &[option, path] :
         {std::make_pair("--smtp-password-file", fresh.alerts.smtp_password_file),
          std::make_pair("--webhook-secret-file", fresh.alerts.webhook_secret_file)}) {
        const bool kept = std::any_of(reloaded.kept_secrets.begin(), reloaded.kept_secrets.end(),
                                      [&](const auto &p) { return p.option == option; });
        if (!path.empty() && !kept)
            secrets_read.push_back(option);
    }
    // The mode is chosen at startup; a reload cannot turn the daemon into --once.
    fresh.once = false;
    const bool rediscover = fresh.discover && (!config_.discover || fresh.dsns != config_.dsns);
    config_ = std::move(fresh);
    if (rediscover)
        discover();
    else if (config_.discover)
        next_discovery_ =
            std::min(next_discovery_, Target::Clock::now() + config_.discover_interval);
    sync_targets();
    for (auto &target : targets_)
        target->reschedule(config_);
    LogFields targets = LogFields::array();
    for (const auto &t : targets_)
        targets.push_back(t->label());
    log_info("configuration reloaded", {{"targets", targets},
                                        {"interval_s", format_seconds(config_.interval)},
                                        {"full_interval_s", format_seconds(config_.full_interval)},
                                        {"secret_files_read", secrets_read}});
}

void DaemonLoop::sync_targets()
{
    // Keep the connections of databases still wanted; drop the others.
    std::vector<std::unique_ptr<Target>> next;
    for (const auto &[dsn, dbname] : wanted_targets(config_, discovered_)) {
        auto same = std::find_if(targets_.begin(), targets_.end(), [&](const auto &t) {
            return t && t->dsn() == dsn && t->dbname_override() == dbname;
        });
        if (same != targets_.end()) {
            next.push_back(std::move(*same));
        } else {
            next.push_back(std::make_unique<Target>(dsn, dbname, BackoffPolicy{}, seeds_()));
            if (config_.discover)
                log_info("watching", {{"target", next.back()->label()}});
        }
    }
    for (const auto &old : targets_)
        if (old)
            log_info("no longer watching", {{"target", old->label()}});
    targets_ = std::move(next);
}

} // namespace schemahostd
