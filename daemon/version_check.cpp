#include "version_check.hpp"

#include <fmt/format.h>

#include <cctype>
#include <cstdlib>

namespace schemahostd
{

namespace
{

constexpr const char *kLookupStatement = "schemahostd_extension";
constexpr const char *kVersionStatement = "schemahostd_version";

// The catalogs are schema-qualified so that no search_path can redirect them.
constexpr const char *kLookupSql = "SELECT n.nspname, e.extversion"
                                   " FROM pg_catalog.pg_extension e"
                                   " JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace"
                                   " WHERE e.extname = $1";

std::optional<int> leading_number(std::string_view &s)
{
    std::size_t n = 0;
    while (n < s.size() && std::isdigit(static_cast<unsigned char>(s[n])))
        ++n;
    if (n == 0 || n > 9)
        return std::nullopt;
    const int value = std::atoi(std::string(s.substr(0, n)).c_str());
    s.remove_prefix(n);
    return value;
}

} // namespace

std::optional<Version> parse_version(std::string_view text)
{
    std::string_view s = text;
    const auto major = leading_number(s);
    if (!major || s.empty() || s[0] != '.')
        return std::nullopt;
    s.remove_prefix(1);
    const auto minor = leading_number(s);
    if (!minor)
        return std::nullopt;
    return Version{*major, *minor};
}

Compatibility check_compatibility(std::string_view daemon_version, std::string_view sql_version,
                                  std::string_view database)
{
    const auto ours = parse_version(daemon_version);
    const auto theirs = parse_version(sql_version);
    if (!ours)
        return {false, fmt::format("cannot parse the daemon's own version \"{}\"", daemon_version)};
    if (!theirs)
        return {false, fmt::format("cannot parse schemahost's version \"{}\" in database \"{}\"",
                                   sql_version, database)};
    if (ours->major == theirs->major && ours->minor == theirs->minor)
        return {true, {}};

    const bool daemon_newer =
        std::make_pair(ours->major, ours->minor) > std::make_pair(theirs->major, theirs->minor);
    const std::string advice =
        daemon_newer
            ? fmt::format("install schemahost {}.{} and run ALTER EXTENSION schemahost UPDATE in "
                          "database \"{}\", or use a schemahostd {}.{}.x",
                          ours->major, ours->minor, database, theirs->major, theirs->minor)
            : fmt::format("upgrade schemahostd to {}.{}.x", theirs->major, theirs->minor);
    return {false, fmt::format("schemahostd {} is not compatible with schemahost {} in database "
                               "\"{}\" (major.minor must match): {}",
                               daemon_version, sql_version, database, advice)};
}

ExtensionInfo ExtensionCheck::run(PgConnection &conn, std::string_view daemon_version)
{
    try {
        return run_unchecked(conn, daemon_version);
    } catch (...) {
        lookup_prepared_ = false;
        version_prepared_for_schema_.reset();
        throw;
    }
}

ExtensionInfo ExtensionCheck::run_unchecked(PgConnection &conn, std::string_view daemon_version)
{
    const std::string db = conn.dbname();
    // Server-side errors become ExtensionErrors saying what we were doing;
    // connection problems stay PgErrors so the caller reconnects.
    auto in_context = [&](const char *doing, auto &&step) {
        try {
            return step();
        } catch (const PgError &e) {
            if (e.kind() != PgError::Kind::query)
                throw;
            throw ExtensionError(fmt::format("{} in database \"{}\": {}", doing, db, e.what()));
        }
    };

    const PgResultPtr found = in_context("cannot look up extension schemahost", [&] {
        if (!lookup_prepared_) {
            // Statements left over from a failed earlier check.
            conn.exec("DEALLOCATE ALL");
            version_prepared_for_schema_.reset();
            conn.prepare(kLookupStatement, kLookupSql, 1);
            lookup_prepared_ = true;
        }
        return conn.exec_prepared(kLookupStatement, {std::string("schemahost")});
    });
    if (PQntuples(found.get()) == 0)
        throw ExtensionError(fmt::format("extension schemahost is not installed in database "
                                         "\"{}\"; run CREATE EXTENSION schemahost",
                                         db));
    ExtensionInfo info;
    info.schema = pg_value(found.get(), 0, 0).value_or("");

    // The function itself refuses to answer when the loaded library and the
    // installed SQL differ; its message says what to do.
    const PgResultPtr versions = in_context("schemahost_version() failed", [&] {
        if (version_prepared_for_schema_ != info.schema) {
            if (version_prepared_for_schema_)
                conn.exec(fmt::format("DEALLOCATE {}", kVersionStatement));
            version_prepared_for_schema_.reset();
            conn.prepare(
                kVersionStatement,
                fmt::format("SELECT library_version, sql_version FROM {}.schemahost_version()",
                            conn.escape_identifier(info.schema)),
                0);
            version_prepared_for_schema_ = info.schema;
        }
        return conn.exec_prepared(kVersionStatement);
    });
    info.library_version = pg_value(versions.get(), 0, 0).value_or("");
    info.sql_version = pg_value(versions.get(), 0, 1).value_or("");
    if (info.sql_version.empty())
        throw ExtensionError(
            fmt::format("schemahost_version() in database \"{}\" returned no version", db));

    const auto compat = check_compatibility(daemon_version, info.sql_version, db);
    if (!compat.ok)
        throw ExtensionError(compat.message);
    return info;
}

} // namespace schemahostd
