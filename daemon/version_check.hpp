// Is the schemahost extension installed in a database, and can this daemon
// work with it? The daemon speaks the extension's SQL API, which may change
// between minor versions: major.minor must match exactly.
#pragma once

#include "pg_conn.hpp"

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace schemahostd
{

constexpr const char *kDaemonVersion = SCHEMAHOSTD_VERSION;

struct Version {
    int major = 0;
    int minor = 0;
};

// "1.2", "1.2.3", "1.2.3-dev", "1.2beta1" → {1, 2}; nothing if there is no
// leading major.minor.
std::optional<Version> parse_version(std::string_view text);

struct Compatibility {
    bool ok = false;
    std::string message; // when not ok: both versions and what to do
};

Compatibility check_compatibility(std::string_view daemon_version, std::string_view sql_version,
                                  std::string_view database);

// The extension is missing, broken or incompatible: not a connection problem,
// so the caller keeps the connection and retries later.
class ExtensionError : public std::runtime_error
{
  public:
    using std::runtime_error::runtime_error;
};

struct ExtensionInfo {
    std::string schema;
    std::string sql_version;     // from schemahost_version()
    std::string library_version; // from schemahost_version()
};

// Runs the check on one connection. Statements are prepared on first use and
// again after any failure (the extension may have been dropped and created in
// another schema meanwhile).
class ExtensionCheck
{
  public:
    // Throws ExtensionError, or PgError for connection problems.
    ExtensionInfo run(PgConnection &conn, std::string_view daemon_version = kDaemonVersion);

  private:
    ExtensionInfo run_unchecked(PgConnection &conn, std::string_view daemon_version);

    bool lookup_prepared_ = false;
    std::optional<std::string> version_prepared_for_schema_;
};

} // namespace schemahostd
