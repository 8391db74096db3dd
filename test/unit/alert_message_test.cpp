// Alert messages: email text, webhook JSON and the webhook signature.
#include "alerts/alert_message.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

namespace schemahostd::alerts
{
namespace
{

Delivery quota_delivery(const std::string &kind)
{
    Delivery d;
    d.id = 7;
    d.event_id = "0b7e1c1e-4a55-4f0e-9a39-2f8a4e6c9d01";
    d.kind = kind;
    d.project = "blog";
    d.payload = {{"used_bytes", 850000}, {"quota_bytes", 1000000}, {"percent", 85}};
    d.occurred_at = "2026-11-24T05:45:50.123456Z";
    d.occurred_epoch = 1795499150;
    d.channel = "email";
    d.recipient = "alice@example.com";
    d.attempt = 1;
    d.project_quota_bytes = 1000000;
    d.project_state = "active";
    return d;
}

const EmailSettings kSettings{"alerts@host.example", "ops@host.example"};

std::string header_block(const Email &e)
{
    return e.text.substr(0, e.text.find("\r\n\r\n") + 2);
}
std::string body_of(const Email &e)
{
    return e.text.substr(e.text.find("\r\n\r\n") + 4);
}

TEST(AlertEmail, QuotaOverStatesUsageWhatIsBlockedHowToGetBackAndWhomToContact)
{
    const Email e = format_email(quota_delivery("quota_over"), kSettings);
    const std::string body = body_of(e);
    EXPECT_NE(body.find("Project:  blog"), std::string::npos) << body;
    EXPECT_NE(body.find("Usage:    830 kB (850000 bytes)"), std::string::npos) << body;
    EXPECT_NE(body.find("Quota:    977 kB (1000000 bytes)"), std::string::npos) << body;
    EXPECT_NE(body.find("Percent:  85%"), std::string::npos) << body;
    EXPECT_NE(body.find("What is blocked:"), std::string::npos);
    EXPECT_NE(body.find("SQLSTATE 53100"), std::string::npos);
    EXPECT_NE(body.find("INSERT, UPDATE"), std::string::npos);
    EXPECT_NE(body.find("SELECT, DELETE, TRUNCATE, DROP and plain VACUUM keep working"),
              std::string::npos);
    EXPECT_NE(body.find("pg_total_relation_size(c.oid)"), std::string::npos);
    EXPECT_NE(body.find("WHERE n.nspname = 'blog'"), std::string::npos);
    EXPECT_NE(body.find("Whom to contact:"), std::string::npos);
    EXPECT_NE(body.find("ops@host.example"), std::string::npos);
    EXPECT_NE(e.subject.find("over its storage quota"), std::string::npos);
}

TEST(AlertEmail, HeadersCarryStableMessageIdAndNoBcc)
{
    const Email a = format_email(quota_delivery("quota_warning"), kSettings);
    Delivery again = quota_delivery("quota_warning");
    again.attempt = 3;
    again.id = 99;
    const Email b = format_email(again, kSettings);
    EXPECT_EQ(a.message_id, "<0b7e1c1e-4a55-4f0e-9a39-2f8a4e6c9d01@host.example>");
    EXPECT_EQ(a.text, b.text) << "a resend must be the same message";

    const std::string h = header_block(a);
    EXPECT_NE(h.find("Message-ID: <0b7e1c1e-4a55-4f0e-9a39-2f8a4e6c9d01@host.example>\r\n"),
              std::string::npos)
        << h;
    EXPECT_NE(h.find("To: <alice@example.com>\r\n"), std::string::npos);
    EXPECT_NE(h.find("From: schemahost <alerts@host.example>\r\n"), std::string::npos);
    EXPECT_NE(h.find("Date: Tue, 24 Nov 2026 05:45:50 +0000\r\n"), std::string::npos) << h;
    EXPECT_NE(h.find("Content-Type: text/plain; charset=utf-8\r\n"), std::string::npos);
    EXPECT_NE(h.find("Subject: [schemahost] Project blog has used 85% of its storage quota\r\n"),
              std::string::npos)
        << h;
    EXPECT_EQ(h.find("Bcc"), std::string::npos) << "the operator's copy goes by envelope only";
    EXPECT_NE(body_of(a).find("Nothing yet"), std::string::npos);
}

TEST(AlertEmail, LinesEndInCrlfOnly)
{
    const Email e = format_email(quota_delivery("dropped"), kSettings);
    for (std::size_t i = 0; i < e.text.size(); ++i)
        if (e.text[i] == '\n') {
            ASSERT_TRUE(i > 0 && e.text[i - 1] == '\r') << "bare LF at " << i;
        }
}

TEST(AlertEmail, EveryKindHasItsOwnSubjectAndText)
{
    struct Case {
        const char *kind;
        const char *subject;
        const char *body;
    };
    const Case cases[] = {
        {"quota_ok", "back under its storage quota", "writes are accepted again"},
        {"runtime_limit", "runtime limit", "was stopped"},
        {"suspended", "has been suspended", "cannot log in"},
        {"resumed", "has been resumed", "can log in again"},
        {"dropped", "kept until 2026-12-01", "2026-12-01"},
        {"restored", "has been restored", "can be used again"},
        {"purged", "has been purged", "removed for good"},
        {"something_new", "something_new", "something_new"},
    };
    for (const auto &c : cases) {
        Delivery d = quota_delivery(c.kind);
        d.payload = {{"purge_after", "2026-12-01 00:00:00+00"}};
        const Email e = format_email(d, kSettings);
        EXPECT_NE(e.subject.find(c.subject), std::string::npos) << c.kind << ": " << e.subject;
        EXPECT_NE(body_of(e).find(c.body), std::string::npos) << c.kind << ": " << body_of(e);
        EXPECT_NE(body_of(e).find("Quota:    977 kB"), std::string::npos)
            << c.kind << ": the current quota is shown when the event has none";
    }
}

TEST(AlertEmail, WarningAfterOverSaysWritesWorkAgain)
{
    Delivery d = quota_delivery("quota_warning");
    d.payload["previous_state"] = "over";
    const Email e = format_email(d, kSettings);
    EXPECT_NE(e.subject.find("back under its storage quota (85% used)"), std::string::npos)
        << e.subject;
    EXPECT_NE(body_of(e).find("Nothing any more: writes are accepted again"), std::string::npos);
    d.payload["previous_state"] = "ok";
    EXPECT_NE(format_email(d, kSettings).subject.find("has used 85%"), std::string::npos);
}

TEST(AlertEmail, RuntimeLimitExplainsWhatWasStopped)
{
    Delivery d = quota_delivery("runtime_limit");
    d.payload = {{"pid", 4242},
                 {"action", "cancel"},
                 {"reason", "statement_timeout"},
                 {"limit", "00:05:00"},
                 {"duration_ms", 301500}};
    const std::string body = body_of(format_email(d, kSettings));
    EXPECT_NE(body.find("it was cancelled"), std::string::npos) << body;
    EXPECT_NE(body.find("Limit:     00:05:00"), std::string::npos) << body;
    EXPECT_NE(body.find("Duration:  301.5 s"), std::string::npos) << body;
    EXPECT_NE(body.find("process 4242"), std::string::npos) << body;
}

TEST(AlertEmail, SessionOfSuspendedOrDroppedProjectSaysWhy)
{
    Delivery d = quota_delivery("runtime_limit");
    d.payload = {{"pid", 4243},
                 {"action", "terminate"},
                 {"reason", "project_suspended"},
                 {"duration_ms", 1200}};
    Email e = format_email(d, kSettings);
    std::string body = body_of(e);
    EXPECT_NE(e.subject.find("a remaining session was closed"), std::string::npos) << e.subject;
    EXPECT_NE(body.find("after the project was suspended"), std::string::npos) << body;
    EXPECT_NE(body.find("Ask the operator to resume it"), std::string::npos) << body;
    EXPECT_NE(body.find("process 4243"), std::string::npos) << body;
    EXPECT_EQ(body.find("Limit:"), std::string::npos) << body;

    d.payload["reason"] = "project_dropped";
    body = body_of(format_email(d, kSettings));
    EXPECT_NE(body.find("after the project was dropped"), std::string::npos) << body;
    EXPECT_NE(body.find("restore it before its purge date"), std::string::npos) << body;
}

TEST(AlertEmail, NoOperatorAddressStillSaysWhomToContact)
{
    const Email e = format_email(quota_delivery("quota_over"), {"alerts@host.example", ""});
    EXPECT_NE(body_of(e).find("The operator of this database service"), std::string::npos);
}

TEST(AlertEmail, DataCannotInjectHeadersOrSql)
{
    Delivery d = quota_delivery("quota_over\r\nBcc: evil@example.com");
    d.project = "we'ird\nX-Injected: 1";
    const Email e = format_email(d, kSettings);
    EXPECT_EQ(e.text.find("\r\nX-Injected"), std::string::npos) << e.text;
    EXPECT_EQ(e.text.find("\r\nBcc"), std::string::npos) << e.text;
    Delivery q = quota_delivery("quota_over");
    q.project = d.project;
    EXPECT_NE(format_email(q, kSettings).text.find("n.nspname = 'we''ird X-Injected: 1'"),
              std::string::npos);
}

TEST(AlertEmail, RejectsRecipientsThatAreNotPlainAddresses)
{
    for (const char *bad : {"", "alice", "alice@example.com\r\nBcc: x@y", "Alice <a@b.c>",
                            "a@b.c,d@e.f", "a b@c.d", "@b.c", "a@"}) {
        Delivery d = quota_delivery("quota_over");
        d.recipient = bad;
        EXPECT_THROW(format_email(d, kSettings), std::invalid_argument) << bad;
    }
    EXPECT_TRUE(is_plain_address("first.last+tag@sub.example.org"));
}

TEST(AlertEmail, PrettyBytesRoundsLikePgSizePretty)
{
    EXPECT_EQ(pretty_bytes(0), "0 bytes");
    EXPECT_EQ(pretty_bytes(10239), "10239 bytes");
    EXPECT_EQ(pretty_bytes(10240), "10 kB");
    EXPECT_EQ(pretty_bytes(850000), "830 kB");
    EXPECT_EQ(pretty_bytes(104857600), "100 MB");
    EXPECT_EQ(pretty_bytes(10737418240LL), "10 GB");
    EXPECT_EQ(pretty_bytes(20LL * 1024 * 1024 * 1024 * 1024), "20 TB");
}

TEST(AlertWebhook, BodyHasTheDocumentedFields)
{
    Delivery d = quota_delivery("quota_over");
    d.channel = "webhook";
    d.recipient.clear();
    d.payload["owner_email"] = "alice@example.com";
    const auto doc = nlohmann::json::parse(webhook_body(d));
    EXPECT_EQ(doc["id"], "0b7e1c1e-4a55-4f0e-9a39-2f8a4e6c9d01");
    EXPECT_EQ(doc["type"], "quota_over");
    EXPECT_EQ(doc["project"], "blog");
    EXPECT_EQ(doc["used_bytes"], 850000);
    EXPECT_EQ(doc["quota_bytes"], 1000000);
    EXPECT_EQ(doc["percent"], 85.0);
    EXPECT_EQ(doc["occurred_at"], "2026-11-24T05:45:50.123456Z");
    EXPECT_EQ(doc["data"]["used_bytes"], 850000);
    EXPECT_FALSE(doc["data"].contains("owner_email")) << "personal data stays out of the webhook";
    EXPECT_EQ(webhook_body(d), webhook_body(d)) << "stable for resends";
}

TEST(AlertWebhook, NonQuotaEventsHaveNullUsage)
{
    Delivery d = quota_delivery("suspended");
    d.payload = nlohmann::json::object();
    d.project_quota_bytes.reset();
    const auto doc = nlohmann::json::parse(webhook_body(d));
    EXPECT_TRUE(doc["used_bytes"].is_null());
    EXPECT_TRUE(doc["quota_bytes"].is_null());
    EXPECT_TRUE(doc["percent"].is_null());
    EXPECT_EQ(doc["type"], "suspended");
}

TEST(AlertWebhook, InvalidUtf8DoesNotThrow)
{
    Delivery d = quota_delivery("quota_over");
    d.project = std::string("bad\xff\xfe");
    EXPECT_NO_THROW(nlohmann::json::parse(webhook_body(d)));
}

TEST(AlertSignature, HmacSha256MatchesRfc4231)
{
    // RFC 4231 test case 2.
    EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    // RFC 4231 test case 1: key 20 x 0x0b, "Hi There".
    EXPECT_EQ(hmac_sha256_hex(std::string(20, '\x0b'), "Hi There"),
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST(AlertSignature, HeaderSignsTimestampDotBody)
{
    const std::string body = R"({"id":"x"})";
    const std::string sig = webhook_signature("s3cret", 1700000000, body);
    EXPECT_EQ(sig, "t=1700000000,v1=" + hmac_sha256_hex("s3cret", "1700000000." + body));
    EXPECT_NE(sig, webhook_signature("s3cret", 1700000001, body));
    EXPECT_NE(sig, webhook_signature("other", 1700000000, body));
    EXPECT_EQ(sig.find("s3cret"), std::string::npos);
}

} // namespace
} // namespace schemahostd::alerts
