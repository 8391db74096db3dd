#include "config.hpp"
#include "config_test_util.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

using namespace schemahostd;
using std::chrono::milliseconds;

namespace
{

using test_util::config;
using test_util::error;
using test_util::Files;
using test_util::parse;

bool contains(const std::string &haystack, const std::string &needle)
{
    return haystack.find(needle) != std::string::npos;
}

} // namespace

// --- defaults and sources -------------------------------------------------

TEST(Config, Defaults)
{
    const auto parsed = parse({});
    EXPECT_EQ(parsed.action, Action::run);
    const Config &c = parsed.config;
    EXPECT_TRUE(c.dsns.empty());
    EXPECT_TRUE(c.config_file.empty());
    EXPECT_FALSE(c.once);
    EXPECT_EQ(c.interval, milliseconds(2000));
    EXPECT_EQ(c.full_interval, milliseconds(600000));
    EXPECT_EQ(c.log_format, LogFormat::text);
    EXPECT_TRUE(c.log_file.empty());
    EXPECT_EQ(c.log_level, LogLevel::info);
}

TEST(Config, EveryOptionFromTheCommandLine)
{
    const Config c = config({"--dsn", "host=a", "--dsn=dbname=b", "--once", "--interval", "0.5",
                             "--full-interval=60", "--log-format", "json", "--log-file", "/tmp/l",
                             "--log-level", "debug"});
    EXPECT_EQ(c.dsns, (std::vector<std::string>{"host=a", "dbname=b"}));
    EXPECT_TRUE(c.once);
    EXPECT_EQ(c.interval, milliseconds(500));
    EXPECT_EQ(c.full_interval, milliseconds(60000));
    EXPECT_EQ(c.log_format, LogFormat::json);
    EXPECT_EQ(c.log_file, "/tmp/l");
    EXPECT_EQ(c.log_level, LogLevel::debug);
}

TEST(Config, EveryOptionFromTheEnvironment)
{
    const Config c = config({}, {{"SCHEMAHOSTD_DSN", "host=e"},
                                 {"SCHEMAHOSTD_ONCE", "yes"},
                                 {"SCHEMAHOSTD_INTERVAL", "3"},
                                 {"SCHEMAHOSTD_FULL_INTERVAL", "30"},
                                 {"SCHEMAHOSTD_LOG_FORMAT", "json"},
                                 {"SCHEMAHOSTD_LOG_FILE", "/tmp/e"},
                                 {"SCHEMAHOSTD_LOG_LEVEL", "warn"},
                                 {"PGHOST", "unrelated"},
                                 {"PATH", "/bin"}});
    EXPECT_EQ(c.dsns, std::vector<std::string>{"host=e"});
    EXPECT_TRUE(c.once);
    EXPECT_EQ(c.interval, milliseconds(3000));
    EXPECT_EQ(c.full_interval, milliseconds(30000));
    EXPECT_EQ(c.log_format, LogFormat::json);
    EXPECT_EQ(c.log_file, "/tmp/e");
    EXPECT_EQ(c.log_level, LogLevel::warn);
}

TEST(Config, EveryOptionFromTheConfigFile)
{
    const Files files = {{"/etc/s.conf", "# comment\n"
                                         "; another comment\n"
                                         "\n"
                                         "dsn = host=/tmp port=5432 password=a#b\n"
                                         "dsn = postgresql://u@h/db\n"
                                         "once = true\n"
                                         "interval = 7\n"
                                         "full_interval = 70\n"
                                         "  log-format=json  \r\n"
                                         "log-file = \"/var/log/with space.log\"\n"
                                         "log-level = ERROR\n"}};
    const Config c = config({"--config", "/etc/s.conf"}, {}, files);
    EXPECT_EQ(c.config_file, "/etc/s.conf");
    // '#' inside a value is data, not a comment: passwords may contain it.
    EXPECT_EQ(c.dsns, (std::vector<std::string>{"host=/tmp port=5432 password=a#b",
                                                "postgresql://u@h/db"}));
    EXPECT_TRUE(c.once);
    EXPECT_EQ(c.interval, milliseconds(7000));
    EXPECT_EQ(c.full_interval, milliseconds(70000));
    EXPECT_EQ(c.log_format, LogFormat::json);
    EXPECT_EQ(c.log_file, "/var/log/with space.log");
    EXPECT_EQ(c.log_level, LogLevel::error);
}

TEST(Config, PrecedenceCommandLineOverFileOverEnvironmentOverDefault)
{
    const Files files = {{"f.conf", "interval = 20\nlog-level = debug\nlog-format = json\n"}};
    const Environment env = {{"SCHEMAHOSTD_INTERVAL", "30"},
                             {"SCHEMAHOSTD_LOG_LEVEL", "error"},
                             {"SCHEMAHOSTD_LOG_FORMAT", "text"},
                             {"SCHEMAHOSTD_FULL_INTERVAL", "40"}};
    const Config c = config({"--config", "f.conf", "--interval", "10"}, env, files);
    EXPECT_EQ(c.interval, milliseconds(10000));      // command line beats file and environment
    EXPECT_EQ(c.log_level, LogLevel::debug);         // file beats environment
    EXPECT_EQ(c.log_format, LogFormat::json);        // file beats environment
    EXPECT_EQ(c.full_interval, milliseconds(40000)); // environment beats default
    EXPECT_EQ(c.log_file, "");                       // default
}

TEST(Config, RepeatedDsnsFromAHigherSourceReplaceRatherThanMerge)
{
    const Files files = {{"f.conf", "dsn = host=file1\ndsn = host=file2\n"}};
    const Environment env = {{"SCHEMAHOSTD_DSN", "host=env"}};
    EXPECT_EQ(config({"--config", "f.conf", "--dsn", "host=cli"}, env, files).dsns,
              std::vector<std::string>{"host=cli"});
    EXPECT_EQ(config({"--config", "f.conf"}, env, files).dsns,
              (std::vector<std::string>{"host=file1", "host=file2"}));
    EXPECT_EQ(config({}, env, files).dsns, std::vector<std::string>{"host=env"});
}

TEST(Config, ConfigFileCanBeNamedInTheEnvironment)
{
    const Files files = {{"env.conf", "interval = 9\n"}, {"cli.conf", "interval = 8\n"}};
    EXPECT_EQ(config({}, {{"SCHEMAHOSTD_CONFIG", "env.conf"}}, files).interval, milliseconds(9000));
    EXPECT_EQ(
        config({"--config", "cli.conf"}, {{"SCHEMAHOSTD_CONFIG", "env.conf"}}, files).interval,
        milliseconds(8000));
}

TEST(Config, EmptyDsnMeansLibpqDefaults)
{
    EXPECT_EQ(config({"--dsn", ""}).dsns, std::vector<std::string>{""});
}

TEST(Config, HelpAndVersionWinOverEverythingElse)
{
    EXPECT_EQ(parse({"--help"}).action, Action::help);
    EXPECT_EQ(parse({"-h"}).action, Action::help);
    EXPECT_EQ(parse({"--interval", "0", "--help"}).action, Action::help);
    EXPECT_EQ(parse({"--version"}).action, Action::version);
    EXPECT_EQ(version_text(), std::string("schemahostd ") + SCHEMAHOSTD_VERSION);
}

TEST(Config, HelpDocumentsEveryOptionWithItsDefault)
{
    const std::string help = help_text();
    for (const char *name : {"--dsn", "--config", "--once", "--interval", "--full-interval",
                             "--log-format", "--log-file", "--log-level"}) {
        auto start = help.find(std::string("\n  ") + name + " ");
        if (start == std::string::npos)
            start = help.find(std::string("\n  ") + name + "\n");
        ASSERT_NE(start, std::string::npos) << name;
        const auto end = help.find("\n  -", start + 1);
        const std::string entry = help.substr(start, end - start);
        EXPECT_TRUE(contains(entry, "Default:")) << entry;
    }
    EXPECT_TRUE(contains(help, "--help"));
    EXPECT_TRUE(contains(help, "--version"));
    EXPECT_TRUE(contains(help, "Default: 2."));
    EXPECT_TRUE(contains(help, "Default: 600."));
    EXPECT_TRUE(contains(help, "Default: text."));
    EXPECT_TRUE(contains(help, "Default: stderr."));
    EXPECT_TRUE(contains(help, "Default: info."));
    EXPECT_TRUE(contains(help, "Default: off."));
    EXPECT_TRUE(contains(help, "SCHEMAHOSTD_DSN"));
    EXPECT_TRUE(contains(help, "SCHEMAHOSTD_FULL_INTERVAL"));
    EXPECT_TRUE(contains(help, "Exit status"));
    std::istringstream lines(help);
    std::string line;
    while (std::getline(lines, line)) {
        EXPECT_LE(line.size(), 80U) << line;
        EXPECT_TRUE(line.empty() || line.back() != ' ') << "trailing space: " << line;
    }
}

// --- bad configuration: every case names the option ------------------------

TEST(ConfigErrors, UnknownCommandLineOption)
{
    const auto e = error({"--bogus"});
    EXPECT_EQ(e.option(), "--bogus");
    EXPECT_TRUE(contains(e.what(), "--bogus"));
}

TEST(ConfigErrors, AbbreviationsAreNotGuessed)
{
    EXPECT_EQ(error({"--int", "5"}).option(), "--int");
}

TEST(ConfigErrors, MissingValue)
{
    const auto e = error({"--interval"});
    EXPECT_EQ(e.option(), "--interval");
    EXPECT_TRUE(contains(e.what(), "--interval"));
}

TEST(ConfigErrors, SwitchWithValue)
{
    EXPECT_EQ(error({"--once=yes"}).option(), "--once");
}

TEST(ConfigErrors, RepeatedSingleValueOption)
{
    EXPECT_EQ(error({"--interval", "1", "--interval", "2"}).option(), "--interval");
}

TEST(ConfigErrors, PositionalArgument)
{
    EXPECT_TRUE(contains(error({"once"}).what(), "\"once\""));
    // A connection string without --dsn is not echoed: it may hold a password.
    const auto e = error({"host=x password=hunter2"});
    EXPECT_FALSE(contains(e.what(), "hunter2"));
    EXPECT_TRUE(contains(e.what(), "--dsn"));
}

TEST(ConfigErrors, IntervalMustBePositive)
{
    for (const char *bad : {"0", "-1", "0.0", "abc", "", "inf", "nan", "1e3", "0x10", "1.2.3",
                            "0.0001", "100000000"}) {
        const auto e = error({"--interval", bad});
        EXPECT_EQ(e.option(), "--interval") << bad;
        EXPECT_TRUE(contains(e.what(), "--interval")) << e.what();
    }
    EXPECT_EQ(error({"--full-interval", "0"}).option(), "--full-interval");
}

TEST(ConfigErrors, BadValueInEnvironmentNamesTheVariable)
{
    const auto e = error({}, {{"SCHEMAHOSTD_INTERVAL", "0"}});
    EXPECT_EQ(e.option(), "--interval");
    EXPECT_TRUE(contains(e.what(), "SCHEMAHOSTD_INTERVAL")) << e.what();
}

TEST(ConfigErrors, BadValueInFileNamesFileAndLine)
{
    const auto e = error({"--config", "c.conf"}, {}, {{"c.conf", "# x\ninterval = -2\n"}});
    EXPECT_EQ(e.option(), "--interval");
    EXPECT_TRUE(contains(e.what(), "\"c.conf\" line 2")) << e.what();
}

TEST(ConfigErrors, BadLogFormatAndLevel)
{
    const auto f = error({"--log-format", "xml"});
    EXPECT_EQ(f.option(), "--log-format");
    EXPECT_TRUE(contains(f.what(), "text or json"));
    EXPECT_EQ(error({"--log-level", "loud"}).option(), "--log-level");
    EXPECT_EQ(error({}, {{"SCHEMAHOSTD_ONCE", "maybe"}}).option(), "--once");
}

TEST(ConfigErrors, MalformedDsnNamesTheOptionWithoutEchoingIt)
{
    const auto e = error({"--dsn", "host"});
    EXPECT_EQ(e.option(), "--dsn");
    EXPECT_TRUE(contains(e.what(), "--dsn")) << e.what();
    EXPECT_TRUE(contains(e.what(), "malformed")) << e.what();

    for (const char *dsn : {"host=x password=hunter2 oops", "password='hunter2",
                            "postgresql://u:hunter2@[::1/db", "host=x password=hun ter2"}) {
        const auto p = error({"--dsn", dsn});
        EXPECT_EQ(p.option(), "--dsn") << dsn;
        EXPECT_FALSE(contains(p.what(), "hunter2")) << p.what();
        EXPECT_FALSE(contains(p.what(), "ter2")) << p.what();
    }
    const auto second = error({"--dsn", "host=ok", "--dsn", "bad"});
    EXPECT_EQ(second.option(), "--dsn");
    EXPECT_EQ(error({}, {{"SCHEMAHOSTD_DSN", "bad"}}).option(), "--dsn");
}

TEST(ConfigErrors, UnreadableConfigFile)
{
    const auto e = error({"--config", "/nope.conf"});
    EXPECT_EQ(e.option(), "--config");
    EXPECT_TRUE(contains(e.what(), "cannot read --config file \"/nope.conf\""));
    EXPECT_TRUE(contains(e.what(), "No such file or directory"));
}

TEST(ConfigErrors, RealFileReaderReportsWhy)
{
    try {
        parse_config({"--config", "/nonexistent/schemahostd.conf"}, {}, read_file_contents);
        FAIL();
    } catch (const ConfigError &e) {
        EXPECT_EQ(e.option(), "--config");
        EXPECT_TRUE(contains(e.what(), "No such file or directory")) << e.what();
    }
    try {
        parse_config({"--config", "/"}, {}, read_file_contents);
        FAIL();
    } catch (const ConfigError &e) {
        EXPECT_TRUE(contains(e.what(), "Is a directory")) << e.what();
    }
}

TEST(ConfigErrors, UnknownKeyInConfigFile)
{
    const auto e = error({"--config", "c"}, {}, {{"c", "interval = 2\nintervall = 3\n"}});
    EXPECT_EQ(e.option(), "intervall");
    EXPECT_TRUE(contains(e.what(), "line 2")) << e.what();
    // --help/--version/--config make no sense inside a file.
    EXPECT_EQ(error({"--config", "c"}, {}, {{"c", "config = other\n"}}).option(), "config");
    EXPECT_EQ(error({"--config", "c"}, {}, {{"c", "[smtp]\nhost = x\n"}}).option(), "smtp.host");
}

TEST(ConfigErrors, ConfigFileSyntax)
{
    EXPECT_EQ(error({"--config", "c"}, {}, {{"c", "interval 2\n"}}).option(), "--config");
    EXPECT_EQ(error({"--config", "c"}, {}, {{"c", "= 2\n"}}).option(), "--config");
    EXPECT_EQ(error({"--config", "c"}, {}, {{"c", "[]\n"}}).option(), "--config");
    const auto dup = error({"--config", "c"}, {}, {{"c", "interval = 2\n\ninterval = 3\n"}});
    EXPECT_EQ(dup.option(), "--interval");
    EXPECT_TRUE(contains(dup.what(), "line 3")) << dup.what();
    EXPECT_TRUE(contains(dup.what(), "line 1")) << dup.what();
}

TEST(ConfigErrors, UnknownEnvironmentVariable)
{
    const auto e = error({}, {{"SCHEMAHOSTD_INTERVALL", "2"}});
    EXPECT_EQ(e.option(), "SCHEMAHOSTD_INTERVALL");
    EXPECT_TRUE(contains(e.what(), "SCHEMAHOSTD_INTERVALL"));
    EXPECT_EQ(error({}, {{"SCHEMAHOSTD_HELP", "1"}}).option(), "SCHEMAHOSTD_HELP");
}

TEST(Config, FormatSeconds)
{
    EXPECT_EQ(format_seconds(milliseconds(2000)), "2");
    EXPECT_EQ(format_seconds(milliseconds(500)), "0.5");
    EXPECT_EQ(format_seconds(milliseconds(1250)), "1.25");
    EXPECT_EQ(format_seconds(milliseconds(1)), "0.001");
}

TEST(Config, EnvironmentSnapshot)
{
    const char *envp[] = {"A=1", "B=x=y", "NOEQUALS", nullptr};
    const Environment env = environment_from(envp);
    EXPECT_EQ(env.at("A"), "1");
    EXPECT_EQ(env.at("B"), "x=y");
    EXPECT_EQ(env.count("NOEQUALS"), 0U);
}

TEST(Config, ExampleFileParsesAndEveryOptionInItIsReal)
{
    const std::string path =
        std::string(SCHEMAHOSTD_SOURCE_DIR) + "/daemon/schemahostd.conf.example";
    const std::string text = read_file_contents(path);
    EXPECT_NO_THROW(parse_config({"--config", path}, {}, read_file_contents));

    // Uncomment every setting: each must still be accepted.
    std::istringstream in(text);
    std::string line;
    std::string uncommented;
    while (std::getline(in, line))
        if (line.size() > 1 && line[0] == '#' && line[1] != ' ' && line[1] != '#' &&
            line.find(" = ") != std::string::npos)
            uncommented += line.substr(1) + "\n";
    EXPECT_TRUE(contains(uncommented, "interval = 2")) << uncommented;
    // The secret files it names, as the daemon would find them.
    const Config c = config({"--config", "x"}, {},
                            {{"x", uncommented},
                             {"/etc/schemahost/smtp-password", "pw\n"},
                             {"/etc/schemahost/webhook-secret", "secret\n"}});
    EXPECT_EQ(c.dsns.size(), 2U);
    EXPECT_EQ(c.log_file, "/var/log/schemahost/schemahostd.log");
    EXPECT_TRUE(c.alerts.email_enabled());
    EXPECT_TRUE(c.alerts.webhook_enabled());

    // Every option of --help is in the example (but those that make no sense
    // in a config file), shown with its default.
    std::istringstream help(help_text());
    int options = 0;
    while (std::getline(help, line)) {
        if (line.rfind("  --", 0) != 0)
            continue;
        const std::string name = line.substr(4, line.find(' ', 4) - 4);
        if (name == "help" || name == "version" || name == "config")
            continue;
        ++options;
        std::string key = name;
        std::replace(key.begin(), key.end(), '-', '_');
        EXPECT_TRUE(contains(text, "\n#" + key + " = ")) << name << " missing from the example";
    }
    EXPECT_GE(options, 20);
}

TEST(ConfigErrors, UnreadableConfigFileNamedInTheEnvironment)
{
    const auto e = error({}, {{"SCHEMAHOSTD_CONFIG", "/nope.conf"}});
    EXPECT_EQ(e.option(), "--config");
    EXPECT_TRUE(contains(e.what(), "SCHEMAHOSTD_CONFIG")) << e.what();
}

TEST(Config, EventRetentionInWholeDays)
{
    EXPECT_EQ(Config{}.event_retention_days, 30);
    EXPECT_EQ(config({"--event-retention", "7"}).event_retention_days, 7);
    EXPECT_EQ(config({"--event-retention", "0"}).event_retention_days, 0); // keep forever
    EXPECT_EQ(config({}, {{"SCHEMAHOSTD_EVENT_RETENTION", "90"}}).event_retention_days, 90);
    for (const char *bad : {"-1", "1.5", "abc", "", "36501"})
        EXPECT_EQ(error({"--event-retention", bad}).option(), "--event-retention") << bad;
}

// --- --discover (issue 5) ----------------------------------------------------

TEST(Config, DiscoverDefaultsAndSources)
{
    const Config d;
    EXPECT_FALSE(d.discover);
    EXPECT_EQ(d.discover_interval, milliseconds(60000));

    EXPECT_TRUE(config({"--discover"}).discover);
    EXPECT_EQ(config({"--discover-interval", "30"}).discover_interval, milliseconds(30000));
    const Config env =
        config({}, {{"SCHEMAHOSTD_DISCOVER", "yes"}, {"SCHEMAHOSTD_DISCOVER_INTERVAL", "0.5"}});
    EXPECT_TRUE(env.discover);
    EXPECT_EQ(env.discover_interval, milliseconds(500));
    const Config file =
        config({"--config", "f"}, {}, {{"f", "discover = on\ndiscover_interval = 120\n"}});
    EXPECT_TRUE(file.discover);
    EXPECT_EQ(file.discover_interval, milliseconds(120000));
    // The command line wins over the file.
    EXPECT_EQ(config({"--config", "f", "--discover-interval", "5"}, {},
                     {{"f", "discover_interval = 120\n"}})
                  .discover_interval,
              milliseconds(5000));
}

TEST(ConfigErrors, DiscoverIntervalMustBePositiveAndDiscoverIsASwitch)
{
    for (const char *bad : {"0", "-1", "soon"}) {
        const ConfigError e = error({"--discover-interval", bad});
        EXPECT_EQ(e.option(), "--discover-interval") << bad;
        EXPECT_TRUE(contains(e.what(), "--discover-interval")) << e.what();
    }
    const ConfigError e = error({}, {{"SCHEMAHOSTD_DISCOVER", "maybe"}});
    EXPECT_EQ(e.option(), "--discover");
    EXPECT_TRUE(contains(e.what(), "SCHEMAHOSTD_DISCOVER")) << e.what();
}

TEST(Config, HelpDocumentsDiscover)
{
    const std::string help = help_text();
    EXPECT_TRUE(contains(help, "--discover\n"));
    EXPECT_TRUE(contains(help, "--discover-interval SECONDS"));
    EXPECT_TRUE(contains(help, "SCHEMAHOSTD_DISCOVER_INTERVAL"));
}
