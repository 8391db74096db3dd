#include "dsn.hpp"

#include "text_util.hpp"

#include <algorithm>
#include <cctype>
#include <memory>
#include <string_view>

namespace schemahostd
{

namespace
{

constexpr const char *kMasked = "********";

struct ConninfoFree {
    void operator()(PQconninfoOption *o) const noexcept { PQconninfoFree(o); }
};
using ConninfoPtr = std::unique_ptr<PQconninfoOption, ConninfoFree>;

struct PqFree {
    void operator()(char *p) const noexcept { PQfreemem(p); }
};

bool is_uri(const std::string &s)
{
    const std::string l = to_lower(s.substr(0, 13));
    return l.rfind("postgresql://", 0) == 0 || l.rfind("postgres://", 0) == 0;
}

// A value that libpq might expand into a full connection string of its own.
bool looks_like_conninfo(const std::string &s)
{
    return is_uri(s) || s.find('=') != std::string::npos;
}

bool may_hold_secret(const std::string &dsn)
{
    return is_uri(dsn) || to_lower(dsn).find("password") != std::string::npos;
}

// libpq quotes the offending fragment ("missing "=" after "x"") or the whole
// URI in its parse errors; when the string may hold a password, drop every
// quoted fragment rather than risk printing it.
std::string redact_quoted(const std::string &message)
{
    std::string out;
    bool in_quotes = false;
    for (char c : message) {
        if (c == '"') {
            if (!in_quotes)
                out += "\"...\"";
            in_quotes = !in_quotes;
            continue;
        }
        if (!in_quotes)
            out += c;
    }
    return out;
}

std::string conninfo_value(const PGconn *conn, const char *keyword)
{
    ConninfoPtr opts(PQconninfo(const_cast<PGconn *>(conn)));
    for (auto *o = opts.get(); o && o->keyword; ++o)
        if (std::string_view(o->keyword) == keyword && o->val)
            return o->val;
    return {};
}

} // namespace

std::optional<std::string> dsn_error(const std::string &dsn)
{
    char *raw_error = nullptr;
    ConninfoPtr opts(PQconninfoParse(dsn.c_str(), &raw_error));
    std::unique_ptr<char, PqFree> error(raw_error);
    if (opts)
        return std::nullopt;
    std::string message = error ? one_line(error.get()) : "out of memory";
    if (may_hold_secret(dsn))
        message = redact_quoted(message);
    return "malformed connection string: " + message;
}

std::string quote_conninfo_value(const std::string &value)
{
    const bool plain = !value.empty() && std::none_of(value.begin(), value.end(), [](char c) {
        return std::isspace(static_cast<unsigned char>(c)) || c == '\'' || c == '\\';
    });
    if (plain)
        return value;
    std::string out = "'";
    for (char c : value) {
        if (c == '\'' || c == '\\')
            out += '\\';
        out += c;
    }
    return out + "'";
}

std::string mask_dsn(const std::string &dsn)
{
    if (dsn.empty())
        return {};
    char *raw_error = nullptr;
    ConninfoPtr opts(PQconninfoParse(dsn.c_str(), &raw_error));
    PQfreemem(raw_error);
    if (!opts)
        return "(invalid connection string)";
    // Rendered from libpq's own parse, not by editing the input, so no
    // quoting or URI trick can slip a password through.
    std::string out;
    for (auto *o = opts.get(); o->keyword; ++o) {
        if (!o->val)
            continue;
        std::string value = o->val;
        if (o->dispchar && o->dispchar[0] == '*')
            value = kMasked;
        else if (std::string_view(o->keyword) == "dbname" && looks_like_conninfo(value))
            value = mask_dsn(value);
        if (!out.empty())
            out += ' ';
        out += o->keyword;
        out += '=';
        out += quote_conninfo_value(value);
    }
    return out;
}

std::string describe_target(const PGconn *conn)
{
    if (!conn)
        return {};
    auto *c = const_cast<PGconn *>(conn);
    // The raw host/port lists for multi-host strings; PQhost/PQport name only
    // the host being (or last) tried, with defaults filled in.
    std::string host = conninfo_value(conn, "host");
    if (host.find(',') == std::string::npos && PQhost(c))
        host = PQhost(c);
    std::string port = conninfo_value(conn, "port");
    if (port.find(',') == std::string::npos && PQport(c) && *PQport(c))
        port = PQport(c);
    const std::string hostaddr = conninfo_value(conn, "hostaddr");

    std::string out;
    auto add = [&out](const char *key, const std::string &value) {
        if (value.empty())
            return;
        if (!out.empty())
            out += ' ';
        out += key;
        out += '=';
        out += quote_conninfo_value(value);
    };
    add("host", host);
    add("hostaddr", hostaddr);
    add("port", port);
    const char *db = PQdb(c);
    add("dbname", db && looks_like_conninfo(db) ? mask_dsn(db) : (db ? db : ""));
    add("user", PQuser(c) ? PQuser(c) : "");
    return out;
}

std::string host_port(const PGconn *conn)
{
    auto *c = const_cast<PGconn *>(conn);
    std::string host = PQhost(c) ? PQhost(c) : "";
    if (host.find(':') != std::string::npos && host[0] != '/')
        host = "[" + host + "]";
    const char *port = PQport(c);
    return port && *port ? host + ":" + port : host;
}

} // namespace schemahostd
