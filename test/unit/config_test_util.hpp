// Helpers shared by the configuration tests (config_test.cpp,
// alert_config_test.cpp): parse_config() over an in-memory set of files.
#pragma once

#include "config.hpp"

#include <gtest/gtest.h>

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace schemahostd::test_util
{

// path -> contents; any other path cannot be read.
using Files = std::map<std::string, std::string>;

inline FileReader reader(const Files &files)
{
    return [files](const std::string &path) -> std::string {
        auto it = files.find(path);
        if (it == files.end())
            throw std::runtime_error("No such file or directory");
        return it->second;
    };
}

inline ParsedCommand parse(const std::vector<std::string> &args, const Environment &env = {},
                           const Files &files = {})
{
    return parse_config(args, env, reader(files));
}

inline Config config(const std::vector<std::string> &args, const Environment &env = {},
                     const Files &files = {})
{
    return parse(args, env, files).config;
}

// The error for a configuration that must be rejected; a test failure if it
// is accepted or the message is not one line.
inline ConfigError error(const std::vector<std::string> &args, const Environment &env = {},
                         const Files &files = {})
{
    try {
        parse(args, env, files);
    } catch (const ConfigError &e) {
        EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "must be one line";
        return e;
    }
    ADD_FAILURE() << "configuration was accepted";
    return ConfigError("", "");
}

} // namespace schemahostd::test_util
