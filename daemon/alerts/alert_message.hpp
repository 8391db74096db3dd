// What an alert says: the email (headers and plain-text body) and the webhook
// JSON document for one delivery, and the webhook signature. Pure functions
// of their inputs, so that every message can be unit-tested; the same
// delivery always gives the same message (apart from the signature's
// timestamp), which is what makes a resend recognisable.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace schemahostd::alerts
{

// One claimed delivery, as returned by schemahost_claim_deliveries().
struct Delivery {
    std::int64_t id = 0;  // delivery row
    std::string event_id; // uuid: the id receivers deduplicate on
    std::string kind;     // quota_warning, quota_over, quota_ok, runtime_limit, suspended, ...
    std::string project;
    nlohmann::json payload = nlohmann::json::object();
    std::string occurred_at;         // ISO 8601 UTC, e.g. 2026-11-24T05:45:50.123456Z
    std::int64_t occurred_epoch = 0; // the same, in Unix seconds
    std::string channel;             // email or webhook
    std::string recipient;           // email only
    int attempt = 1;
    std::optional<std::int64_t> project_quota_bytes; // current quota, when the project exists
    std::string project_state;
};

struct EmailSettings {
    std::string from;           // From: and envelope sender
    std::string operator_email; // whom to contact; empty: "your database operator"
};

struct Email {
    std::string subject;
    std::string message_id; // <uuid@domain>, the same for every resend
    std::string text;       // the whole message: CRLF headers, blank line, CRLF body
};

// Throws std::invalid_argument when the recipient is not a plain address
// (it would not be safe to put into a header).
Email format_email(const Delivery &d, const EmailSettings &settings);

// The webhook body: {"id","type","project","used_bytes","quota_bytes","percent",
// "occurred_at","data"}. Stable for a given delivery.
std::string webhook_body(const Delivery &d);

// Lower-case hex of HMAC-SHA256(key, data).
std::string hmac_sha256_hex(std::string_view key, std::string_view data);
// The X-Schemahost-Signature header value: t=<ts>,v1=<hmac of "<ts>.<body>">.
std::string webhook_signature(std::string_view secret, std::int64_t unix_ts, std::string_view body);

// A plain mailbox address: local@domain, no spaces, controls, quotes,
// brackets or commas.
bool is_plain_address(std::string_view address);

// pg_size_pretty's rounding, e.g. 850000 -> "830 kB", 5000 -> "5000 bytes".
std::string pretty_bytes(std::int64_t bytes);

// "Tue, 24 Nov 2026 05:45:50 +0000"
std::string rfc5322_date(std::int64_t unix_ts);

} // namespace schemahostd::alerts
