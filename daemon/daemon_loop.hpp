// The long-running mode: watch every configured database until SIGTERM or
// SIGINT, reloading the configuration on SIGHUP.
#pragma once

#include "config.hpp"
#include "target.hpp"

#include <memory>
#include <random>
#include <string>
#include <vector>

namespace schemahostd {

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

    Config config_;
    std::vector<std::string> args_;
    Environment env_;
    FileReader read_file_;
    std::vector<std::unique_ptr<Target>> targets_;
    std::mt19937_64 seeds_;
};

} // namespace schemahostd
