// Why schemahostd cancelled a statement: a note in shared memory, one slot
// per backend, left by the runtime-limit enforcer just before it calls
// pg_cancel_backend(), and read by the cancelled backend's emit_log_hook
// (cancel_message.cpp), which then says that the project's statement limit
// did it instead of "canceling statement due to user request".
//
// Plain C-style code on trivially copyable data: the reader runs inside
// error reporting, where nothing may throw or ereport. A note names the
// statement it is about (when it started, as pg_stat_activity showed it), so
// a cancel that arrives after that statement ended, or a cancel the user asks
// for later, is never explained by it. It also carries the project's name:
// the hook needs no other lookup.
#pragma once

#include "pg.hpp"

namespace schemahost::cancel_reason
{

// Called from _PG_init() when the library is preloaded: installs the
// shmem_request and shmem_startup hooks (chaining the previous ones).
void install();

// Leaves a note for backend `pid`: its statement that started at
// statement_start (pg_stat_activity's query_start, or state_change for a
// fastpath function call) is cancelled for running longer than limit_ms, a
// limit of `project` (truncated to NAMEDATALEN - 1 bytes). False when there
// is no such backend or no shared memory (library not preloaded). May
// ereport (it looks the backend up under ProcArrayLock): call it through
// pg_call().
bool note(int pid, TimestampTz statement_start, int64 limit_ms, const char *project);

// This backend's note for its current statement: one whose start lies
// between the statement's own start and now (pg_stat_activity takes its
// times a little after the statement's). Taken out of the slot, which is left
// empty whatever it held. project gets NAMEDATALEN bytes. Never ereports or
// allocates.
bool take_own(int64 *limit_ms, char *project);

} // namespace schemahost::cancel_reason
