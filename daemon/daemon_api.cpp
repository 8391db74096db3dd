#include "daemon_api.hpp"

#include <fmt/format.h>

#include <cstdlib>

namespace schemahostd
{

namespace
{

constexpr const char *kDuplicatePreparedStatement = "42P05";

long long to_ll(const PGresult *res, int row, int col)
{
    const auto v = pg_value(res, row, col);
    return v ? std::strtoll(v->c_str(), nullptr, 10) : 0;
}

} // namespace

void DaemonApi::forget()
{
    prepared_.clear();
}

PgResultPtr DaemonApi::run(PgConnection &conn, const std::string &schema, const char *name,
                           const char *call, const std::vector<PgParam> &params)
{
    if (schema != schema_) {
        for (const auto &stmt : prepared_)
            conn.exec(fmt::format("DEALLOCATE {}", stmt));
        prepared_.clear();
        schema_ = schema;
    }
    if (!prepared_.count(name)) {
        const std::string sql =
            fmt::format("SELECT * FROM {}.{}", conn.escape_identifier(schema), call);
        const int nparams = static_cast<int>(params.size());
        try {
            conn.prepare(name, sql, nparams);
        } catch (const PgError &e) {
            // Left over from before we forgot it: replace it.
            if (e.sqlstate() != kDuplicatePreparedStatement)
                throw;
            conn.exec(fmt::format("DEALLOCATE {}", name));
            conn.prepare(name, sql, nparams);
        }
        prepared_.insert(name);
    }
    return conn.exec_prepared(name, params);
}

std::string DaemonApi::hello(PgConnection &conn, const std::string &schema,
                             const std::string &version)
{
    const auto res =
        run(conn, schema, "schemahostd_hello", "schemahost_daemon_hello($1::text)", {version});
    return pg_value(res.get(), 0, 0).value_or("");
}

bool DaemonApi::try_lock(PgConnection &conn, const std::string &schema)
{
    const auto res = run(conn, schema, "schemahostd_try_lock", "schemahost_daemon_try_lock()");
    return pg_value(res.get(), 0, 0).value_or("f") == "t";
}

int DaemonApi::active_daemon_pid(PgConnection &conn, const std::string &schema)
{
    const auto res = run(conn, schema, "schemahostd_active_daemon", "schemahost_active_daemon()");
    return PQntuples(res.get()) > 0 ? static_cast<int>(to_ll(res.get(), 0, 0)) : 0;
}

int DaemonApi::refresh_usage(PgConnection &conn, const std::string &schema, bool full)
{
    const auto res =
        run(conn, schema, "schemahostd_refresh_usage", "schemahost_refresh_usage($1::boolean)",
            {std::string(full ? "true" : "false")});
    return PQntuples(res.get());
}

std::vector<Enforcement> DaemonApi::enforce_runtime_limits(PgConnection &conn,
                                                           const std::string &schema)
{
    const auto res = run(conn, schema, "schemahostd_enforce_runtime_limits",
                         "schemahost_enforce_runtime_limits()");
    std::vector<Enforcement> out;
    for (int i = 0; i < PQntuples(res.get()); ++i)
        out.push_back({pg_value(res.get(), i, 0).value_or(""),
                       static_cast<int>(to_ll(res.get(), i, 1)),
                       pg_value(res.get(), i, 2).value_or(""), to_ll(res.get(), i, 3),
                       to_ll(res.get(), i, 4), pg_value(res.get(), i, 5).value_or("")});
    return out;
}

std::vector<std::string> DaemonApi::purge_expired(PgConnection &conn, const std::string &schema)
{
    const auto res = run(conn, schema, "schemahostd_purge_expired", "schemahost_purge_expired()");
    std::vector<std::string> out;
    for (int i = 0; i < PQntuples(res.get()); ++i)
        out.push_back(pg_value(res.get(), i, 0).value_or(""));
    return out;
}

long long DaemonApi::delete_old_events(PgConnection &conn, const std::string &schema,
                                       int retention_days)
{
    const auto res =
        run(conn, schema, "schemahostd_delete_old_events",
            "schemahost_delete_old_events($1::interval)", {fmt::format("{} days", retention_days)});
    return to_ll(res.get(), 0, 0);
}

std::vector<ConnectionCount> DaemonApi::connection_counts(PgConnection &conn,
                                                          const std::string &schema)
{
    const auto res =
        run(conn, schema, "schemahostd_connection_counts", "schemahost_connection_counts()");
    std::vector<ConnectionCount> out;
    for (int i = 0; i < PQntuples(res.get()); ++i)
        out.push_back({pg_value(res.get(), i, 0).value_or(""),
                       static_cast<int>(to_ll(res.get(), i, 1)),
                       static_cast<int>(to_ll(res.get(), i, 2))});
    return out;
}

} // namespace schemahostd
