// Configuration parameters (GUCs) of the extension. All are PGC_SUSET or
// stricter: a tenant must never be able to change them for itself.
#pragma once

namespace schemahost::guc
{

extern char *default_storage_quota; // pg_size_bytes text, e.g. '100MB'
extern int default_max_connections;
extern char *public_host;
extern char *public_sslmode; // empty: no sslmode in URIs
extern char *drop_grace;     // interval text, e.g. '7 days'
extern int warn_percent;
extern int release_percent; // an over project is released below this percent
extern int max_projects;    // size of the quota table in shared memory (preload only)
extern int refresh_threads; // threads that stat files in a usage refresh, 1 = none
extern bool refresh_watch;  // a full refresh may keep its file list and a watch for the next
extern int default_statement_timeout;           // ms, 0 = none; enforced by schemahostd
extern int default_idle_in_transaction_timeout; // ms, 0 = none; enforced by schemahostd

} // namespace schemahost::guc
