// The quota table in shared memory and its state file.
//
// This file is plain C-style code on trivially copyable data (no C++ object
// with a destructor is ever live here): the lookups run on every write, and
// every function may be called through pg_call(). The state file makes a
// blocked project stay blocked across a restart: it is rewritten atomically
// (write, fsync, durable_rename) on every change that matters for
// enforcement, and loaded by the postmaster when it creates shared memory.
// Changes are made at once and undone if their transaction aborts (see
// "Transactions" below); the file is written at commit.
#include "shmem_quota.hpp"

#include "entry.hpp"
#include "guc.hpp"
#include "pg.hpp"

extern "C" {
#include "access/xact.h"
#include "common/file_perm.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"
}

#include <fcntl.h>
#include <unistd.h>

namespace schemahost::shmem
{

namespace
{

constexpr const char *kTranche = "schemahost_quota";
constexpr const char *kStateFile = "schemahost_quota.state";
constexpr const char *kStateTemp = "schemahost_quota.state.tmp";
constexpr uint32 kFileMagic = 0x31514853; // "SHQ1"
constexpr int kMaxPrimed = 64;

struct Key {
    Oid db;
    Oid oid;
};

struct NspEntry {
    Key key; // (database, namespace)
    Oid role;
    int32 state;
    int64 used;
    int64 quota;
    pg_atomic_uint32 written;
    char name[NAMEDATALEN];
};

struct RoleEntry {
    Key key; // (database, role)
    Oid nsp;
};

struct Header {
    LWLock *lock;      // the hashes and the primed list
    LWLock *file_lock; // one writer of the state file at a time
    // Set when an entry changed since the file was written; "urgent" when the
    // change matters for enforcement (a state, a new or removed entry).
    pg_atomic_uint32 file_stale;
    pg_atomic_uint32 file_urgent;
    int nprimed;
    Oid primed[kMaxPrimed];
};

struct FileRecord {
    Oid db;
    Oid nsp;
    Oid role;
    int32 state;
    int64 used;
    int64 quota;
    char name[NAMEDATALEN];
};

// Per-process pointers into shared memory (plain pointers: no constructors).
Header *header = nullptr;
HTAB *by_nsp = nullptr;
HTAB *by_role = nullptr;
shmem_request_hook_type prev_request_hook = nullptr;
shmem_startup_hook_type prev_startup_hook = nullptr;

Size shared_size()
{
    long n = guc::max_projects;
    return add_size(MAXALIGN(sizeof(Header)), add_size(hash_estimate_size(n, sizeof(NspEntry)),
                                                       hash_estimate_size(n, sizeof(RoleEntry))));
}

Key make_key(Oid db, Oid oid)
{
    Key k;
    k.db = db;
    k.oid = oid;
    return k;
}

void copy_out(const NspEntry *e, ProjectSnapshot *out)
{
    out->db = e->key.db;
    out->nsp = e->key.oid;
    out->role = e->role;
    out->state = e->state;
    out->used = e->used;
    out->quota = e->quota;
    memcpy(out->name, e->name, NAMEDATALEN);
}

bool db_primed_locked(Oid db)
{
    for (int i = 0; i < header->nprimed; i++)
        if (header->primed[i] == db)
            return true;
    return false;
}

void set_primed_locked(Oid db)
{
    if (db_primed_locked(db) || header->nprimed >= kMaxPrimed)
        return;
    header->primed[header->nprimed++] = db;
}

void remove_role_mapping_locked(Oid db, Oid role, Oid nsp)
{
    if (!OidIsValid(role))
        return;
    Key k = make_key(db, role);
    RoleEntry *r = static_cast<RoleEntry *>(hash_search(by_role, &k, HASH_FIND, nullptr));
    if (r && r->nsp == nsp)
        hash_search(by_role, &k, HASH_REMOVE, nullptr);
}

// Upserts one entry; returns false when the table is full. *changed: the
// state file is out of date (a new entry, another role or state); *urgent: a
// change that matters for blocking (a state that is or was not ok).
bool upsert_locked(Oid db, Oid nsp, Oid role, int32 state, int64 used, int64 quota,
                   const char *name, bool *changed, bool *urgent)
{
    Key k = make_key(db, nsp);
    bool found = false;
    NspEntry *e = static_cast<NspEntry *>(hash_search(by_nsp, &k, HASH_FIND, nullptr));
    if (e) {
        found = true;
    } else {
        // A fixed limit, not "whatever shared memory is left": the refresh
        // reports what does not fit, and the result must not depend on the
        // other users of the spare shared memory.
        if (hash_get_num_entries(by_nsp) >= guc::max_projects)
            return false;
        e = static_cast<NspEntry *>(hash_search(by_nsp, &k, HASH_ENTER_NULL, &found));
        if (!e)
            return false;
    }
    if (!found) {
        pg_atomic_init_u32(&e->written, 0);
        e->role = InvalidOid;
        e->state = kOk;
        *changed = true;
    }
    if (e->role != role)
        *changed = true;
    if (e->state != state) {
        *changed = true;
        *urgent = true;
    }
    if (!found && state != kOk)
        *urgent = true;
    if (found && e->role != role)
        remove_role_mapping_locked(db, e->role, nsp);
    e->role = role;
    e->state = state;
    e->used = used;
    e->quota = quota;
    strlcpy(e->name, name ? name : "", NAMEDATALEN);
    if (OidIsValid(role)) {
        Key rk = make_key(db, role);
        RoleEntry *r =
            static_cast<RoleEntry *>(hash_search(by_role, &rk, HASH_ENTER_NULL, nullptr));
        if (!r)
            return false;
        r->nsp = nsp;
    }
    return true;
}

// ---------------------------------------------------------------------------
// Transactions.
//
// Shared memory is not transactional. publish(), forget() and take_dirty()
// change it at once, so the transaction that makes a change sees it (a quota
// lowered, then the next INSERT of the same transaction is refused), and
// they record here how to undo it. When the transaction or a subtransaction
// aborts, the abort callback puts every entry it changed back as it was,
// unless another backend changed that entry meanwhile (its newer value
// stays), sets the written flags it took again, and forgets a "primed" it
// set. The state file is written only at commit. The log is backend-local,
// in TopTransactionContext; the callbacks are plain C that cannot fail (an
// error in a commit callback would be a PANIC).

struct Image {
    bool present;
    Oid role;
    int32 state;
    int64 used;
    int64 quota;
    char name[NAMEDATALEN];
};

enum UndoKind : int32 { kUndoEntry, kUndoReflag, kUndoPrimed, kPersistAtCommit };

struct UndoRecord {
    int32 kind;
    int level;    // GetCurrentTransactionNestLevel() of the change
    Oid nsp;      // kUndoEntry
    Image before; // kUndoEntry
    Image after;  // kUndoEntry
    Oid *nsps;    // kUndoReflag: written flags to set again
    int nnsps;
    bool force; // kPersistAtCommit
};

UndoRecord *undo_log = nullptr;
int undo_len = 0;
int undo_cap = 0;
bool callbacks_registered = false;

void persist_nothrow(bool force);
void mark_written_again_nothrow();

Image image_of(const NspEntry *e)
{
    Image im;
    memset(&im, 0, sizeof(im));
    if (e) {
        im.present = true;
        im.role = e->role;
        im.state = e->state;
        im.used = e->used;
        im.quota = e->quota;
        memcpy(im.name, e->name, NAMEDATALEN);
    }
    return im;
}

bool same_image(const Image &a, const Image &b)
{
    if (a.present != b.present)
        return false;
    return !a.present || (a.role == b.role && a.state == b.state && a.used == b.used &&
                          a.quota == b.quota && strcmp(a.name, b.name) == 0);
}

NspEntry *find_locked(Oid nsp)
{
    Key k = make_key(MyDatabaseId, nsp);
    return static_cast<NspEntry *>(hash_search(by_nsp, &k, HASH_FIND, nullptr));
}

void mark_file_stale(bool urgent)
{
    pg_atomic_write_u32(&header->file_stale, 1);
    if (urgent)
        pg_atomic_write_u32(&header->file_urgent, 1);
}

// Undoes records [from, undo_len) in reverse order and drops them. Caller
// holds header->lock exclusively. Cannot fail.
void undo_locked(int from)
{
    bool changed = false, urgent = false;
    for (int i = undo_len - 1; i >= from; i--) {
        const UndoRecord &r = undo_log[i];
        switch (r.kind) {
        case kUndoEntry: {
            NspEntry *e = find_locked(r.nsp);
            Image now = image_of(e);
            if (!same_image(now, r.after))
                break; // changed by someone else since: theirs is newer
            if (r.before.present) {
                bool c = false, u = false;
                upsert_locked(MyDatabaseId, r.nsp, r.before.role, r.before.state, r.before.used,
                              r.before.quota, r.before.name, &c, &u);
            } else if (e) {
                remove_role_mapping_locked(MyDatabaseId, e->role, r.nsp);
                Key k = e->key;
                hash_search(by_nsp, &k, HASH_REMOVE, nullptr);
            }
            changed = true;
            if ((r.before.present && r.before.state != kOk) ||
                (r.after.present && r.after.state != kOk))
                urgent = true;
            break;
        }
        case kUndoReflag:
            for (int j = 0; j < r.nnsps; j++) {
                NspEntry *e = find_locked(r.nsps[j]);
                if (e)
                    pg_atomic_write_u32(&e->written, 1);
            }
            break;
        case kUndoPrimed:
            for (int j = 0; j < header->nprimed; j++)
                if (header->primed[j] == MyDatabaseId) {
                    header->primed[j] = header->primed[--header->nprimed];
                    break;
                }
            break;
        default:
            break;
        }
    }
    undo_len = from;
    // Another commit may have written our changes into the state file.
    if (changed)
        mark_file_stale(urgent);
}

void reset_undo()
{
    undo_log = nullptr; // freed with TopTransactionContext
    undo_len = 0;
    undo_cap = 0;
}

void xact_callback(XactEvent event, void *arg)
{
    switch (event) {
    case XACT_EVENT_PRE_PREPARE:
        if (undo_len > 0)
            ereport(ERROR,
                    (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                     errmsg("cannot PREPARE a transaction that changed the schemahost quota table"),
                     errhint("Run quota changes and schemahost_refresh_usage() outside two-phase "
                             "transactions.")));
        break;
    case XACT_EVENT_COMMIT:
    case XACT_EVENT_PARALLEL_COMMIT: {
        mark_written_again_nothrow();
        bool persist = false, force = false;
        for (int i = 0; i < undo_len; i++)
            if (undo_log[i].kind == kPersistAtCommit) {
                persist = true;
                force = force || undo_log[i].force;
            }
        reset_undo();
        if (persist && ready())
            persist_nothrow(force);
        break;
    }
    case XACT_EVENT_ABORT:
    case XACT_EVENT_PARALLEL_ABORT:
        mark_written_again_nothrow();
        if (undo_len > 0 && ready()) {
            LWLockAcquire(header->lock, LW_EXCLUSIVE);
            undo_locked(0);
            LWLockRelease(header->lock);
        }
        reset_undo();
        break;
    case XACT_EVENT_PREPARE:
        mark_written_again_nothrow(); // COMMIT PREPARED runs elsewhere, later
        reset_undo();
        break;
    default:
        break;
    }
}

void subxact_callback(SubXactEvent event, SubTransactionId mine, SubTransactionId parent, void *arg)
{
    if (undo_len == 0)
        return;
    // Still the subtransaction's own level in both callbacks. The records of
    // this level and deeper are a suffix of the log.
    int level = GetCurrentTransactionNestLevel();
    int from = undo_len;
    while (from > 0 && undo_log[from - 1].level >= level)
        from--;
    if (from == undo_len)
        return;
    if (event == SUBXACT_EVENT_COMMIT_SUB) {
        for (int i = from; i < undo_len; i++)
            undo_log[i].level = level - 1;
    } else if (event == SUBXACT_EVENT_ABORT_SUB && ready()) {
        LWLockAcquire(header->lock, LW_EXCLUSIVE);
        undo_locked(from);
        LWLockRelease(header->lock);
    }
}

// The transaction callbacks, registered by a backend the first time it
// changes the quota table or writes to a project (a read-only backend never
// pays for them). May ereport (palloc): never under the lock.
void ensure_callbacks()
{
    if (callbacks_registered)
        return;
    RegisterXactCallback(xact_callback, nullptr);
    RegisterSubXactCallback(subxact_callback, nullptr);
    callbacks_registered = true;
}

// Makes room for n more records. May ereport (palloc, first registration):
// call before taking the lock, through pg_call().
void undo_reserve(int n)
{
    ensure_callbacks();
    if (undo_len + n <= undo_cap)
        return;
    int cap = Max(Max(undo_cap * 2, undo_len + n), 64);
    Size bytes = sizeof(UndoRecord) * static_cast<Size>(cap);
    if (undo_log)
        undo_log = static_cast<UndoRecord *>(repalloc_huge(undo_log, bytes));
    else
        undo_log = static_cast<UndoRecord *>(MemoryContextAllocHuge(TopTransactionContext, bytes));
    undo_cap = cap;
}

// Only after undo_reserve(); never fails.
UndoRecord *undo_push(int32 kind)
{
    UndoRecord *r = &undo_log[undo_len++];
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->level = GetCurrentTransactionNestLevel();
    return r;
}

// oid_cmp from utils/builtins.h compares Oids for qsort/bsearch.

void load_state_file()
{
    int fd = open(kStateFile, O_RDONLY | PG_BINARY, 0);
    if (fd < 0) {
        if (errno != ENOENT)
            ereport(LOG,
                    (errcode_for_file_access(), errmsg("could not open \"%s\": %m", kStateFile)));
        return;
    }
    uint32 head[2];
    if (read(fd, head, sizeof(head)) != (ssize_t)sizeof(head) || head[0] != kFileMagic) {
        ereport(LOG,
                (errmsg("ignoring schemahost quota state file \"%s\": bad header", kStateFile)));
        close(fd);
        return;
    }
    int loaded = 0;
    bool changed = false, urgent = false;
    for (uint32 i = 0; i < head[1]; i++) {
        FileRecord rec;
        if (read(fd, &rec, sizeof(rec)) != (ssize_t)sizeof(rec)) {
            ereport(LOG, (errmsg("schemahost quota state file \"%s\" is truncated after %d "
                                 "entries",
                                 kStateFile, loaded)));
            break;
        }
        rec.name[NAMEDATALEN - 1] = '\0';
        if (rec.state < kOk || rec.state > kOver)
            continue;
        if (!upsert_locked(rec.db, rec.nsp, rec.role, rec.state, rec.used, rec.quota, rec.name,
                           &changed, &urgent))
            break;
        loaded++;
    }
    close(fd);
    ereport(LOG, (errmsg("schemahost: loaded quota state of %d projects", loaded)));
}

void request_hook()
{
    if (prev_request_hook)
        prev_request_hook();
    RequestAddinShmemSpace(shared_size());
    RequestNamedLWLockTranche(kTranche, 2);
}

void startup_hook()
{
    if (prev_startup_hook)
        prev_startup_hook();

    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found = false;
    header =
        static_cast<Header *>(ShmemInitStruct("schemahost quota header", sizeof(Header), &found));
    if (!found) {
        LWLockPadded *locks = GetNamedLWLockTranche(kTranche);
        header->lock = &locks[0].lock;
        header->file_lock = &locks[1].lock;
        pg_atomic_init_u32(&header->file_stale, 0);
        pg_atomic_init_u32(&header->file_urgent, 0);
        header->nprimed = 0;
    }
    HASHCTL info;
    memset(&info, 0, sizeof(info));
    info.keysize = sizeof(Key);
    info.entrysize = sizeof(NspEntry);
    by_nsp = ShmemInitHash("schemahost quota by namespace", guc::max_projects, guc::max_projects,
                           &info, HASH_ELEM | HASH_BLOBS);
    memset(&info, 0, sizeof(info));
    info.keysize = sizeof(Key);
    info.entrysize = sizeof(RoleEntry);
    by_role = ShmemInitHash("schemahost quota by role", guc::max_projects, guc::max_projects, &info,
                            HASH_ELEM | HASH_BLOBS);
    // Only the postmaster (or a standalone backend) creates the table; it
    // reloads the state the previous server life left.
    if (!found && !IsUnderPostmaster)
        load_state_file();
    LWLockRelease(AddinShmemInitLock);
}

} // namespace

const char *state_name(int32 state)
{
    switch (state) {
    case kWarning:
        return "warning";
    case kOver:
        return "over";
    default:
        return "ok";
    }
}

int32 state_from_name(const char *name)
{
    if (!name)
        return -1;
    if (strcmp(name, "ok") == 0)
        return kOk;
    if (strcmp(name, "warning") == 0)
        return kWarning;
    if (strcmp(name, "over") == 0)
        return kOver;
    return -1;
}

void install()
{
    prev_request_hook = shmem_request_hook;
    shmem_request_hook = [] { schemahost::entry([] { pg_call([] { request_hook(); }); }); };
    prev_startup_hook = shmem_startup_hook;
    shmem_startup_hook = [] { schemahost::entry([] { pg_call([] { startup_hook(); }); }); };
}

bool ready()
{
    return header != nullptr && by_nsp != nullptr;
}

// The projects this transaction wrote to. A refresh that runs while the
// transaction is open clears their written flags, yet cannot see what the
// transaction did to relations it created or rewrote (their pg_class rows
// are not committed), and an aborted write leaves its dead rows in the
// files: so the flags are set again when the transaction ends (commit or
// abort), and the next incremental refresh measures what it left. Plain
// static storage: the write path may not allocate; past kMaxWrittenInXact
// projects (only an operator writes to that many schemas at once) the rest
// wait for the next full refresh.
namespace
{

constexpr int kMaxWrittenInXact = 64;
Oid written_in_xact[kMaxWrittenInXact];
int n_written_in_xact = 0;

inline void remember_written(Oid nsp)
{
    for (int i = 0; i < n_written_in_xact; i++)
        if (written_in_xact[i] == nsp)
            return;
    if (n_written_in_xact < kMaxWrittenInXact)
        written_in_xact[n_written_in_xact++] = nsp;
}

} // namespace

// Read first: writing a flag that is already set would bounce the cache
// line between backends for nothing.
static inline void set_written(NspEntry *e)
{
    if (pg_atomic_read_u32(&e->written) == 0)
        pg_atomic_write_u32(&e->written, 1);
}

// What a lookup does with the entry it found (e may be null): under the
// lock, copies it out and marks it written; then releases the lock and, after
// a write, makes sure the transaction callbacks exist (that may allocate, so
// not under the lock).
static inline bool finish_lookup(NspEntry *e, ProjectSnapshot *out, bool mark_written)
{
    if (e && out)
        copy_out(e, out);
    if (e && mark_written) {
        set_written(e);
        remember_written(e->key.oid);
    }
    LWLockRelease(header->lock);
    if (e && mark_written)
        ensure_callbacks();
    return e != nullptr;
}

namespace
{

// At the end of a transaction, commit or abort: cannot fail (a shared lock
// and hash lookups that do not allocate).
void mark_written_again_nothrow()
{
    if (n_written_in_xact == 0)
        return;
    if (ready()) {
        LWLockAcquire(header->lock, LW_SHARED);
        for (int i = 0; i < n_written_in_xact; i++) {
            Key k = make_key(MyDatabaseId, written_in_xact[i]);
            NspEntry *e = static_cast<NspEntry *>(hash_search(by_nsp, &k, HASH_FIND, nullptr));
            if (e)
                set_written(e);
        }
        LWLockRelease(header->lock);
    }
    n_written_in_xact = 0;
}

} // namespace

bool lookup_namespace(Oid nsp, ProjectSnapshot *out, bool mark_written)
{
    if (!ready() || !OidIsValid(nsp))
        return false;
    Key k = make_key(MyDatabaseId, nsp);
    LWLockAcquire(header->lock, LW_SHARED);
    NspEntry *e = static_cast<NspEntry *>(hash_search(by_nsp, &k, HASH_FIND, nullptr));
    return finish_lookup(e, out, mark_written);
}

bool lookup_role(Oid role, ProjectSnapshot *out, bool mark_written)
{
    if (!ready() || !OidIsValid(role))
        return false;
    Key rk = make_key(MyDatabaseId, role);
    LWLockAcquire(header->lock, LW_SHARED);
    RoleEntry *r = static_cast<RoleEntry *>(hash_search(by_role, &rk, HASH_FIND, nullptr));
    NspEntry *e = nullptr;
    if (r) {
        Key k = make_key(MyDatabaseId, r->nsp);
        e = static_cast<NspEntry *>(hash_search(by_nsp, &k, HASH_FIND, nullptr));
    }
    return finish_lookup(e, out, mark_written);
}

bool lookup_role_any_database(Oid role, ProjectSnapshot *out)
{
    if (!ready() || !OidIsValid(role))
        return false;
    LWLockAcquire(header->lock, LW_SHARED);
    HASH_SEQ_STATUS it;
    hash_seq_init(&it, by_role);
    NspEntry *e = nullptr;
    for (RoleEntry *r; (r = static_cast<RoleEntry *>(hash_seq_search(&it))) != nullptr;) {
        if (r->key.oid != role)
            continue;
        Key k = make_key(r->key.db, r->nsp);
        e = static_cast<NspEntry *>(hash_search(by_nsp, &k, HASH_FIND, nullptr));
        if (e) {
            hash_seq_term(&it);
            break;
        }
    }
    return finish_lookup(e, out, false);
}

int publish(const ProjectUpdate *updates, int n, bool complete)
{
    if (!ready())
        return 0;
    int failed = 0;
    bool changed = false, urgent = false;
    // Everything that may fail comes before the lock: the sorted copy of the
    // namespaces for the "complete" sweep, and room in the undo log for every
    // entry this may change (the sweep stops when the room is used up; what
    // it leaves is removed by the next full refresh).
    Oid *sorted = nullptr;
    if (complete && n > 0) {
        sorted = static_cast<Oid *>(palloc(sizeof(Oid) * n));
        for (int i = 0; i < n; i++)
            sorted[i] = updates[i].nsp;
        qsort(sorted, n, sizeof(Oid), oid_cmp);
    }
    long sweep_room = complete ? hash_get_num_entries(by_nsp) + 64 : 0;
    undo_reserve(n + static_cast<int>(sweep_room) + 1);
    int room = undo_cap - undo_len;

    LWLockAcquire(header->lock, LW_EXCLUSIVE);
    for (int i = 0; i < n && room > 1; i++) {
        const ProjectUpdate &u = updates[i];
        Image before = image_of(find_locked(u.nsp));
        if (!upsert_locked(MyDatabaseId, u.nsp, u.role, u.state, u.used, u.quota, u.name, &changed,
                           &urgent))
            failed++;
        Image after = image_of(find_locked(u.nsp));
        if (!same_image(before, after)) {
            UndoRecord *r = undo_push(kUndoEntry);
            r->nsp = u.nsp;
            r->before = before;
            r->after = after;
            room--;
        }
    }
    if (complete) {
        HASH_SEQ_STATUS seq;
        hash_seq_init(&seq, by_nsp);
        NspEntry *e;
        while ((e = static_cast<NspEntry *>(hash_seq_search(&seq))) != nullptr) {
            if (e->key.db != MyDatabaseId)
                continue;
            if (sorted && bsearch(&e->key.oid, sorted, n, sizeof(Oid), oid_cmp) != nullptr)
                continue;
            if (room <= 1)
                continue; // no room to undo it: left for the next full refresh
            UndoRecord *r = undo_push(kUndoEntry);
            r->nsp = e->key.oid;
            r->before = image_of(e);
            room--;
            remove_role_mapping_locked(e->key.db, e->role, e->key.oid);
            changed = true;
            if (e->state != kOk)
                urgent = true;
            Key k = e->key;
            hash_search(by_nsp, &k, HASH_REMOVE, nullptr); // removing the current entry is allowed
        }
        if (failed == 0 && !db_primed_locked(MyDatabaseId)) {
            set_primed_locked(MyDatabaseId);
            undo_push(kUndoPrimed);
        }
    }
    LWLockRelease(header->lock);
    if (sorted)
        pfree(sorted);
    if (changed)
        mark_file_stale(urgent);
    return failed;
}

void forget(const Oid *nsps, int n)
{
    if (!ready())
        return;
    undo_reserve(n);
    bool removed = false, urgent = false;
    LWLockAcquire(header->lock, LW_EXCLUSIVE);
    for (int i = 0; i < n; i++) {
        NspEntry *e = find_locked(nsps[i]);
        if (!e)
            continue;
        UndoRecord *r = undo_push(kUndoEntry);
        r->nsp = nsps[i];
        r->before = image_of(e);
        remove_role_mapping_locked(MyDatabaseId, e->role, nsps[i]);
        if (e->state != kOk)
            urgent = true;
        Key k = e->key;
        hash_search(by_nsp, &k, HASH_REMOVE, nullptr);
        removed = true;
    }
    LWLockRelease(header->lock);
    if (removed)
        mark_file_stale(urgent);
}

bool take_dirty(Oid **nsps, int *n)
{
    *nsps = nullptr;
    *n = 0;
    if (!ready())
        return false;
    // Allocate before taking the lock: palloc may fail. The array is also
    // the undo record (flags set again if the refresh aborts), so it lives
    // as long as the transaction.
    int cap = guc::max_projects;
    Oid *out = static_cast<Oid *>(MemoryContextAllocHuge(TopTransactionContext, sizeof(Oid) * cap));
    undo_reserve(1);
    int count = 0;
    int taken = 0;
    LWLockAcquire(header->lock, LW_SHARED);
    bool primed = db_primed_locked(MyDatabaseId);
    {
        // Flags are cleared even when not primed: a full refresh follows,
        // and a write after this point flags the project again. The taken
        // ones come first in out[], the others (not ok) after them.
        HASH_SEQ_STATUS seq;
        hash_seq_init(&seq, by_nsp);
        NspEntry *e;
        while ((e = static_cast<NspEntry *>(hash_seq_search(&seq))) != nullptr) {
            if (e->key.db != MyDatabaseId)
                continue;
            bool written =
                pg_atomic_read_u32(&e->written) != 0 && pg_atomic_exchange_u32(&e->written, 0) != 0;
            if (count >= cap)
                continue;
            if (written) {
                if (count > taken)
                    out[count] = out[taken];
                out[taken++] = e->key.oid;
                count++;
            } else if (e->state != kOk) {
                out[count++] = e->key.oid;
            }
        }
    }
    UndoRecord *r = undo_push(kUndoReflag);
    r->nsps = out;
    r->nnsps = taken;
    LWLockRelease(header->lock);
    *nsps = out;
    *n = primed ? count : 0;
    return primed;
}

int snapshot_all(ProjectSnapshot **out, bool **written)
{
    *out = nullptr;
    *written = nullptr;
    if (!ready())
        return 0;
    int cap = guc::max_projects;
    ProjectSnapshot *snaps = static_cast<ProjectSnapshot *>(palloc(sizeof(ProjectSnapshot) * cap));
    bool *flags = static_cast<bool *>(palloc(sizeof(bool) * cap));
    int count = 0;
    LWLockAcquire(header->lock, LW_SHARED);
    HASH_SEQ_STATUS seq;
    hash_seq_init(&seq, by_nsp);
    NspEntry *e;
    while ((e = static_cast<NspEntry *>(hash_seq_search(&seq))) != nullptr) {
        if (e->key.db != MyDatabaseId || count >= cap)
            continue;
        copy_out(e, &snaps[count]);
        flags[count] = pg_atomic_read_u32(&e->written) != 0;
        count++;
    }
    LWLockRelease(header->lock);
    *out = snaps;
    *written = flags;
    return count;
}

void request_persist(bool force)
{
    if (!ready())
        return;
    undo_reserve(1);
    undo_push(kPersistAtCommit)->force = force;
}

namespace
{

// Rewrites the state file when needed; runs in the commit callback, so it
// cannot ereport(ERROR): plain system calls, memory that may be missing, and
// a WARNING (the file stays marked out of date, the next commit that
// publishes tries again) when anything fails.
void persist_nothrow(bool force)
{
    bool urgent = pg_atomic_read_u32(&header->file_urgent) != 0;
    bool stale = pg_atomic_read_u32(&header->file_stale) != 0;
    if (!urgent && !(force && stale))
        return;

    long cap = guc::max_projects;
    FileRecord *recs = static_cast<FileRecord *>(
        MemoryContextAllocExtended(TopMemoryContext, sizeof(FileRecord) * cap,
                                   MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM | MCXT_ALLOC_ZERO));
    if (!recs) {
        ereport(WARNING,
                (errcode(ERRCODE_OUT_OF_MEMORY),
                 errmsg("could not write the schemahost quota state file: out of memory")));
        return;
    }

    LWLockAcquire(header->file_lock, LW_EXCLUSIVE);
    // Clear before the snapshot: a change made after it sets them again.
    pg_atomic_write_u32(&header->file_urgent, 0);
    pg_atomic_write_u32(&header->file_stale, 0);
    uint32 count = 0;
    LWLockAcquire(header->lock, LW_SHARED);
    HASH_SEQ_STATUS seq;
    hash_seq_init(&seq, by_nsp);
    NspEntry *e;
    while ((e = static_cast<NspEntry *>(hash_seq_search(&seq))) != nullptr) {
        if (count >= (uint32)cap)
            continue;
        FileRecord &r = recs[count++];
        r.db = e->key.db;
        r.nsp = e->key.oid;
        r.role = e->role;
        r.state = e->state;
        r.used = e->used;
        r.quota = e->quota;
        memcpy(r.name, e->name, NAMEDATALEN);
    }
    LWLockRelease(header->lock);

    // Plain open/write/fsync/rename (the backend's cwd is the data
    // directory): fd.c's helpers may raise an ERROR, which here would PANIC.
    const char *failed = nullptr;
    int fd = open(kStateTemp, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY, pg_file_create_mode);
    if (fd < 0) {
        failed = "create";
    } else {
        uint32 head[2] = {kFileMagic, count};
        size_t body = sizeof(FileRecord) * count;
        if (write(fd, head, sizeof(head)) != (ssize_t)sizeof(head) ||
            (body > 0 && write(fd, recs, body) != (ssize_t)body))
            failed = "write";
        else if (pg_fsync(fd) != 0)
            failed = "fsync";
        int save = errno;
        close(fd);
        errno = save;
        if (!failed && rename(kStateTemp, kStateFile) != 0)
            failed = "rename";
        if (!failed) {
            int dfd = open(".", O_RDONLY | PG_BINARY, 0);
            if (dfd < 0 || pg_fsync(dfd) != 0)
                failed = "fsync the data directory after renaming";
            save = errno;
            if (dfd >= 0)
                close(dfd);
            errno = save;
        }
    }
    int err = errno;
    if (failed) {
        pg_atomic_write_u32(&header->file_stale, 1);
        pg_atomic_write_u32(&header->file_urgent, 1);
    }
    LWLockRelease(header->file_lock);
    pfree(recs);
    errno = err;
    if (failed)
        ereport(WARNING,
                (errcode_for_file_access(),
                 errmsg("could not %s schemahost quota state file \"%s\": %m", failed, kStateFile),
                 errdetail("Quota states changed since the last successful write would "
                           "be lost at a restart until the next full refresh."),
                 errhint("The next refresh tries again; check the data directory.")));
}

} // namespace

} // namespace schemahost::shmem
