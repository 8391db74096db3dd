// The long-running mode: watch every configured (or discovered) database
// until SIGTERM or SIGINT, reloading the configuration on SIGHUP and waking
// early on NOTIFY schemahost_config.
#pragma once

#include "backoff.hpp"
#include "config.hpp"
#include "target.hpp"

#include <chrono>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace schemahostd
{

// (dsn, database override) of every database to watch.
using TargetKey = std::pair<std::string, std::string>;

class DaemonLoop
{
  public:
    // args/env/read_file are kept to parse the configuration again on SIGHUP,
    // exactly as at startup.
    DaemonLoop(Config config, std::vector<std::string> args, Environment env, FileReader read_file);

    // Returns the exit code: kExitOk after a requested shutdown.
    int run();

  private:
    void reload();
    void sync_targets();
    void discover();
    void wait_until(Target::Clock::time_point wake);

    Config config_;
    std::vector<std::string> args_;
    Environment env_;
    FileReader read_file_;
    std::vector<std::unique_ptr<Target>> targets_;
    std::mt19937_64 seeds_;
    // --discover: what was found last, per seed dsn, and when to look again.
    std::vector<TargetKey> discovered_;
    Target::Clock::time_point next_discovery_;
    Backoff discovery_backoff_;
};

// The targets for a configuration: one per --dsn, or with --discover one per
// discovered database.
std::vector<TargetKey> wanted_targets(const Config &config,
                                      const std::vector<TargetKey> &discovered);

} // namespace schemahostd
