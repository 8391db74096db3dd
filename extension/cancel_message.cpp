// Says why a statement of an over project was cancelled.
//
// The refresh that finds a project over cancels the project's sessions that
// hold an open write (pg_cancel_backend() in _quota_apply: the overshoot
// bound of docs/quotas.md). PostgreSQL reports that as "canceling statement
// due to user request", and the owner cannot tell that the storage quota did
// it. emit_log_hook rewrites exactly that report, in the cancelled backend,
// when it is one the refresh would cancel: its login role's project is over
// and it holds a transaction ID (an open write; pg_stat_activity's usesysid
// and backend_xid, which is how _quota_apply picks them). SQLSTATE 57014
// stays (clients treat it as a cancel); message, detail and hint say what
// happened and what to do. A cancel the user asks for in such a session reads
// the same, and is just as true of it. Limits: PostgreSQL calls the hook only
// for reports it logs (log_min_messages at ERROR or below, the default), and a
// PL/pgSQL handler that catches query_canceled sees the original text.
//
// This runs inside error reporting, where another ereport would recurse and
// no C++ exception may start: no C++ object, nothing that can throw, only a
// shared-memory lookup (a shared LWLock) and allocations in ErrorContext that
// may fail, in which case the report is left as PostgreSQL made it.
#include "quota.hpp"

#include "shmem_quota.hpp"

extern "C" {
#include "access/xact.h"
#include "storage/proc.h"
}

#include <cstdio>
#include <cstring>

namespace schemahost::quota
{

namespace
{

emit_log_hook_type prev_emit_log_hook = nullptr;

// The text of PostgreSQL's own report (its msgid, not translated).
constexpr const char *kUserCancel = "canceling statement due to user request";

char *error_text(const char *s)
{
    size_t n = std::strlen(s) + 1;
    char *copy =
        static_cast<char *>(MemoryContextAllocExtended(ErrorContext, n, MCXT_ALLOC_NO_OOM));
    if (copy)
        std::memcpy(copy, s, n);
    return copy;
}

void explain_quota_cancel(ErrorData *edata)
{
    if (edata->elevel != ERROR || edata->sqlerrcode != ERRCODE_QUERY_CANCELED ||
        !edata->message_id || std::strcmp(edata->message_id, kUserCancel) != 0)
        return;
    if (!MyProc || !OidIsValid(MyDatabaseId) || !TransactionIdIsValid(GetTopTransactionIdIfAny()))
        return;
    shmem::ProjectSnapshot p;
    if (!shmem::lookup_role(GetSessionUserId(), &p, false) || p.state != shmem::kOver)
        return;

    char message[NAMEDATALEN + 96];
    char hint[kOverHintMax];
    std::snprintf(message, sizeof message,
                  "canceling statement because project \"%s\" is over its storage quota", p.name);
    format_over_hint(hint, sizeof hint);
    char *m = error_text(message);
    char *d = error_text("The statement was writing when the project went over its quota; its "
                         "changes are rolled back.");
    char *h = error_text(hint);
    if (!m || !d || !h)
        return; // out of memory: PostgreSQL's own report
    edata->message = m;
    edata->detail = d;
    edata->hint = h;
}

void emit_log(ErrorData *edata)
{
    explain_quota_cancel(edata);
    if (prev_emit_log_hook)
        prev_emit_log_hook(edata);
}

} // namespace

void install_cancel_message()
{
    prev_emit_log_hook = emit_log_hook;
    emit_log_hook = emit_log;
}

} // namespace schemahost::quota
