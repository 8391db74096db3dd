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
