// The extension's SQL API as the daemon uses it: each call is one statement,
// so one transaction, prepared once per connection and schema. The functions
// are called schema-qualified (the schema the extension was created in), so
// no search_path can redirect them.
#pragma once

#include "pg_conn.hpp"

#include <set>
#include <string>
#include <vector>

namespace schemahostd
{

struct Enforcement {
    std::string project;
    int pid = 0;
    std::string action;     // cancel | terminate
    long long limit_ms = 0; // 0 for reasons without a limit (project_suspended, project_dropped)
    long long duration_ms = 0;
    // statement_timeout | idle_in_transaction_timeout | project_suspended | project_dropped
    std::string reason;
};

struct ConnectionCount {
    std::string project;
    int connections = 0;
    int max_connections = 0;
};

class DaemonApi
{
  public:
    // The connection's prepared statements are gone (new connection, or
    // DEALLOCATE ALL): prepare again on next use.
    void forget();

    // schemahost_daemon_hello(): throws PgError (feature_not_supported when
    // the extension refuses this daemon's version). Returns the extension's version.
    std::string hello(PgConnection &conn, const std::string &schema, const std::string &version);
    // schemahost_daemon_try_lock(): true when this session is (now) the active daemon.
    bool try_lock(PgConnection &conn, const std::string &schema);
    // The pid of the active daemon's session, 0 when none is visible.
    int active_daemon_pid(PgConnection &conn, const std::string &schema);
    // schemahost_refresh_usage(full): number of projects measured.
    int refresh_usage(PgConnection &conn, const std::string &schema, bool full);
    std::vector<Enforcement> enforce_runtime_limits(PgConnection &conn, const std::string &schema);
    std::vector<std::string> purge_expired(PgConnection &conn, const std::string &schema);
    // schemahost_delete_old_events(retention): number of events deleted.
    long long delete_old_events(PgConnection &conn, const std::string &schema, int retention_days);
    std::vector<ConnectionCount> connection_counts(PgConnection &conn, const std::string &schema);

  private:
    PgResultPtr run(PgConnection &conn, const std::string &schema, const char *name,
                    const char *call, const std::vector<PgParam> &params = {});

    std::string schema_;
    std::set<std::string> prepared_;
};

} // namespace schemahostd
