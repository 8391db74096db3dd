#include "discovery.hpp"

#include "dsn.hpp"
#include "logging.hpp"

namespace schemahostd
{

std::vector<std::string> discover_databases(const std::string &seed_dsn, const PgTimeouts &timeouts,
                                            const std::function<bool()> &should_abort)
{
    std::vector<std::string> candidates;
    {
        auto seed = PgConnection::connect(seed_dsn, timeouts, should_abort);
        const auto res = seed.exec("SELECT d.datname FROM pg_catalog.pg_database d"
                                   " WHERE d.datallowconn AND NOT d.datistemplate"
                                   "   AND pg_catalog.has_database_privilege(d.oid, 'CONNECT')"
                                   " ORDER BY d.datname");
        for (int i = 0; i < PQntuples(res.get()); ++i)
            candidates.push_back(pg_value(res.get(), i, 0).value_or(""));
    }
    std::vector<std::string> found;
    for (const auto &db : candidates) {
        try {
            auto conn = PgConnection::connect(seed_dsn, timeouts, should_abort, db);
            const auto res =
                conn.exec("SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'schemahost'");
            if (PQntuples(res.get()) > 0)
                found.push_back(db);
        } catch (const PgError &e) {
            if (e.kind() == PgError::Kind::interrupted)
                throw;
            log_warn("cannot probe database for schemahost",
                     {{"seed", mask_dsn(seed_dsn)}, {"database", db}, {"error", e.what()}});
        }
    }
    return found;
}

} // namespace schemahostd
