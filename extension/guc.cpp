#include "guc.hpp"

#include "module.hpp"
#include "pg.hpp"

namespace schemahost::guc
{

char *default_storage_quota = nullptr;
int default_max_connections = 10;
char *public_host = nullptr;
char *public_sslmode = nullptr;
char *drop_grace = nullptr;
int warn_percent = 80;
int release_percent = 95;
int max_projects = 20000;
int refresh_threads = 4;
bool refresh_watch = true;
int default_statement_timeout = 300000;
int default_idle_in_transaction_timeout = 60000;

} // namespace schemahost::guc

namespace schemahost
{

// Called from _PG_init() inside entry(); the DefineCustom* functions may
// ereport, but nothing non-trivial is alive in this frame.
void define_gucs()
{
    DefineCustomStringVariable(
        "schemahost.default_storage_quota",
        "Storage quota given to new projects (any unit pg_size_bytes accepts).", nullptr,
        &guc::default_storage_quota, "100MB", PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "schemahost.default_max_connections", "Connection limit given to new projects.", nullptr,
        &guc::default_max_connections, 10, 1, 10000, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomStringVariable(
        "schemahost.public_host", "Host name written into the connection URIs handed to projects.",
        nullptr, &guc::public_host, "localhost", PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomStringVariable("schemahost.public_sslmode",
                               "sslmode added to connection URIs; empty adds none.", nullptr,
                               &guc::public_sslmode, "", PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomStringVariable("schemahost.drop_grace",
                               "How long a dropped project is kept before it is purged.", nullptr,
                               &guc::drop_grace, "7 days", PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("schemahost.warn_percent",
                            "Usage, in percent of the storage quota, at which a project is warned.",
                            nullptr, &guc::warn_percent, 80, 1, 99, PGC_SUSET, 0, nullptr, nullptr,
                            nullptr);
    DefineCustomIntVariable(
        "schemahost.release_percent",
        "Usage, in percent of the storage quota, below which an over project may "
        "write again.",
        nullptr, &guc::release_percent, 95, 50, 99, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    // Helper threads of a usage refresh (extension/relation_files.cpp): 1
    // keeps the backend single-threaded.
    DefineCustomIntVariable("schemahost.refresh_threads",
                            "Threads (the backend's included) that read file sizes during a "
                            "usage refresh; 1 uses no helper thread.",
                            nullptr, &guc::refresh_threads, 4, 1, 8, PGC_SUSET, 0, nullptr, nullptr,
                            nullptr);
    // Off for a data directory whose changes inotify does not report (a
    // network file system written by another host), and to time a full
    // refresh that reads the directory (bench/refresh.py).
    DefineCustomBoolVariable("schemahost.refresh_watch",
                             "Lets a full usage refresh keep the list of relation files and an "
                             "inotify watch on the database directory for the next one.",
                             nullptr, &guc::refresh_watch, true, PGC_SUSET, 0, nullptr, nullptr,
                             nullptr);
    // Runtime limits of project sessions, enforced by schemahostd (a tenant
    // can lift its own statement_timeout, not these).
    DefineCustomIntVariable("schemahost.default_statement_timeout",
                            "Longest statement a project session may run before schemahostd "
                            "cancels it, unless set per project; 0 disables.",
                            nullptr, &guc::default_statement_timeout, 300000, 0, INT_MAX, PGC_SUSET,
                            GUC_UNIT_MS, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("schemahost.default_idle_in_transaction_timeout",
                            "Longest a project session may stay idle in a transaction before "
                            "schemahostd terminates it, unless set per project; 0 disables.",
                            nullptr, &guc::default_idle_in_transaction_timeout, 60000, 0, INT_MAX,
                            PGC_SUSET, GUC_UNIT_MS, nullptr, nullptr, nullptr);
    // PGC_POSTMASTER variables may only be defined while preloading.
    if (process_shared_preload_libraries_in_progress)
        DefineCustomIntVariable("schemahost.max_projects",
                                "Projects the shared-memory quota table can hold (all databases).",
                                nullptr, &guc::max_projects, 20000, 100, 10000000, PGC_POSTMASTER,
                                0, nullptr, nullptr, nullptr);
    MarkGUCPrefixReserved("schemahost");
}

} // namespace schemahost
