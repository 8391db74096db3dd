#include "logging.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <unistd.h>

using namespace schemahostd;

TEST(Logging, JsonLineHasTimestampLevelMessageAndFields)
{
    const auto ts = std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000123));
    const std::string line = format_json_line(ts, LogLevel::warn, "cannot connect",
                                              {{"target", "host=/tmp"}, {"attempt", 3}});
    EXPECT_EQ(line.find('\n'), std::string::npos);
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j.at("ts"), "2023-11-14T22:13:20.123Z");
    EXPECT_EQ(j.at("level"), "warning");
    EXPECT_EQ(j.at("msg"), "cannot connect");
    EXPECT_EQ(j.at("target"), "host=/tmp");
    EXPECT_EQ(j.at("attempt"), 3);
    EXPECT_EQ(line.rfind("{\"ts\":", 0), 0U) << line;
}

TEST(Logging, JsonFieldsCannotOverwriteReservedKeys)
{
    const auto j =
        nlohmann::json::parse(format_json_line(std::chrono::system_clock::now(), LogLevel::info,
                                               "real", {{"msg", "fake"}, {"level", "x"}}));
    EXPECT_EQ(j.at("msg"), "real");
    EXPECT_EQ(j.at("level"), "info");
}

TEST(Logging, JsonSurvivesInvalidUtf8AndNewlines)
{
    const std::string line = format_json_line(std::chrono::system_clock::now(), LogLevel::error,
                                              "bad \xff bytes\nsecond line", {{"e", "\xc3"}});
    EXPECT_EQ(line.find('\n'), std::string::npos);
    EXPECT_NO_THROW(nlohmann::json::parse(line));
}

TEST(Logging, TextMessageQuotesWhereNeeded)
{
    EXPECT_EQ(format_text_message("hello", nullptr), "hello");
    EXPECT_EQ(format_text_message("connected", {{"db", "app"}, {"n", 2}, {"ok", true}}),
              "connected db=app n=2 ok=true");
    EXPECT_EQ(format_text_message("x", {{"error", "no such file"}, {"t", "a=b"}}),
              "x error=\"no such file\" t=\"a=b\"");
}

TEST(Logging, UnopenableLogFileIsAConfigErrorNamingTheOption)
{
    try {
        configure_logging({LogFormat::text, "/nonexistent/dir/schemahostd.log", LogLevel::info});
        FAIL();
    } catch (const ConfigError &e) {
        EXPECT_EQ(e.option(), "--log-file");
        EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/schemahostd.log"),
                  std::string::npos);
    }
}

TEST(Logging, WritesJsonLinesToTheFileAndHonoursTheLevel)
{
    char path[] = "/tmp/schemahostd-log-test-XXXXXX";
    const int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    close(fd);
    configure_logging({LogFormat::json, path, LogLevel::info});
    log_debug("hidden");
    log_info("shown", {{"k", "v"}});
    configure_logging({}); // back to stderr; also flushes and closes the file

    std::ifstream in(path);
    std::string line;
    std::vector<std::string> lines;
    while (std::getline(in, line))
        lines.push_back(line);
    std::remove(path);
    ASSERT_EQ(lines.size(), 1U);
    const auto j = nlohmann::json::parse(lines[0]);
    EXPECT_EQ(j.at("msg"), "shown");
    EXPECT_EQ(j.at("k"), "v");
}
