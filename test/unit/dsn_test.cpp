#include "dsn.hpp"
#include "pg_conn.hpp"
#include "text_util.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace schemahostd;

namespace
{

bool contains(const std::string &haystack, const std::string &needle)
{
    return haystack.find(needle) != std::string::npos;
}

} // namespace

TEST(Dsn, AcceptsWhatLibpqAccepts)
{
    EXPECT_FALSE(dsn_error(""));
    EXPECT_FALSE(dsn_error("host=/tmp port=5432 dbname=postgres"));
    EXPECT_FALSE(dsn_error("host=a,b port=1,2 target_session_attrs=read-write"));
    EXPECT_FALSE(dsn_error("postgresql://user:pw@localhost:5432/db?sslmode=disable"));
    EXPECT_FALSE(dsn_error("postgres:///db?host=/tmp"));
    EXPECT_FALSE(dsn_error("password='with space'"));
}

TEST(Dsn, RejectsMalformed)
{
    for (const char *bad :
         {"host", "nosuchoption=1", "host='unterminated", "postgresql://[::1/db"}) {
        const auto e = dsn_error(bad);
        ASSERT_TRUE(e) << bad;
        EXPECT_TRUE(contains(*e, "malformed connection string")) << *e;
    }
    // Without secrets libpq's message is shown as is, offending key included.
    EXPECT_TRUE(contains(*dsn_error("nosuchoption=1"), "nosuchoption"));
}

TEST(Dsn, ErrorsNeverShowAPassword)
{
    for (const char *bad : {"password=secret1 junk", "postgresql://u:secret1@[::1/db",
                            "password=sec ret1", "sslpassword=secret1 junk"}) {
        const auto e = dsn_error(bad);
        ASSERT_TRUE(e) << bad;
        EXPECT_FALSE(contains(*e, "secret1")) << *e;
        EXPECT_FALSE(contains(*e, "ret1")) << *e;
    }
}

TEST(Dsn, MaskHidesPasswordsInEveryForm)
{
    EXPECT_EQ(mask_dsn("host=/tmp password=secret1 dbname=app"),
              "password=******** dbname=app host=/tmp");
    EXPECT_FALSE(contains(mask_dsn("password='secret 1' host=x"), "secret"));
    EXPECT_FALSE(contains(mask_dsn("password = secret1"), "secret1"));
    EXPECT_FALSE(contains(mask_dsn("sslpassword=secret1 sslkey=/k"), "secret1"));

    const std::string uri = mask_dsn("postgresql://alice:secret1@db.example.com:6432/app");
    EXPECT_FALSE(contains(uri, "secret1")) << uri;
    EXPECT_TRUE(contains(uri, "password=********")) << uri;
    EXPECT_TRUE(contains(uri, "user=alice")) << uri;
    EXPECT_TRUE(contains(uri, "host=db.example.com")) << uri;
    EXPECT_TRUE(contains(uri, "port=6432")) << uri;
    EXPECT_FALSE(contains(mask_dsn("postgresql://h/db?password=secret1"), "secret1"));
    EXPECT_FALSE(contains(mask_dsn("postgresql://u:secret%31@h/db"), "secret"));
    // dbname may itself be a connection string that libpq expands.
    EXPECT_FALSE(contains(mask_dsn("dbname='postgresql://u:secret1@h/db'"), "secret1"));
}

TEST(Dsn, MaskKeepsEverythingElse)
{
    EXPECT_EQ(mask_dsn(""), "");
    EXPECT_EQ(mask_dsn("host=/tmp port=5432"), "host=/tmp port=5432");
    EXPECT_EQ(mask_dsn("application_name='my app'"), "application_name='my app'");
    EXPECT_EQ(mask_dsn("host"), "(invalid connection string)");
}

TEST(Dsn, QuotesValuesLikeLibpq)
{
    EXPECT_EQ(quote_conninfo_value("plain"), "plain");
    EXPECT_EQ(quote_conninfo_value(""), "''");
    EXPECT_EQ(quote_conninfo_value("a b"), "'a b'");
    EXPECT_EQ(quote_conninfo_value("it's"), "'it\\'s'");
    EXPECT_EQ(quote_conninfo_value("back\\slash"), "'back\\\\slash'");
}

// No server needed: a socket directory that does not exist fails at once.
TEST(PgConnection, ConnectFailureIsOneLineNamesTheTargetAndHidesThePassword)
{
    try {
        PgConnection::connect("host=/nonexistent/schemahostd-test port=1 user=alice dbname=app "
                              "password=secret1 connect_timeout=2",
                              PgTimeouts{}, nullptr);
        FAIL() << "connected to nothing";
    } catch (const PgError &e) {
        const std::string msg = e.what();
        EXPECT_EQ(e.kind(), PgError::Kind::connect);
        EXPECT_TRUE(contains(msg, "cannot connect to \"host=/nonexistent/schemahostd-test port=1 "
                                  "dbname=app user=alice\": "))
            << msg;
        EXPECT_TRUE(contains(msg, "No such file or directory")) << msg;
        EXPECT_FALSE(contains(msg, "secret1")) << msg;
        EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
}

TEST(TextUtil, OneLineJoinsLibpqMessagesAsSentences)
{
    EXPECT_EQ(one_line("connection to server on socket \"/x\" failed: No such file or directory\n"
                       "\tIs the server running locally?\n"),
              "connection to server on socket \"/x\" failed: No such file or directory. Is the "
              "server running locally?");
    EXPECT_EQ(one_line("FATAL:  role \"x\" does not exist\n"), "FATAL: role \"x\" does not exist");
    EXPECT_EQ(one_line("FATAL:  terminating connection due to administrator command\n"
                       "server closed the connection unexpectedly\n"
                       "\tThis probably means the server terminated abnormally\n"
                       "\tbefore or while processing the request.\n"),
              "FATAL: terminating connection due to administrator command; server closed the "
              "connection unexpectedly. This probably means the server terminated abnormally "
              "before or while processing the request.");
    EXPECT_EQ(one_line("a:\nb\n\n  c  "), "a: b c");
    EXPECT_EQ(one_line(""), "");
}
