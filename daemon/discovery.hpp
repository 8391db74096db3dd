// --discover: the databases of an instance where schemahost is installed.
#pragma once

#include "pg_conn.hpp"

#include <functional>
#include <string>
#include <vector>

namespace schemahostd
{

// Connects with seed_dsn, lists the databases that allow connections and
// that this role may connect to, and probes each for the extension. Returns
// their names, sorted. A database that cannot be probed is logged and left
// out. Throws PgError when the seed connection fails.
std::vector<std::string> discover_databases(const std::string &seed_dsn, const PgTimeouts &timeouts,
                                            const std::function<bool()> &should_abort);

} // namespace schemahostd
