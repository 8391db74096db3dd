// Says why a statement of an over project was cancelled, or one that ran
// past its project's statement limit.
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
// schemahostd's runtime-limit enforcer (schemahost_enforce_runtime_limits)
// cancels a project's statement that runs longer than the project's statement
// limit, and leaves a note for it first (cancel_reason.hpp); when the cancel
// is reported in that statement, the note turns it into the limit's message.
//
// This runs inside error reporting, where another ereport would recurse and
// no C++ exception may start: no C++ object, nothing that can throw, only
// shared-memory lookups (a shared LWLock, a spinlock) and allocations in
// ErrorContext that may fail, in which case the report is left as PostgreSQL
// made it.
#include "quota.hpp"

#include "cancel_reason.hpp"
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

bool user_cancel(const ErrorData *edata)
{
    return edata->elevel == ERROR && edata->sqlerrcode == ERRCODE_QUERY_CANCELED &&
           edata->message_id && std::strcmp(edata->message_id, kUserCancel) == 0;
}

// "2 h", "5 min", "30 s", "1500 ms": the limit as the operator likely wrote it.
void format_limit(char *buf, size_t size, int64 ms)
{
    if (ms > 0 && ms % 86400000 == 0)
        std::snprintf(buf, size, "%lld d", static_cast<long long>(ms / 86400000));
    else if (ms > 0 && ms % 3600000 == 0)
        std::snprintf(buf, size, "%lld h", static_cast<long long>(ms / 3600000));
    else if (ms > 0 && ms % 60000 == 0)
        std::snprintf(buf, size, "%lld min", static_cast<long long>(ms / 60000));
    else if (ms > 0 && ms % 1000 == 0)
        std::snprintf(buf, size, "%lld s", static_cast<long long>(ms / 1000));
    else
        std::snprintf(buf, size, "%lld ms", static_cast<long long>(ms));
}

// Replaces the report's message, detail and hint, or leaves all three as
// they are when ErrorContext has no room for the copies.
void rewrite_report(ErrorData *edata, const char *message, const char *detail, const char *hint)
{
    char *m = error_text(message);
    char *d = error_text(detail);
    char *h = error_text(hint);
    if (!m || !d || !h)
        return; // out of memory: PostgreSQL's own report
    edata->message = m;
    edata->detail = d;
    edata->hint = h;
}

// project: from the enforcer's note, always a project's name.
void explain_runtime_cancel(ErrorData *edata, int64 limit_ms, const char *project)
{
    char limit[48];
    char message[NAMEDATALEN + 96];
    char detail[160];
    format_limit(limit, sizeof limit, limit_ms);
    std::snprintf(message, sizeof message,
                  "canceling statement due to the statement time limit of project \"%s\"", project);
    std::snprintf(detail, sizeof detail,
                  "The statement ran longer than %s, the longest the project's statements may run.",
                  limit);
    rewrite_report(edata, message, detail,
                   "Make the statement faster or split it into smaller ones; an operator can "
                   "change the limit with set_project_limits().");
}

void explain_quota_cancel(ErrorData *edata)
{
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
    rewrite_report(edata, message,
                   "The statement was writing when the project went over its quota; its changes "
                   "are rolled back.",
                   hint);
}

void emit_log(ErrorData *edata)
{
    if (user_cancel(edata)) {
        // The note is taken whatever happens next: it is about one statement.
        int64 limit_ms = 0;
        char project[NAMEDATALEN];
        if (cancel_reason::take_own(&limit_ms, project))
            explain_runtime_cancel(edata, limit_ms, project);
        else
            explain_quota_cancel(edata);
    }
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
