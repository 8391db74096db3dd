// The alert options as the daemon's configuration parser sees them.
#include "config.hpp"
#include "config_test_util.hpp"

#include <gtest/gtest.h>

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace schemahostd
{
namespace
{

using test_util::Files;

Config parse(const std::vector<std::string> &args, const Environment &env = {},
             const Files &files = {})
{
    return test_util::config(args, env, files);
}

ConfigError error_of(const std::vector<std::string> &args, const Files &files = {})
{
    return test_util::error(args, {}, files);
}

TEST(AlertConfig, DefaultsSendNothing)
{
    const Config c = parse({});
    EXPECT_FALSE(c.alerts.enabled());
    EXPECT_EQ(c.alerts.max_attempts, 10);
    EXPECT_EQ(c.alerts.retry_base, std::chrono::milliseconds(30000));
    EXPECT_EQ(c.alerts.retry_max, std::chrono::milliseconds(3600000));
}

TEST(AlertConfig, EveryOptionFromEverySource)
{
    const Files files = {{"/etc/schemahostd.conf", "smtp-url = smtps://mail.example:465\n"
                                                   "smtp-from = alerts@example.com\n"
                                                   "smtp-user = mailer\n"
                                                   "smtp-password-file = /run/pw\n"},
                         {"/run/pw", "secret\n"},
                         {"/run/whsec", "whsec\n"}};
    const Config c = parse({"--config",
                            "/etc/schemahostd.conf",
                            "--webhook-url",
                            "https://hooks.example/x",
                            "--webhook-secret-file",
                            "/run/whsec",
                            "--max-attempts",
                            "4",
                            "--alert-retry-base",
                            "0.5",
                            "--alert-retry-max",
                            "60",
                            "--smtp-timeout",
                            "7",
                            "--webhook-timeout",
                            "3",
                            "--alert-connect-timeout",
                            "2",
                            "--alert-batch",
                            "50"},
                           {{"SCHEMAHOSTD_OPERATOR_EMAIL", "ops@example.com"}}, files);
    EXPECT_EQ(c.alerts.smtp_url, "smtps://mail.example:465");
    EXPECT_EQ(c.alerts.smtp_from, "alerts@example.com");
    EXPECT_EQ(c.alerts.smtp_user, "mailer");
    EXPECT_EQ(c.alerts.smtp_password_file, "/run/pw");
    EXPECT_EQ(c.alerts.operator_email, "ops@example.com");
    EXPECT_EQ(c.alerts.webhook_url, "https://hooks.example/x");
    EXPECT_EQ(c.alerts.webhook_secret_file, "/run/whsec");
    EXPECT_EQ(c.alerts.smtp_password, "secret") << "read, trailing newline stripped";
    EXPECT_EQ(c.alerts.webhook_secret, "whsec");
    EXPECT_EQ(c.alerts.max_attempts, 4);
    EXPECT_EQ(c.alerts.retry_base, std::chrono::milliseconds(500));
    EXPECT_EQ(c.alerts.retry_max, std::chrono::milliseconds(60000));
    EXPECT_EQ(c.alerts.smtp_timeout, std::chrono::milliseconds(7000));
    EXPECT_EQ(c.alerts.webhook_timeout, std::chrono::milliseconds(3000));
    EXPECT_EQ(c.alerts.connect_timeout, std::chrono::milliseconds(2000));
    EXPECT_EQ(c.alerts.batch, 50);
    EXPECT_TRUE(c.alerts.email_enabled());
    EXPECT_TRUE(c.alerts.webhook_enabled());
}

TEST(AlertConfig, BadValuesNameTheOption)
{
    EXPECT_EQ(error_of({"--max-attempts", "0"}).option(), "--max-attempts");
    EXPECT_EQ(error_of({"--max-attempts", "three"}).option(), "--max-attempts");
    EXPECT_EQ(error_of({"--alert-batch", "-1"}).option(), "--alert-batch");
    EXPECT_EQ(error_of({"--smtp-timeout", "0"}).option(), "--smtp-timeout");
    EXPECT_EQ(error_of({"--smtp-url", "smtp://mail"}).option(), "--smtp-from");
    EXPECT_EQ(error_of({"--smtp-url", "imap://mail", "--smtp-from", "a@b.c"}).option(),
              "--smtp-url");
    EXPECT_EQ(error_of({"--operator-email", "Ops <ops@x.y>"}).option(), "--operator-email");
    EXPECT_EQ(error_of({"--webhook-url", "file:///etc/passwd"}).option(), "--webhook-url");
    EXPECT_EQ(error_of({"--alert-retry-base", "10", "--alert-retry-max", "5"}).option(),
              "--alert-retry-max");
    const ConfigError missing =
        error_of({"--webhook-url", "http://h/x", "--webhook-secret-file", "/nope"});
    EXPECT_EQ(missing.option(), "--webhook-secret-file");
    EXPECT_NE(std::string(missing.what()).find("No such file"), std::string::npos)
        << missing.what();
    EXPECT_EQ(error_of({"--webhook-url", "http://h/x", "--webhook-secret-file", "/empty"},
                       {{"/empty", "\n"}})
                  .option(),
              "--webhook-secret-file");
}

// The daemon's SIGHUP: the same command line, the files as they are now.
const std::vector<std::string> kSecretArgs = {
    "--webhook-url", "http://h/x",  "--webhook-secret-file", "/run/whsec",
    "--smtp-url",    "smtp://mail", "--smtp-from",           "a@b.c",
    "--smtp-user",   "mailer",      "--smtp-password-file",  "/run/pw"};

TEST(AlertConfig, ReloadReadsTheSecretFilesAgainAtTheSamePaths)
{
    const Config before =
        parse(kSecretArgs, {}, {{"/run/whsec", "secret-A\n"}, {"/run/pw", "password-A\n"}});
    EXPECT_EQ(before.alerts.webhook_secret, "secret-A");
    EXPECT_EQ(before.alerts.smtp_password, "password-A");

    const ReloadedConfig after = reload_config(
        kSecretArgs, {},
        test_util::reader({{"/run/whsec", "secret-B\n"}, {"/run/pw", "password-B\n"}}), before);
    EXPECT_TRUE(after.kept_secrets.empty());
    EXPECT_EQ(after.config.alerts.webhook_secret_file, "/run/whsec");
    EXPECT_EQ(after.config.alerts.webhook_secret, "secret-B");
    EXPECT_EQ(after.config.alerts.smtp_password, "password-B");
}

TEST(AlertConfig, ReloadKeepsThePreviousSecretOfAnUnreadableFile)
{
    const Config before =
        parse(kSecretArgs, {}, {{"/run/whsec", "secret-A\n"}, {"/run/pw", "password-A\n"}});
    // The webhook secret is gone, the password rotated, and the interval
    // changed: the rest of the reload still applies.
    std::vector<std::string> args = kSecretArgs;
    args.insert(args.end(), {"--interval", "7"});
    const ReloadedConfig after =
        reload_config(args, {}, test_util::reader({{"/run/pw", "password-B\n"}}), before);
    ASSERT_EQ(after.kept_secrets.size(), 1U);
    EXPECT_EQ(after.kept_secrets[0].option, "--webhook-secret-file");
    EXPECT_EQ(after.kept_secrets[0].path, "/run/whsec");
    EXPECT_EQ(after.kept_secrets[0].reason, "No such file or directory");
    EXPECT_EQ(after.config.alerts.webhook_secret, "secret-A");
    EXPECT_EQ(after.config.alerts.smtp_password, "password-B");
    EXPECT_EQ(after.config.interval, std::chrono::milliseconds(7000));

    // An empty file is no secret either.
    const ReloadedConfig empty = reload_config(
        kSecretArgs, {}, test_util::reader({{"/run/whsec", "\n"}, {"/run/pw", "\r\n"}}), before);
    ASSERT_EQ(empty.kept_secrets.size(), 2U);
    EXPECT_EQ(empty.kept_secrets[0].reason, "the file is empty");
    EXPECT_EQ(empty.config.alerts.smtp_password, "password-A");
    EXPECT_EQ(empty.config.alerts.webhook_secret, "secret-A");
}

TEST(AlertConfig, ReloadRejectsANewSecretFileThatCannotBeRead)
{
    // Unsigned before: nothing to keep, so the reload fails as a start would.
    const Config before = parse({"--webhook-url", "http://h/x"});
    try {
        reload_config({"--webhook-url", "http://h/x", "--webhook-secret-file", "/run/whsec"}, {},
                      test_util::reader({}), before);
        FAIL() << "reload accepted";
    } catch (const ConfigError &e) {
        EXPECT_EQ(e.option(), "--webhook-secret-file");
        EXPECT_NE(std::string(e.what()).find("/run/whsec"), std::string::npos) << e.what();
    }
    // Other errors still fail the reload.
    EXPECT_THROW(reload_config({"--interval", "0"}, {}, test_util::reader({}), before),
                 ConfigError);
}

TEST(AlertConfig, UrlsAreNeverEchoed)
{
    // A URL may carry a token or a password: errors must not repeat it.
    const ConfigError e = error_of({"--webhook-url", "ftp://user:TOKEN123@h/x"});
    EXPECT_EQ(std::string(e.what()).find("TOKEN123"), std::string::npos) << e.what();
}

TEST(AlertConfig, HelpListsTheAlertOptions)
{
    const std::string help = help_text();
    for (const char *opt :
         {"--smtp-url", "--smtp-user", "--smtp-password-file", "--smtp-from", "--operator-email",
          "--webhook-url", "--webhook-secret-file", "--max-attempts", "--alert-retry-base",
          "--alert-retry-max", "--smtp-timeout", "--webhook-timeout", "--alert-connect-timeout",
          "--alert-batch"})
        EXPECT_NE(help.find(opt), std::string::npos) << opt;
}

} // namespace
} // namespace schemahostd
