// Logging through spdlog, as text or as JSON lines. Messages carry structured
// fields (a JSON object) rather than values spliced into the text, so JSON
// consumers can filter on them. Nothing logged may contain a password: log
// targets through describe_target()/mask_dsn(), never raw connection strings.
#pragma once

#include "config.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <string>
#include <string_view>

namespace schemahostd
{

struct LogSettings {
    LogFormat format = LogFormat::text;
    std::string file; // empty: stderr
    LogLevel level = LogLevel::info;
};

LogSettings log_settings(const Config &config);

// Replaces the process-wide logger. Throws ConfigError naming --log-file when
// the file cannot be opened; the previous logger then stays in place. Until
// the first call, logs go to stderr as text at level info.
void configure_logging(const LogSettings &settings);

// An object (keys keep their order), or null for none.
using LogFields = nlohmann::ordered_json;

bool log_enabled(LogLevel level);
void log(LogLevel level, std::string_view msg, const LogFields &fields = nullptr);

inline void log_debug(std::string_view msg, const LogFields &fields = nullptr)
{
    log(LogLevel::debug, msg, fields);
}
inline void log_info(std::string_view msg, const LogFields &fields = nullptr)
{
    log(LogLevel::info, msg, fields);
}
inline void log_warn(std::string_view msg, const LogFields &fields = nullptr)
{
    log(LogLevel::warn, msg, fields);
}
inline void log_error(std::string_view msg, const LogFields &fields = nullptr)
{
    log(LogLevel::error, msg, fields);
}

// The formatting, separate from spdlog so it can be tested.
// {"ts":"2024-05-01T12:00:00.123Z","level":"info","msg":"...",<fields>}
std::string format_json_line(std::chrono::system_clock::time_point ts, LogLevel level,
                             std::string_view msg, const LogFields &fields);
// msg key=value key="value with spaces"
std::string format_text_message(std::string_view msg, const LogFields &fields);

} // namespace schemahostd
