#include "alerts/alert_message.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cmath>
#include <ctime>
#include <stdexcept>
#include <vector>

namespace schemahostd::alerts
{

namespace
{

// Header values and text lines built from data must not break the message
// structure: controls (CR and LF above all) become spaces.
std::string no_controls(std::string_view s)
{
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        out += (u < 0x20 || u == 0x7f) ? ' ' : c;
    }
    return out;
}

std::string sql_literal(std::string_view s)
{
    std::string out = "'";
    for (char c : no_controls(s)) {
        if (c == '\'')
            out += '\'';
        out += c;
    }
    return out + "'";
}

std::optional<std::int64_t> json_int(const nlohmann::json &payload, const char *key)
{
    if (!payload.is_object())
        return std::nullopt;
    const auto it = payload.find(key);
    if (it == payload.end())
        return std::nullopt;
    if (it->is_number_integer())
        return it->get<std::int64_t>();
    if (it->is_number_float())
        return static_cast<std::int64_t>(std::llround(it->get<double>()));
    if (it->is_string()) {
        try {
            std::size_t used = 0;
            const long long v = std::stoll(it->get<std::string>(), &used);
            if (used == it->get<std::string>().size())
                return v;
        } catch (const std::exception &) {
        }
    }
    return std::nullopt;
}

std::optional<double> json_number(const nlohmann::json &payload, const char *key)
{
    if (!payload.is_object())
        return std::nullopt;
    const auto it = payload.find(key);
    if (it == payload.end())
        return std::nullopt;
    if (it->is_number())
        return it->get<double>();
    if (it->is_string()) {
        try {
            std::size_t used = 0;
            const double v = std::stod(it->get<std::string>(), &used);
            if (used == it->get<std::string>().size() && std::isfinite(v))
                return v;
        } catch (const std::exception &) {
        }
    }
    return std::nullopt;
}

std::optional<std::string> json_text(const nlohmann::json &payload, const char *key)
{
    if (!payload.is_object())
        return std::nullopt;
    const auto it = payload.find(key);
    if (it == payload.end() || it->is_null())
        return std::nullopt;
    if (it->is_string())
        return no_controls(it->get<std::string>());
    return no_controls(it->dump());
}

struct Usage {
    std::optional<std::int64_t> used;
    std::optional<std::int64_t> quota;
    std::optional<double> percent;
};

Usage usage_of(const Delivery &d)
{
    Usage u;
    u.used = json_int(d.payload, "used_bytes");
    u.quota = json_int(d.payload, "quota_bytes");
    if (!u.quota)
        u.quota = d.project_quota_bytes;
    u.percent = json_number(d.payload, "percent");
    if (!u.percent && u.used && u.quota && *u.quota > 0)
        u.percent = 100.0 * static_cast<double>(*u.used) / static_cast<double>(*u.quota);
    return u;
}

std::string format_percent(double p)
{
    if (std::fabs(p - std::round(p)) < 0.05)
        return fmt::format("{:.0f}%", p);
    return fmt::format("{:.1f}%", p);
}

std::string bytes_line(std::int64_t b)
{
    return fmt::format("{} ({} bytes)", pretty_bytes(b), b);
}

std::string human_time(const Delivery &d)
{
    // 2026-11-24T05:45:50.123456Z -> 2026-11-24 05:45:50 UTC
    if (d.occurred_at.size() >= 19)
        return d.occurred_at.substr(0, 10) + " " + d.occurred_at.substr(11, 8) + " UTC";
    return no_controls(d.occurred_at);
}

std::string purge_date(const Delivery &d)
{
    auto p = json_text(d.payload, "purge_after");
    return p ? *p : std::string("the end of the grace period");
}

// A runtime_limit event of a session that outlived its project's suspend or
// drop (it logged in just before the login was turned off).
bool closed_by_state(const Delivery &d)
{
    const std::string reason = json_text(d.payload, "reason").value_or("");
    return reason == "project_suspended" || reason == "project_dropped";
}

// A warning that follows the over state means the project just got free.
bool back_from_over(const Delivery &d)
{
    return json_text(d.payload, "previous_state").value_or("") == "over";
}

std::string subject_of(const Delivery &d, const Usage &u)
{
    const std::string p = no_controls(d.project);
    const std::string pct = u.percent ? format_percent(*u.percent) : std::string("most");
    if (d.kind == "quota_warning" && back_from_over(d))
        return fmt::format("[schemahost] Project {} is back under its storage quota ({} used)", p,
                           pct);
    if (d.kind == "quota_warning")
        return fmt::format("[schemahost] Project {} has used {} of its storage quota", p, pct);
    if (d.kind == "quota_over")
        return fmt::format("[schemahost] Project {} is over its storage quota: writes are blocked",
                           p);
    if (d.kind == "quota_ok")
        return fmt::format("[schemahost] Project {} is back under its storage quota", p);
    if (d.kind == "runtime_limit" && closed_by_state(d))
        return fmt::format("[schemahost] Project {}: a remaining session was closed", p);
    if (d.kind == "runtime_limit")
        return fmt::format("[schemahost] Project {}: a session was stopped by a runtime limit", p);
    if (d.kind == "suspended")
        return fmt::format("[schemahost] Project {} has been suspended", p);
    if (d.kind == "resumed")
        return fmt::format("[schemahost] Project {} has been resumed", p);
    if (d.kind == "dropped")
        return fmt::format("[schemahost] Project {} has been dropped; its data is kept until {}", p,
                           purge_date(d));
    if (d.kind == "restored")
        return fmt::format("[schemahost] Project {} has been restored", p);
    if (d.kind == "purged")
        return fmt::format("[schemahost] Project {} has been purged", p);
    return fmt::format("[schemahost] Project {}: {}", p, no_controls(d.kind));
}

const char *const kWritesBlocked =
    "  Statements that make the project grow are refused with SQLSTATE 53100:\n"
    "  INSERT, UPDATE, MERGE, COPY FROM, CREATE TABLE / TABLE AS / INDEX /\n"
    "  MATERIALIZED VIEW, REFRESH MATERIALIZED VIEW, ALTER TABLE that adds or\n"
    "  rewrites, CLUSTER, VACUUM FULL and REINDEX. Sessions that were writing when\n"
    "  the quota was reached may have been cancelled.\n"
    "  SELECT, DELETE, TRUNCATE, DROP and plain VACUUM keep working.\n";

std::string get_back_under(const Delivery &d)
{
    return fmt::format(
        "How to get back under the quota:\n"
        "  1. Find the largest tables, connected as the project's role:\n"
        "\n"
        "       SELECT c.relname AS name, c.relkind AS kind,\n"
        "              pg_size_pretty(pg_total_relation_size(c.oid)) AS total_size\n"
        "         FROM pg_class c\n"
        "         JOIN pg_namespace n ON n.oid = c.relnamespace\n"
        "        WHERE n.nspname = {} AND c.relkind IN ('r', 'm', 'p')\n"
        "        ORDER BY pg_total_relation_size(c.oid) DESC\n"
        "        LIMIT 20;\n"
        "\n"
        "  2. Free space: TRUNCATE or DROP the tables (and indexes) you no longer\n"
        "     need; that frees their space at once. DELETE followed by VACUUM makes\n"
        "     room for new rows inside a table but rarely shrinks its files, so it\n"
        "     lowers the usage only a little.\n"
        "  3. Once the usage is back under the quota, writes are accepted again\n"
        "     within a few seconds, without anyone having to act.\n"
        "  If the project needs more space, ask for a larger quota (see below).\n",
        sql_literal(d.project));
}

std::string what_happened(const Delivery &d, const Usage &u)
{
    const std::string p = no_controls(d.project);
    if (d.kind == "quota_warning" && back_from_over(d))
        return fmt::format(
            "Project \"{}\" is back under its storage quota, at {} of it.\n\n"
            "What is blocked:\n"
            "  Nothing any more: writes are accepted again. The usage is still above\n"
            "  the warning threshold; if it reaches 100% again, the following will be\n"
            "  blocked again:\n{}\n{}",
            p, u.percent ? format_percent(*u.percent) : std::string("most"), kWritesBlocked,
            get_back_under(d));
    if (d.kind == "quota_warning")
        return fmt::format(
            "Project \"{}\" has used {} of its storage quota.\n\n"
            "What is blocked:\n"
            "  Nothing yet. When the usage reaches 100% of the quota, the following\n"
            "  will be blocked:\n{}\n{}",
            p, u.percent ? format_percent(*u.percent) : std::string("most"), kWritesBlocked,
            get_back_under(d));
    if (d.kind == "quota_over")
        return fmt::format("Project \"{}\" is over its storage quota.\n\n"
                           "What is blocked:\n{}\n{}",
                           p, kWritesBlocked, get_back_under(d));
    if (d.kind == "quota_ok")
        return fmt::format("Project \"{}\" is back under its storage quota.\n\n"
                           "What is blocked:\n"
                           "  Nothing any more: writes are accepted again.\n",
                           p);
    if (d.kind == "runtime_limit" && closed_by_state(d)) {
        const bool dropped = json_text(d.payload, "reason").value_or("") == "project_dropped";
        std::string text =
            fmt::format("A session of project \"{}\" was still open after the project was {}, and\n"
                        "was terminated.\n\n",
                        p, dropped ? "dropped" : "suspended");
        if (auto v = json_text(d.payload, "pid"))
            text += fmt::format("  Session:   process {}\n", *v);
        text += fmt::format("\nWhat is blocked:\n"
                            "  Everything: the project's role cannot log in while the project is\n"
                            "  {}. {}\n",
                            dropped ? "dropped" : "suspended",
                            dropped ? "Ask the operator to restore it before its purge date."
                                    : "Ask the operator to resume it.");
        return text;
    }
    if (d.kind == "runtime_limit") {
        std::string text = fmt::format(
            "A session of project \"{}\" ran past a runtime limit and was stopped.\n\n", p);
        const std::string reason = json_text(d.payload, "reason").value_or("");
        if (reason == "statement_timeout")
            text += "  What:      a statement ran longer than the project's statement limit;\n"
                    "             it was cancelled.\n";
        else if (reason == "idle_in_transaction_timeout")
            text += "  What:      a transaction stayed idle longer than the project's limit;\n"
                    "             its session was terminated.\n";
        if (auto v = json_text(d.payload, "limit"))
            text += fmt::format("  Limit:     {}\n", *v);
        if (auto ms = json_int(d.payload, "duration_ms"))
            text += fmt::format("  Duration:  {:.1f} s\n", static_cast<double>(*ms) / 1000.0);
        if (auto v = json_text(d.payload, "pid"))
            text += fmt::format("  Session:   process {}\n", *v);
        text += "\nWhat is blocked:\n"
                "  Nothing else: only that statement or transaction was stopped.\n"
                "  Statements that run longer than the limit, and transactions left idle\n"
                "  longer than the limit, are cancelled even when the session changed\n"
                "  its own statement_timeout. Make long work shorter, or ask for a higher\n"
                "  limit (see below).\n";
        return text;
    }
    if (d.kind == "suspended")
        return fmt::format("Project \"{}\" has been suspended by the operator.\n\n"
                           "What is blocked:\n"
                           "  Everything: the project's role cannot log in, and its open sessions\n"
                           "  were closed. The data is kept. Ask the operator to resume it.\n",
                           p);
    if (d.kind == "resumed")
        return fmt::format("Project \"{}\" has been resumed.\n\n"
                           "What is blocked:\n"
                           "  Nothing any more: the project's role can log in again.\n",
                           p);
    if (d.kind == "dropped")
        return fmt::format(
            "Project \"{}\" has been dropped.\n\n"
            "What is blocked:\n"
            "  Everything: the project can no longer be used. Its data is kept until\n"
            "  {}; until then the operator can restore it whole. After that\n"
            "  date it is removed for good.\n",
            p, purge_date(d));
    if (d.kind == "restored")
        return fmt::format("Project \"{}\" has been restored.\n\n"
                           "What is blocked:\n"
                           "  Nothing any more: the project can be used again.\n",
                           p);
    if (d.kind == "purged")
        return fmt::format("Project \"{}\" has been purged: its data has been removed for good.\n",
                           p);
    return fmt::format("Project \"{}\": event \"{}\".\n", p, no_controls(d.kind));
}

std::string crlf(std::string_view text)
{
    std::string out;
    out.reserve(text.size() + text.size() / 40);
    for (char c : text) {
        if (c == '\n')
            out += "\r\n";
        else if (c != '\r')
            out += c;
    }
    return out;
}

std::string domain_of(std::string_view address)
{
    const auto at = address.rfind('@');
    if (at == std::string_view::npos || at + 1 >= address.size())
        return "schemahost.invalid";
    return no_controls(address.substr(at + 1));
}

} // namespace

bool is_plain_address(std::string_view address)
{
    if (address.empty() || address.size() > 254)
        return false;
    const auto at = address.find('@');
    if (at == std::string_view::npos || at == 0 || at + 1 == address.size() ||
        address.find('@', at + 1) != std::string_view::npos)
        return false;
    for (char c : address) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f || c == '<' || c == '>' || c == '(' || c == ')' || c == ',' ||
            c == ';' || c == ':' || c == '"' || c == '\\')
            return false;
    }
    return true;
}

std::string pretty_bytes(std::int64_t bytes)
{
    // PostgreSQL's pg_size_pretty: one extra bit is kept for rounding.
    constexpr std::int64_t limit = 10 * 1024;
    constexpr std::int64_t limit2 = limit * 2 - 1;
    if (std::llabs(bytes) < limit)
        return fmt::format("{} bytes", bytes);
    static const char *const units[] = {"kB", "MB", "GB", "TB", "PB"};
    std::int64_t size = bytes / 512; // >> 9 for non-negative values, truncating toward 0
    for (std::size_t i = 0;; ++i) {
        if (std::llabs(size) < limit2 || i + 1 == std::size(units)) {
            const std::int64_t rounded = (size + (size < 0 ? -1 : 1)) / 2;
            return fmt::format("{} {}", rounded, units[i]);
        }
        size /= 1024;
    }
}

std::string rfc5322_date(std::int64_t unix_ts)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const std::time_t t = static_cast<std::time_t>(unix_ts);
    std::tm tm{};
    gmtime_r(&t, &tm);
    return fmt::format("{}, {:02d} {} {} {:02d}:{:02d}:{:02d} +0000", days[tm.tm_wday % 7],
                       tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                       tm.tm_sec);
}

Email format_email(const Delivery &d, const EmailSettings &settings)
{
    if (!is_plain_address(d.recipient))
        throw std::invalid_argument(
            "the owner email is not a plain address like owner@example.com");
    if (!is_plain_address(settings.from))
        throw std::invalid_argument("--smtp-from is not a plain address like alerts@example.com");

    const Usage u = usage_of(d);
    Email email;
    email.subject = subject_of(d, u);
    email.message_id = fmt::format("<{}@{}>", no_controls(d.event_id), domain_of(settings.from));

    std::string body = "Hello,\n\n"
                       "this is an automatic message from schemahost, the database hosting\n"
                       "service of your project.\n\n";
    body += what_happened(d, u);
    body += "\nDetails:\n";
    body += fmt::format("  Project:  {}\n", no_controls(d.project));
    if (u.used)
        body += fmt::format("  Usage:    {}\n", bytes_line(*u.used));
    if (u.quota)
        body += fmt::format("  Quota:    {}\n", bytes_line(*u.quota));
    if (u.percent)
        body += fmt::format("  Percent:  {}\n", format_percent(*u.percent));
    body += fmt::format("  Event:    {} at {}\n", no_controls(d.kind), human_time(d));
    body += "\nWhom to contact:\n";
    if (!settings.operator_email.empty())
        body += fmt::format("  The operator of this database service: {}\n",
                            no_controls(settings.operator_email));
    else
        body += "  The operator of this database service (the person or team who gave\n"
                "  you the project's connection details).\n";
    body += fmt::format("\nEvent id: {} (every copy of this message carries the same id)\n",
                        no_controls(d.event_id));

    std::string headers;
    headers += fmt::format("From: schemahost <{}>\n", settings.from);
    headers += fmt::format("To: <{}>\n", d.recipient);
    headers += fmt::format("Subject: {}\n", no_controls(email.subject));
    headers += fmt::format("Date: {}\n", rfc5322_date(d.occurred_epoch));
    headers += fmt::format("Message-ID: {}\n", email.message_id);
    headers += "MIME-Version: 1.0\n"
               "Content-Type: text/plain; charset=utf-8\n"
               "Content-Transfer-Encoding: 8bit\n"
               "Auto-Submitted: auto-generated\n";
    headers += fmt::format("X-Schemahost-Event-Id: {}\n", no_controls(d.event_id));
    headers += fmt::format("X-Schemahost-Event-Type: {}\n", no_controls(d.kind));
    headers += fmt::format("X-Schemahost-Project: {}\n", no_controls(d.project));
    email.text = crlf(headers + "\n" + body);
    return email;
}

std::string webhook_body(const Delivery &d)
{
    const Usage u = usage_of(d);
    nlohmann::ordered_json doc;
    doc["id"] = d.event_id;
    doc["type"] = d.kind;
    doc["project"] = d.project;
    doc["used_bytes"] = u.used ? nlohmann::ordered_json(*u.used) : nlohmann::ordered_json();
    doc["quota_bytes"] = u.quota ? nlohmann::ordered_json(*u.quota) : nlohmann::ordered_json();
    doc["percent"] = u.percent ? nlohmann::ordered_json(*u.percent) : nlohmann::ordered_json();
    doc["occurred_at"] = d.occurred_at;
    nlohmann::ordered_json data = nlohmann::ordered_json::object();
    if (d.payload.is_object())
        for (const auto &[key, value] : d.payload.items())
            if (key != "owner_email") // personal data stays in the email channel
                data[key] = value;
    doc["data"] = data;
    // Invalid UTF-8 in tenant-controlled text must not make the dump throw.
    return doc.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string hmac_sha256_hex(std::string_view key, std::string_view data)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
              reinterpret_cast<const unsigned char *>(data.data()), data.size(), mac, &mac_len))
        throw std::runtime_error("HMAC-SHA256 failed");
    static const char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(mac_len * 2);
    for (unsigned int i = 0; i < mac_len; ++i) {
        out += hex[mac[i] >> 4];
        out += hex[mac[i] & 0x0f];
    }
    return out;
}

std::string webhook_signature(std::string_view secret, std::int64_t unix_ts, std::string_view body)
{
    const std::string ts = std::to_string(unix_ts);
    std::string signed_text = ts;
    signed_text += '.';
    signed_text += body;
    return fmt::format("t={},v1={}", ts, hmac_sha256_hex(secret, signed_text));
}

} // namespace schemahostd::alerts
