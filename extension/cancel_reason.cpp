// Notes of why schemahostd cancelled a statement (cancel_reason.hpp).
#include "cancel_reason.hpp"

#include "entry.hpp"

#include <cstring>

extern "C" {
#include "storage/ipc.h"
#include "utils/timestamp.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "storage/spin.h"
}

namespace schemahost::cancel_reason
{

namespace
{

struct Slot {
    slock_t mutex;
    int pid; // 0: empty
    TimestampTz statement_start;
    int64 limit_ms;
    char project[NAMEDATALEN];
};

// One slot per regular backend, by PGPROC number; set once in each process.
Slot *slots = nullptr;
int nslots = 0;

shmem_request_hook_type prev_request_hook = nullptr;
shmem_startup_hook_type prev_startup_hook = nullptr;

void request_hook()
{
    if (prev_request_hook)
        prev_request_hook();
    RequestAddinShmemSpace(mul_size(MaxBackends, sizeof(Slot)));
}

void startup_hook()
{
    if (prev_startup_hook)
        prev_startup_hook();
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found = false;
    Slot *s = static_cast<Slot *>(
        ShmemInitStruct("schemahost cancel reasons", mul_size(MaxBackends, sizeof(Slot)), &found));
    if (!found)
        for (int i = 0; i < MaxBackends; i++) {
            SpinLockInit(&s[i].mutex);
            s[i].pid = 0;
        }
    LWLockRelease(AddinShmemInitLock);
    slots = s;
    nslots = MaxBackends;
}

} // namespace

void install()
{
    prev_request_hook = shmem_request_hook;
    shmem_request_hook = [] { schemahost::entry([] { pg_call([] { request_hook(); }); }); };
    prev_startup_hook = shmem_startup_hook;
    shmem_startup_hook = [] { schemahost::entry([] { pg_call([] { startup_hook(); }); }); };
}

bool note(int pid, TimestampTz statement_start, int64 limit_ms, const char *project)
{
    if (!slots)
        return false;
    PGPROC *proc = BackendPidGetProc(pid);
    if (!proc || proc->pgprocno < 0 || proc->pgprocno >= nslots)
        return false;
    Slot &s = slots[proc->pgprocno];
    SpinLockAcquire(&s.mutex);
    s.pid = pid;
    s.statement_start = statement_start;
    s.limit_ms = limit_ms;
    strlcpy(s.project, project, NAMEDATALEN);
    SpinLockRelease(&s.mutex);
    return true;
}

bool take_own(int64 *limit_ms, char *project)
{
    if (!slots || !MyProc || MyProc->pgprocno < 0 || MyProc->pgprocno >= nslots)
        return false;
    Slot &s = slots[MyProc->pgprocno];
    TimestampTz started = GetCurrentStatementStartTimestamp();
    TimestampTz now = GetCurrentTimestamp();
    SpinLockAcquire(&s.mutex);
    bool mine = s.pid == MyProcPid && s.statement_start >= started && s.statement_start <= now;
    *limit_ms = s.limit_ms;
    std::memcpy(project, s.project, NAMEDATALEN);
    s.pid = 0;
    SpinLockRelease(&s.mutex);
    project[NAMEDATALEN - 1] = '\0';
    return mine;
}

} // namespace schemahost::cancel_reason

// schemahost._note_statement_cancel(pid integer, statement_start timestamptz,
//     limit_ms bigint, project name) RETURNS boolean
// Called by schemahost_enforce_runtime_limits() right before it cancels that
// statement; false when the backend is gone or the library is not preloaded.
SH_FUNCTION(schemahost_note_statement_cancel)
{
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
        PG_RETURN_BOOL(false);
    int pid = PG_GETARG_INT32(0);
    TimestampTz start = PG_GETARG_TIMESTAMPTZ(1);
    int64 limit_ms = PG_GETARG_INT64(2);
    const char *project = NameStr(*PG_GETARG_NAME(3));
    bool noted = schemahost::pg_call(
        [=] { return schemahost::cancel_reason::note(pid, start, limit_ms, project); });
    PG_RETURN_BOOL(noted);
}
