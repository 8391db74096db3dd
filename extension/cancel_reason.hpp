// Why schemahostd cancelled a statement: a note in shared memory, one slot
// per backend, left by the runtime-limit enforcer just before it calls
// pg_cancel_backend(), and read by the cancelled backend's emit_log_hook
// (cancel_message.cpp), which then says that the project's statement limit
// did it instead of "canceling statement due to user request".
//
// Plain C-style code on trivially copyable data: the reader runs inside
// error reporting, where nothing may throw or ereport. A note names the
// statement it is about (its start time), so a cancel that arrives after
// that statement ended, or a cancel the user asks for later, is never
// explained by it.
#pragma once

#include "pg.hpp"

namespace schemahost::cancel_reason
{

// Called from _PG_init() when the library is preloaded: installs the
// shmem_request and shmem_startup hooks (chaining the previous ones).
void install();

// Leaves a note for backend `pid`: its statement that started at
// statement_start is cancelled for running longer than limit_ms. False when
// there is no such backend or no shared memory (library not preloaded).
// May ereport (it looks the backend up under ProcArrayLock): call it
// through pg_call().
bool note(int pid, TimestampTz statement_start, int64 limit_ms);

// This backend's note for its current statement, taken out of the slot
// (the slot is left empty whatever it held). Never ereports or allocates.
bool take_own(int64 *limit_ms);

} // namespace schemahost::cancel_reason
