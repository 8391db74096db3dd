// The quota table in shared memory and its state file.
//
// This file is plain C-style code on trivially copyable data (no C++ object
// with a destructor is ever live here): the lookups run on every write, and
// every function may be called through pg_call(). The state file makes a
// blocked project stay blocked across a restart: it is rewritten atomically
// (write, fsync, durable_rename) on every change that matters for
// enforcement, and loaded by the postmaster when it creates shared memory.
#include "shmem_quota.hpp"

#include "entry.hpp"
#include "guc.hpp"
#include "pg.hpp"

extern "C" {
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
    NspEntry *e = static_cast<NspEntry *>(hash_search(by_nsp, &k, HASH_ENTER_NULL, &found));
    if (!e)
        return false;
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

bool lookup_namespace(Oid nsp, ProjectSnapshot *out, bool mark_written)
{
    if (!ready() || !OidIsValid(nsp))
        return false;
    Key k = make_key(MyDatabaseId, nsp);
    LWLockAcquire(header->lock, LW_SHARED);
    NspEntry *e = static_cast<NspEntry *>(hash_search(by_nsp, &k, HASH_FIND, nullptr));
    if (e) {
        if (out)
            copy_out(e, out);
        // Read first: writing a flag that is already set would bounce the
        // cache line between backends for nothing.
        if (mark_written && pg_atomic_read_u32(&e->written) == 0)
            pg_atomic_write_u32(&e->written, 1);
    }
    LWLockRelease(header->lock);
    return e != nullptr;
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
    if (e) {
        if (out)
            copy_out(e, out);
        if (mark_written && pg_atomic_read_u32(&e->written) == 0)
            pg_atomic_write_u32(&e->written, 1);
    }
    LWLockRelease(header->lock);
    return e != nullptr;
}

int publish(const ProjectUpdate *updates, int n, bool complete)
{
    if (!ready())
        return 0;
    int failed = 0;
    bool changed = false, urgent = false;
    // Sorted copy of the namespaces for the "complete" sweep (allocated
    // before taking the lock: palloc may fail).
    Oid *sorted = nullptr;
    if (complete && n > 0) {
        sorted = static_cast<Oid *>(palloc(sizeof(Oid) * n));
        for (int i = 0; i < n; i++)
            sorted[i] = updates[i].nsp;
        qsort(sorted, n, sizeof(Oid), oid_cmp);
    }
    LWLockAcquire(header->lock, LW_EXCLUSIVE);
    for (int i = 0; i < n; i++) {
        const ProjectUpdate &u = updates[i];
        if (!upsert_locked(MyDatabaseId, u.nsp, u.role, u.state, u.used, u.quota, u.name, &changed,
                           &urgent))
            failed++;
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
            remove_role_mapping_locked(e->key.db, e->role, e->key.oid);
            changed = true;
            if (e->state != kOk)
                urgent = true;
            Key k = e->key;
            hash_search(by_nsp, &k, HASH_REMOVE, nullptr); // removing the current entry is allowed
        }
        if (failed == 0)
            set_primed_locked(MyDatabaseId);
    }
    LWLockRelease(header->lock);
    if (sorted)
        pfree(sorted);
    if (changed)
        pg_atomic_write_u32(&header->file_stale, 1);
    if (urgent)
        pg_atomic_write_u32(&header->file_urgent, 1);
    return failed;
}

void forget(const Oid *nsps, int n)
{
    if (!ready())
        return;
    bool removed = false, urgent = false;
    LWLockAcquire(header->lock, LW_EXCLUSIVE);
    for (int i = 0; i < n; i++) {
        Key k = make_key(MyDatabaseId, nsps[i]);
        NspEntry *e = static_cast<NspEntry *>(hash_search(by_nsp, &k, HASH_FIND, nullptr));
        if (!e)
            continue;
        remove_role_mapping_locked(MyDatabaseId, e->role, nsps[i]);
        if (e->state != kOk)
            urgent = true;
        hash_search(by_nsp, &k, HASH_REMOVE, nullptr);
        removed = true;
    }
    LWLockRelease(header->lock);
    if (removed)
        pg_atomic_write_u32(&header->file_stale, 1);
    if (urgent)
        pg_atomic_write_u32(&header->file_urgent, 1);
}

bool take_dirty(Oid **nsps, int *n)
{
    *nsps = nullptr;
    *n = 0;
    if (!ready())
        return false;
    // Allocate before taking the lock: palloc may fail.
    int cap = guc::max_projects;
    Oid *out = static_cast<Oid *>(palloc(sizeof(Oid) * cap));
    int count = 0;
    LWLockAcquire(header->lock, LW_SHARED);
    bool primed = db_primed_locked(MyDatabaseId);
    {
        // Flags are cleared even when not primed: a full refresh follows,
        // and a write after this point flags the project again.
        HASH_SEQ_STATUS seq;
        hash_seq_init(&seq, by_nsp);
        NspEntry *e;
        while ((e = static_cast<NspEntry *>(hash_seq_search(&seq))) != nullptr) {
            if (e->key.db != MyDatabaseId)
                continue;
            bool written =
                pg_atomic_read_u32(&e->written) != 0 && pg_atomic_exchange_u32(&e->written, 0) != 0;
            if (primed && (written || e->state != kOk) && count < cap)
                out[count++] = e->key.oid;
        }
    }
    LWLockRelease(header->lock);
    *nsps = out;
    *n = count;
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

void persist_if_needed(bool force)
{
    if (!ready())
        return;
    bool urgent = pg_atomic_read_u32(&header->file_urgent) != 0;
    bool stale = pg_atomic_read_u32(&header->file_stale) != 0;
    if (!urgent && !(force && stale))
        return;

    LWLockAcquire(header->file_lock, LW_EXCLUSIVE);
    // Clear before the snapshot: a change made after it sets them again.
    pg_atomic_write_u32(&header->file_urgent, 0);
    pg_atomic_write_u32(&header->file_stale, 0);

    long cap = guc::max_projects;
    FileRecord *recs = static_cast<FileRecord *>(palloc0(sizeof(FileRecord) * cap));
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

    int fd = OpenTransientFile(kStateTemp, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY);
    if (fd < 0) {
        pg_atomic_write_u32(&header->file_urgent, 1);
        ereport(ERROR,
                (errcode_for_file_access(), errmsg("could not create \"%s\": %m", kStateTemp)));
    }
    uint32 head[2] = {kFileMagic, count};
    size_t body = sizeof(FileRecord) * count;
    if (write(fd, head, sizeof(head)) != (ssize_t)sizeof(head) ||
        (body > 0 && write(fd, recs, body) != (ssize_t)body) || pg_fsync(fd) != 0) {
        int save = errno;
        CloseTransientFile(fd);
        errno = save;
        pg_atomic_write_u32(&header->file_urgent, 1);
        ereport(ERROR,
                (errcode_for_file_access(), errmsg("could not write \"%s\": %m", kStateTemp)));
    }
    CloseTransientFile(fd);
    durable_rename(kStateTemp, kStateFile, ERROR);
    LWLockRelease(header->file_lock);
    pfree(recs);
}

} // namespace schemahost::shmem
