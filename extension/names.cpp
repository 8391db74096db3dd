// schemahost.check_project_name(text): validates a project name before
// anything is created, so that every bad name gets its own SQLSTATE and a hint
// instead of a truncation NOTICE or a raw catalog error.
#include "names.hpp"

#include "entry.hpp"
#include "error.hpp"

#include <string>

static_assert(schemahost::names::max_bytes == NAMEDATALEN - 1,
              "project names must fit an identifier without truncation");

namespace schemahost::names
{

namespace
{

const char *const naming_hint =
    "Use lower-case ASCII letters, digits and underscores, starting with a letter, at most 63 "
    "bytes, e.g. 'blog' or 'shop_2'.";

bool starts_with(const std::string &s, const char *prefix)
{
    return s.rfind(prefix, 0) == 0;
}

} // namespace

void check_syntax(const std::string &name)
{
    bool blank = true;
    for (char c : name)
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v')
            blank = false;
    if (blank)
        throw Error("22023", "project name must not be empty or blank").hint(naming_hint);

    if (name.size() > max_bytes)
        throw Error("42622", "project name is too long")
            .detail("The name is " + std::to_string(name.size()) + " bytes; the limit is " +
                    std::to_string(max_bytes) + " bytes.")
            .hint("Choose a shorter name: Postgres would silently truncate it.");

    auto lower = [](char c) { return c >= 'a' && c <= 'z'; };
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    bool ok = lower(name[0]);
    for (char c : name)
        ok = ok && (lower(c) || digit(c) || c == '_');
    if (!ok)
        throw Error("42602", "invalid project name \"" + name + "\"")
            .detail("A project name may contain only lower-case ASCII letters, digits and "
                    "underscores, and must start with a letter.")
            .hint(naming_hint);
}

void check_reserved(const std::string &name)
{
    // Names the server or the extension already gives a meaning to. Roles named
    // pg_* are reserved by Postgres; schemahost_* are the extension's own roles
    // and schema.
    static const char *const reserved[] = {
        "public", "information_schema", "current_user", "session_user", "current_role",
        "none",   "schemahost",         "postgres"};
    bool hit = starts_with(name, "pg_") || starts_with(name, "schemahost");
    for (const char *r : reserved)
        hit = hit || name == r;
    if (hit)
        throw Error("42939", "project name \"" + name + "\" is reserved")
            .detail("public, information_schema, pg_*, schemahost*, postgres, current_user, "
                    "session_user, current_role and none cannot be project names.")
            .hint("Choose another name.");
}

void reject_keyword(const std::string &name)
{
    throw Error("42939", "project name \"" + name + "\" is an SQL keyword")
        .detail("The name would have to be quoted in every statement that uses it.")
        .hint("Choose another name, e.g. \"" + name + "_app\".");
}

} // namespace schemahost::names

// schemahost.check_project_name(name text) RETURNS text: the name, or an error.
SH_FUNCTION(schemahost_check_project_name)
{
    if (PG_ARGISNULL(0))
        throw schemahost::Error("22004", "project name must not be null")
            .hint("Pass a name such as 'blog'.");
    text *arg = PG_GETARG_TEXT_PP(0);
    char *cname = schemahost::pg_call([arg] { return text_to_cstring(arg); });
    std::string name(cname);

    schemahost::names::check_project_name(name, [](const std::string &n) {
        const char *c = n.c_str();
        // quote_identifier() returns its argument unchanged unless the name
        // needs quotes; the characters are already known to be valid, so only
        // a keyword can make it quote.
        const char *q = schemahost::pg_call([c] { return quote_identifier(c); });
        return q != c;
    });
    PG_RETURN_TEXT_P(schemahost::pg_call([cname] { return cstring_to_text(cname); }));
}
