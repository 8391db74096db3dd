#include "logging.hpp"

#include <fmt/format.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>

#include <fcntl.h>
#include <unistd.h>

namespace schemahostd
{

namespace
{

spdlog::level::level_enum to_spdlog(LogLevel level)
{
    switch (level) {
    case LogLevel::trace:
        return spdlog::level::trace;
    case LogLevel::debug:
        return spdlog::level::debug;
    case LogLevel::info:
        return spdlog::level::info;
    case LogLevel::warn:
        return spdlog::level::warn;
    case LogLevel::error:
        return spdlog::level::err;
    case LogLevel::critical:
        return spdlog::level::critical;
    case LogLevel::off:
        return spdlog::level::off;
    }
    return spdlog::level::info;
}

const char *level_name(LogLevel level)
{
    return level == LogLevel::warn ? "warning" : to_string(level);
}

// Our own logger, not spdlog's global registry: a reload swaps it atomically
// from our point of view, and a failed swap leaves the old one untouched.
std::shared_ptr<spdlog::logger> g_logger;
LogFormat g_format = LogFormat::text;

std::shared_ptr<spdlog::logger> make_logger(const LogSettings &settings)
{
    spdlog::sink_ptr sink;
    if (settings.file.empty()) {
        sink = std::make_shared<spdlog::sinks::stderr_sink_st>();
    } else {
        // Open it ourselves first: for errno's reason in the message, and
        // because spdlog would silently create missing parent directories.
        const int fd =
            ::open(settings.file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0)
            throw ConfigError("--log-file", fmt::format("cannot open --log-file \"{}\": {}",
                                                        settings.file, std::strerror(errno)));
        ::close(fd);
        try {
            sink = std::make_shared<spdlog::sinks::basic_file_sink_st>(settings.file, false);
        } catch (const spdlog::spdlog_ex &e) {
            throw ConfigError("--log-file", fmt::format("cannot open --log-file \"{}\": {}",
                                                        settings.file, e.what()));
        }
    }
    auto logger = std::make_shared<spdlog::logger>("schemahostd", std::move(sink));
    // JSON lines are complete, timestamp included, when they reach spdlog.
    logger->set_pattern(settings.format == LogFormat::json ? "%v" : "%Y-%m-%d %H:%M:%S.%e %l: %v");
    logger->set_level(to_spdlog(settings.level));
    // Few lines, and each must survive a crash or an abrupt stop.
    logger->flush_on(spdlog::level::trace);
    return logger;
}

spdlog::logger &logger()
{
    if (!g_logger)
        g_logger = make_logger(LogSettings{});
    return *g_logger;
}

std::string field_text(const LogFields &value)
{
    if (!value.is_string())
        return value.dump(-1, ' ', false, LogFields::error_handler_t::replace);
    const auto &s = value.get_ref<const std::string &>();
    const bool plain = !s.empty() && s.find_first_of(" \t\r\n\"=\\") == std::string::npos;
    return plain ? s : value.dump(-1, ' ', false, LogFields::error_handler_t::replace);
}

} // namespace

LogSettings log_settings(const Config &config)
{
    return {config.log_format, config.log_file, config.log_level};
}

void configure_logging(const LogSettings &settings)
{
    auto fresh = make_logger(settings);
    if (g_logger)
        g_logger->flush();
    g_logger = std::move(fresh);
    g_format = settings.format;
}

bool log_enabled(LogLevel level)
{
    return logger().should_log(to_spdlog(level));
}

void log(LogLevel level, std::string_view msg, const LogFields &fields)
{
    if (!log_enabled(level))
        return;
    const std::string line =
        g_format == LogFormat::json
            ? format_json_line(std::chrono::system_clock::now(), level, msg, fields)
            : format_text_message(msg, fields);
    try {
        logger().log(to_spdlog(level), "{}", line);
    } catch (...) {
        // A full disk must not take the daemon down.
    }
}

std::string format_json_line(std::chrono::system_clock::time_point ts, LogLevel level,
                             std::string_view msg, const LogFields &fields)
{
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(ts.time_since_epoch());
    const std::time_t secs = static_cast<std::time_t>(ms.count() / 1000);
    std::tm utc{};
    gmtime_r(&secs, &utc);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);

    LogFields line;
    line["ts"] = fmt::format("{}.{:03}Z", buf, ms.count() % 1000);
    line["level"] = level_name(level);
    line["msg"] = std::string(msg);
    if (fields.is_object()) {
        for (const auto &[key, value] : fields.items()) {
            if (!line.contains(key)) // fields never overwrite ts/level/msg
                line[key] = value;
        }
    }
    // Server messages may not be valid UTF-8; replace rather than throw.
    return line.dump(-1, ' ', false, LogFields::error_handler_t::replace);
}

std::string format_text_message(std::string_view msg, const LogFields &fields)
{
    std::string out(msg);
    if (fields.is_object()) {
        for (const auto &[key, value] : fields.items())
            out += fmt::format(" {}={}", key, field_text(value));
    }
    return out;
}

} // namespace schemahostd
