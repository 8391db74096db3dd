// The quota table in shared memory: what the write-path hooks consult.
//
// Two hashes, both keyed by (database OID, OID):
//   - by namespace: the project that owns a schema, its quota state, the last
//     measured usage and a "written since the last refresh" flag;
//   - by role: the project whose login role that is (for utility commands that
//     have no target relation yet, temp tables and large objects).
// Everything here is plain C-style code on trivially copyable data: the lookup
// functions run on the write path and never allocate. Functions that may
// ereport are called through pg_call() by their callers.
#pragma once

#include "pg.hpp"

namespace schemahost::shmem
{

enum QuotaState : int32 { kOk = 0, kWarning = 1, kOver = 2 };

const char *state_name(int32 state);
// -1 for an unknown name.
int32 state_from_name(const char *name);

// A copy of one project's entry, taken under the lock.
struct ProjectSnapshot {
    Oid db;
    Oid nsp;
    Oid role;
    int32 state;
    int64 used;
    int64 quota;
    char name[NAMEDATALEN];
};

// What the SQL side publishes for one project.
struct ProjectUpdate {
    Oid nsp;
    Oid role;
    int32 state;
    int64 used;
    int64 quota;
    const char *name;
};

// Called from _PG_init() when the library is preloaded: installs the
// shmem_request and shmem_startup hooks (chaining the previous ones).
void install();

// True once this process is attached to the quota table.
bool ready();

// Hot path. Look up the project owning namespace nsp (or login role) in the
// current database. On a hit, copy it to *out (when out is not null) and, if
// mark_written, flag the project for the next incremental refresh.
bool lookup_namespace(Oid nsp, ProjectSnapshot *out, bool mark_written);
bool lookup_role(Oid role, ProjectSnapshot *out, bool mark_written);

// Whether role is a project's role in any database (roles are cluster-wide,
// projects per database): a scan of the role table, for the rare statements
// that change a role. out gets that project.
bool lookup_role_any_database(Oid role, ProjectSnapshot *out);

// Transactions: publish(), forget() and take_dirty() change shared memory at
// once (the current transaction sees the change) and are undone if the
// transaction or subtransaction that made them aborts, unless another backend
// changed the same entry since. The state file is written at commit. All may
// ereport (palloc, before any change): call them through pg_call().

// Inserts or updates the entries of the current database; returns how many did
// not fit (schemahost.max_projects). When complete, entries of the current
// database that are not in updates are removed and the database counts as
// primed (dirty tracking is trustworthy from now on).
int publish(const ProjectUpdate *updates, int n, bool complete);

// Removes the entries of these namespaces in the current database.
void forget(const Oid *nsps, int n);

// Namespaces of the current database that were written since the last call, or
// are not ok; clears the written flags (set again if the transaction aborts).
// Returns false (and nothing, but the flags are cleared all the same) when the
// database is not primed yet: the caller must do a full refresh.
// The result is allocated in TopTransactionContext.
bool take_dirty(Oid **nsps, int *n);

// Snapshot of every entry of the current database (palloc'd), for tests.
int snapshot_all(ProjectSnapshot **out, bool **written);

// At commit, rewrite the state file when a change that matters for blocking
// is not on disk yet (a state that is or was not ok); with force, also when
// any other entry was added, removed or changed its role (the refresh passes
// force, so new projects reach the file within one refresh interval). Usage
// numbers alone never cause a rewrite: the first refresh after a start is
// full. A failure to write is a WARNING at commit, retried by the next one.
void request_persist(bool force);

} // namespace schemahost::shmem
