// Runtime configuration: what the options mean, where they come from
// (command line > config file > SCHEMAHOSTD_* environment > defaults) and how
// they are validated. Parsing is a pure function of its inputs so that every
// case can be unit-tested without touching the real environment or disk.
#pragma once

#include "alerts/alert_options.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace schemahostd
{

enum class LogFormat { text, json };
enum class LogLevel { trace, debug, info, warn, error, critical, off };

// Every setting of the daemon. The member initialisers are the defaults and
// the only place they are written down: --help prints them from a
// default-constructed Config. To add an option: add a member here and a row
// to the option table in config.cpp.
struct Config {
    // libpq connection strings, one per database to watch. Empty means a
    // single connection with libpq's defaults (PG* variables, ~/.pgpass).
    std::vector<std::string> dsns;
    std::string config_file; // empty: no config file
    bool once = false;
    std::chrono::milliseconds interval{2000};
    std::chrono::milliseconds full_interval{600000};
    // Watch every database of each --dsn's instance that has the extension,
    // found again every discover_interval.
    bool discover = false;
    std::chrono::milliseconds discover_interval{60000};
    LogFormat log_format = LogFormat::text;
    std::string log_file; // empty: stderr
    LogLevel log_level = LogLevel::info;
    alerts::AlertOptions alerts; // --smtp-*, --operator-email, --webhook-*, --alert-*
    // Events older than this many days whose deliveries are all finished are
    // deleted once per full pass; 0 keeps them forever.
    int event_retention_days = 30;
};

enum class Action { run, help, version };

struct ParsedCommand {
    Action action = Action::run;
    Config config;
};

// Bad configuration. what() is one line meant for the user (without the
// "schemahostd: " prefix); option() names the offending option as the
// canonical "--name", or the environment variable for unknown variables.
class ConfigError : public std::runtime_error
{
  public:
    ConfigError(std::string option, const std::string &message)
        : std::runtime_error(message), option_(std::move(option))
    {
    }
    const std::string &option() const noexcept { return option_; }

  private:
    std::string option_;
};

using Environment = std::map<std::string, std::string>;

// Returns a file's contents; throws std::exception with the reason (e.g.
// "No such file or directory") when it cannot be read.
using FileReader = std::function<std::string(const std::string &path)>;

// Parses args (without argv[0]), the environment and the config file named by
// --config or SCHEMAHOSTD_CONFIG (read through read_file), and reads the
// secret files (--smtp-password-file, --webhook-secret-file) into
// config.alerts. Throws ConfigError.
ParsedCommand parse_config(const std::vector<std::string> &args, const Environment &env,
                           const FileReader &read_file);

struct ReloadedConfig {
    Config config;
    // Secret files that could not be read: their previous secret stays in use.
    std::vector<alerts::SecretFileProblem> kept_secrets;
};

// parse_config() on reload (SIGHUP), given the configuration in force. Reads
// everything again, the secret files included, whether or not their paths
// changed. A secret file that cannot be read keeps the previous secret of its
// kind, if there is one, and is listed in kept_secrets; without one it is an
// error as at startup. Throws ConfigError.
ReloadedConfig reload_config(const std::vector<std::string> &args, const Environment &env,
                             const FileReader &read_file, const Config &previous);

std::string help_text();
std::string version_text(); // "schemahostd 0.1.0"

// The real FileReader.
std::string read_file_contents(const std::string &path);
// A snapshot of a process environment (e.g. environ).
Environment environment_from(const char *const *envp);

// Seconds as the user would write them: "2", "0.5".
std::string format_seconds(std::chrono::milliseconds d);
const char *to_string(LogFormat f);
const char *to_string(LogLevel l);

} // namespace schemahostd
