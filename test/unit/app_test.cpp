#include "app.hpp"
#include "exit_codes.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <stdexcept>

using namespace schemahostd;

namespace
{

struct Run {
    int rc;
    std::string out;
    std::string err;
};

Run run(const std::vector<std::string> &args, const Environment &env = {})
{
    std::ostringstream out;
    std::ostringstream err;
    const FileReader no_files = [](const std::string &) -> std::string {
        throw std::runtime_error("No such file or directory");
    };
    const int rc = run_app(args, env, no_files, out, err);
    return {rc, out.str(), err.str()};
}

} // namespace

TEST(App, VersionAndHelp)
{
    const auto v = run({"--version"});
    EXPECT_EQ(v.rc, kExitOk);
    EXPECT_EQ(v.out, std::string("schemahostd ") + SCHEMAHOSTD_VERSION + "\n");
    const auto h = run({"--help"});
    EXPECT_EQ(h.rc, kExitOk);
    EXPECT_NE(h.out.find("--interval"), std::string::npos);
}

TEST(App, BadConfigurationIsOneLineOnStderrAndExitCode2)
{
    for (const auto &args : std::vector<std::vector<std::string>>{{"--bogus"},
                                                                  {"--interval", "0"},
                                                                  {"--dsn", "nonsense"},
                                                                  {"--log-format", "xml"},
                                                                  {"--config", "/missing.conf"}}) {
        const auto r = run(args);
        EXPECT_EQ(r.rc, kExitBadConfig) << args[0];
        EXPECT_TRUE(r.out.empty());
        EXPECT_EQ(r.err.rfind("schemahostd: ", 0), 0U) << r.err;
        EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
        EXPECT_NE(r.err.find(args[0]), std::string::npos) << r.err;
    }
    EXPECT_EQ(run({}, {{"SCHEMAHOSTD_INTERVAL", "-1"}}).rc, kExitBadConfig);
}

TEST(App, OnceWithUnreachableServerIsOneLineAndExitCode1)
{
    const auto r = run(
        {"--once", "--dsn", "host=/nonexistent/schemahostd-test port=5 user=u password=secret1"});
    EXPECT_EQ(r.rc, kExitFailure);
    EXPECT_TRUE(r.out.empty());
    EXPECT_EQ(r.err.rfind("schemahostd: cannot connect to \"host=/nonexistent/schemahostd-test "
                          "port=5 dbname=u user=u\": ",
                          0),
              0U)
        << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
    EXPECT_EQ(r.err.find("secret1"), std::string::npos) << r.err;
}

TEST(App, StatusLine)
{
    ExtensionInfo info;
    info.sql_version = "0.1.0";
    info.library_version = "0.1.0";
    EXPECT_EQ(status_line("postgres", "/tmp/x:5432", info),
              std::string("schemahostd ") + SCHEMAHOSTD_VERSION +
                  ": ok: database \"postgres\" on /tmp/x:5432, schemahost 0.1.0 (library 0.1.0)");
}
