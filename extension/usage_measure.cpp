// Measuring the bytes a project uses, from the relation files themselves.
//
//   schemahost._usage_measure(nsps oid[], full boolean)
//       RETURNS TABLE(nsp oid, bytes bigint)
//
// pg_class is read with a plain catalog heap scan, or for an incremental
// refresh of a few projects through pg_depend, pg_index and the syscache
// (AccessShareLock on those catalogs only): no lock is ever taken on a user
// relation, so a measurement never queues behind a tenant's DDL or blocks it.
// Each relation with storage of the
// given schemas (tables, indexes, sequences, materialized views, and the TOAST
// table and TOAST index of each) is charged to the schema it is in *now*, by
// its current relfilenode: SET SCHEMA, OWNER TO and every rewrite (VACUUM
// FULL, CLUSTER, REINDEX, TRUNCATE, ALTER TABLE) are accounted for as they are.
//
// Sizes: the incremental mode stat()s the forks each relation kind can have
// (main, fsm, vm, init) and their segments; the full mode reads the database
// directory once and sums every existing file by relfilenode (one fstatat
// each, no probe of a fork that does not exist), which is cheaper when most
// relations are measured; its fstatat() calls are spread over a few helper
// threads under strict rules (see stat_chunks()).
#include "entry.hpp"
#include "guc.hpp"
#include "quota_arrays.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_class.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_index.h"
#include "catalog/pg_namespace.h"
#include "common/relpath.h"
#include "utils/fmgroids.h"
#include "utils/syscache.h"
}

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace
{

using schemahost::pg_call;

struct RelFile {
    Oid nsp;         // the schema charged
    Oid relfilenode; // 0: mapped (never a tenant relation)
    Oid tablespace;  // 0: the database's default
    char relkind;
    char persistence;
};

bool has_storage(char relkind)
{
    return relkind == RELKIND_RELATION || relkind == RELKIND_INDEX || relkind == RELKIND_SEQUENCE ||
           relkind == RELKIND_TOASTVALUE || relkind == RELKIND_MATVIEW;
}

Oid effective_tablespace(Oid spc)
{
    return OidIsValid(spc) ? spc : MyDatabaseTableSpace;
}

// Scans a catalog relation with a heap scan (or the given index and key) and
// calls fn for every visible tuple. Only the catalog is locked.
template <typename F> void scan_catalog(Oid catalog, Oid index, ScanKeyData *key, int nkeys, F &&fn)
{
    Relation rel = pg_call([catalog] { return table_open(catalog, AccessShareLock); });
    bool use_index = OidIsValid(index);
    SysScanDesc scan =
        pg_call([=] { return systable_beginscan(rel, index, use_index, nullptr, nkeys, key); });
    for (;;) {
        HeapTuple tup = pg_call([scan] {
            CHECK_FOR_INTERRUPTS();
            return systable_getnext(scan);
        });
        if (!HeapTupleIsValid(tup))
            break;
        fn(tup);
    }
    pg_call([=] {
        systable_endscan(scan);
        table_close(rel, AccessShareLock);
    });
}

// The columns of a pg_class row the measurement needs, from the syscache.
struct ClassRow {
    bool found;
    Oid nsp;
    Oid relfilenode;
    Oid tablespace;
    Oid toast;
    char relkind;
    char persistence;
};

ClassRow class_row(Oid relid)
{
    ClassRow row{false, InvalidOid, InvalidOid, InvalidOid, InvalidOid, 0, 0};
    pg_call([&row, relid] {
        HeapTuple t = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
        if (!HeapTupleIsValid(t))
            return; // dropped meanwhile
        Form_pg_class c = reinterpret_cast<Form_pg_class>(GETSTRUCT(t));
        row.found = true;
        row.nsp = c->relnamespace;
        row.relfilenode = c->relfilenode;
        row.tablespace = c->reltablespace;
        row.toast = c->reltoastrelid;
        row.relkind = c->relkind;
        row.persistence = c->relpersistence;
        ReleaseSysCache(t);
    });
    return row;
}

// Calls fn(indexrelid) for every index of a relation (pg_index by indrelid).
template <typename F> void for_each_index(Oid relid, F &&fn)
{
    ScanKeyData key;
    pg_call([&key, relid] {
        ScanKeyInit(&key, Anum_pg_index_indrelid, BTEqualStrategyNumber, F_OIDEQ,
                    ObjectIdGetDatum(relid));
    });
    scan_catalog(IndexRelationId, IndexIndrelidIndexId, &key, 1, [&](HeapTuple tup) {
        fn(reinterpret_cast<Form_pg_index>(GETSTRUCT(tup))->indexrelid);
    });
}

// Up to this many projects, an incremental refresh finds their relations
// through the catalog indexes; above, one scan of pg_class is cheaper.
constexpr size_t kIndexedProjectsMax = 500;

// The relations with storage of one schema, found through pg_depend: every
// relation but indexes and TOAST tables has a dependency on its namespace
// (heap_create_with_catalog() records it, SET SCHEMA moves it); indexes are
// found through their table, TOAST tables through reltoastrelid (left in
// toast_owner, like the pg_class scan does). The namespace is checked again
// on each pg_class row: only where the relation is now counts.
void schema_relations(Oid nsp, std::vector<RelFile> &rels,
                      std::unordered_map<Oid, Oid> &toast_owner)
{
    ScanKeyData keys[2];
    pg_call([&keys, nsp] {
        ScanKeyInit(&keys[0], Anum_pg_depend_refclassid, BTEqualStrategyNumber, F_OIDEQ,
                    ObjectIdGetDatum(NamespaceRelationId));
        ScanKeyInit(&keys[1], Anum_pg_depend_refobjid, BTEqualStrategyNumber, F_OIDEQ,
                    ObjectIdGetDatum(nsp));
    });
    std::vector<Oid> members;
    scan_catalog(DependRelationId, DependReferenceIndexId, keys, 2, [&](HeapTuple tup) {
        Form_pg_depend d = reinterpret_cast<Form_pg_depend>(GETSTRUCT(tup));
        if (d->classid == RelationRelationId && d->objsubid == 0)
            members.push_back(d->objid);
    });
    std::sort(members.begin(), members.end());
    members.erase(std::unique(members.begin(), members.end()), members.end());
    auto add = [&](const ClassRow &r) {
        if (has_storage(r.relkind) && r.persistence != RELPERSISTENCE_TEMP)
            rels.push_back(RelFile{nsp, r.relfilenode, r.tablespace, r.relkind, r.persistence});
        if (OidIsValid(r.toast))
            toast_owner.emplace(r.toast, nsp);
    };
    for (Oid relid : members) {
        ClassRow r = class_row(relid);
        if (!r.found || r.nsp != nsp)
            continue;
        add(r);
        if (r.relkind == RELKIND_RELATION || r.relkind == RELKIND_MATVIEW) {
            std::vector<Oid> indexes;
            for_each_index(relid, [&](Oid index) { indexes.push_back(index); });
            for (Oid index : indexes) {
                ClassRow ir = class_row(index);
                if (ir.found && ir.nsp == nsp)
                    add(ir);
            }
        }
    }
}

// Bytes of one fork. md.c keeps every segment but the last exactly
// RELSEG_SIZE blocks long, so segment .N+1 is only probed after a full one.
int64 fork_bytes(Oid spc, Oid relfilenode, ForkNumber fork)
{
    constexpr off_t kFullSegment = static_cast<off_t>(RELSEG_SIZE) * BLCKSZ;
    char *p = pg_call([=] {
        return GetRelationPath(MyDatabaseId, effective_tablespace(spc), relfilenode,
                               InvalidBackendId, fork);
    });
    std::string base(p);
    pg_call([p] { pfree(p); });
    int64 total = 0;
    struct stat st;
    if (stat(base.c_str(), &st) != 0)
        return 0; // missing fork, or the relation was just dropped
    total += st.st_size;
    for (int seg = 1; st.st_size >= kFullSegment; seg++) {
        std::string path = base + "." + std::to_string(seg);
        if (stat(path.c_str(), &st) != 0)
            break;
        total += st.st_size;
    }
    return total;
}

int64 relation_bytes(const RelFile &r)
{
    if (!OidIsValid(r.relfilenode))
        return 0;
    // Probe only the forks this kind of relation can have: a free space map
    // for tables and indexes, a visibility map for tables, an init fork for
    // unlogged relations.
    bool heap = r.relkind == RELKIND_RELATION || r.relkind == RELKIND_TOASTVALUE ||
                r.relkind == RELKIND_MATVIEW;
    int64 total = fork_bytes(r.tablespace, r.relfilenode, MAIN_FORKNUM);
    if (heap || r.relkind == RELKIND_INDEX)
        total += fork_bytes(r.tablespace, r.relfilenode, FSM_FORKNUM);
    if (heap)
        total += fork_bytes(r.tablespace, r.relfilenode, VISIBILITYMAP_FORKNUM);
    if (r.persistence == RELPERSISTENCE_UNLOGGED)
        total += fork_bytes(r.tablespace, r.relfilenode, INIT_FORKNUM);
    return total;
}

// Parses "<relfilenode>[_fork][.segment]"; temp files ("t3_1234") and
// anything else are not permanent relation files and return false.
bool parse_relation_file(const char *name, Oid *relfilenode)
{
    const char *p = name;
    if (*p < '0' || *p > '9')
        return false;
    unsigned long v = 0;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + static_cast<unsigned long>(*p - '0');
        if (v > 0xFFFFFFFFUL)
            return false;
        p++;
    }
    if (*p == '_') {
        if (strncmp(p, "_fsm", 4) == 0)
            p += 4;
        else if (strncmp(p, "_vm", 3) == 0)
            p += 3;
        else if (strncmp(p, "_init", 5) == 0)
            p += 5;
        else
            return false;
    }
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p != '\0')
        return false;
    *relfilenode = static_cast<Oid>(v);
    return true;
}

class Dir
{
  public:
    explicit Dir(const std::string &path) : dir_(opendir(path.c_str())) {}
    ~Dir()
    {
        if (dir_)
            closedir(dir_);
    }
    Dir(const Dir &) = delete;
    Dir &operator=(const Dir &) = delete;
    DIR *get() const { return dir_; }

  private:
    DIR *dir_;
};

// The parallel fstatat() of a full refresh: the only threads the library
// ever starts (CONTRIBUTING.md, "Threads in the backend"). fstatat() is what a
// full refresh spends its time on (~2.5 us per file on the project's VM,
// 220,000 files for 10,000 projects); on one thread it is ~1.5x slower and
// lands on or under the 4x target (docs/benchmarks.md).
// schemahost.refresh_threads = 1 starts none.
// Invariants:
//   - helpers run only stat_chunks(): fstatat() on names prepared beforehand,
//     results into an array sized beforehand; no PostgreSQL call, no
//     allocation, no C++ exception;
//   - they are created with every signal blocked (a new thread inherits the
//     mask), so PostgreSQL's handlers only ever run in the backend's thread;
//   - from the first pthread_create() to the last pthread_join() the
//     backend's thread only runs stat_chunks() too: no palloc, no
//     CHECK_FOR_INTERRUPTS(), no ereport, so nothing can longjmp out of the
//     frame the helpers use (a cancel is served after the join);
//   - raw pthreads, not std::thread: creation and join report errors as
//     return codes, never as an exception, and nothing calls std::terminate
//     for an unjoined thread; a helper that cannot be created is just not
//     there and the others, or the backend's thread alone, do its share.
constexpr unsigned kMaxStatThreads = 8; // the maximum of schemahost.refresh_threads
constexpr size_t kStatChunk = 2048;

struct StatJob {
    int dirfd;
    const std::string *names;
    int64 *bytes;
    size_t n;
    std::atomic<size_t> next;
};

void *stat_chunks(void *arg) noexcept
{
    StatJob *job = static_cast<StatJob *>(arg);
    for (;;) {
        size_t begin = job->next.fetch_add(kStatChunk, std::memory_order_relaxed);
        if (begin >= job->n)
            return nullptr;
        size_t end = begin + kStatChunk < job->n ? begin + kStatChunk : job->n;
        for (size_t i = begin; i < end; i++) {
            struct stat st;
            if (fstatat(job->dirfd, job->names[i].c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
                job->bytes[i] = st.st_size; // else removed meanwhile: 0
        }
    }
}

// threads: schemahost.refresh_threads, read by the caller before.
void stat_all(StatJob *job, int threads) noexcept
{
    unsigned want = threads > 1 ? static_cast<unsigned>(threads) : 1;
    if (want > kMaxStatThreads)
        want = kMaxStatThreads;
    if (job->n < 4 * kStatChunk)
        want = 1;
    pthread_t helpers[kMaxStatThreads];
    unsigned started = 0;
    if (want > 1) {
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        for (unsigned i = 1; i < want; i++)
            if (pthread_create(&helpers[started], nullptr, stat_chunks, job) == 0)
                started++;
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
    }
    stat_chunks(job);
    for (unsigned i = 0; i < started; i++)
        pthread_join(helpers[i], nullptr);
}

// The permanent relation files of the database's default tablespace that
// belong to the wanted relfilenodes, summed by relfilenode: one pass over the
// directory, then one fstatat() (relative to the directory's descriptor) per
// file that exists, none for forks or segments that do not.
std::unordered_map<Oid, int64> database_directory_sizes(const std::unordered_set<Oid> &wanted)
{
    char *p = pg_call([] { return GetDatabasePath(MyDatabaseId, MyDatabaseTableSpace); });
    std::string path(p);
    Dir dir(path);
    if (!dir.get()) {
        int err = errno;
        throw schemahost::Error("58030", "could not open directory \"" + path + "\"")
            .detail(std::strerror(err));
    }
    std::vector<std::string> names;
    std::vector<Oid> owners;
    names.reserve(wanted.size() * 2);
    owners.reserve(wanted.size() * 2);
    while (struct dirent *de = readdir(dir.get())) {
        Oid relfilenode;
        if (!parse_relation_file(de->d_name, &relfilenode) || wanted.count(relfilenode) == 0)
            continue;
        names.emplace_back(de->d_name);
        owners.push_back(relfilenode);
    }
    std::vector<int64> bytes(names.size(), 0);
    StatJob job;
    job.dirfd = dirfd(dir.get());
    job.names = names.data();
    job.bytes = bytes.data();
    job.n = names.size();
    job.next.store(0);
    stat_all(&job, schemahost::guc::refresh_threads); // see the invariants above stat_chunks()
    std::unordered_map<Oid, int64> sizes;
    sizes.reserve(wanted.size());
    for (size_t i = 0; i < names.size(); i++)
        sizes[owners[i]] += bytes[i];
    return sizes;
}

} // namespace

SH_FUNCTION(schemahost_usage_measure)
{
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
        throw schemahost::Error("22004", "arguments of _usage_measure must not be null");
    std::vector<Oid> nsps = schemahost::quota::oid_array(PG_GETARG_DATUM(0));
    bool full = PG_GETARG_BOOL(1);

    std::unordered_map<Oid, int64> totals;
    totals.reserve(nsps.size() * 2);
    for (Oid n : nsps)
        totals.emplace(n, 0);

    std::vector<RelFile> rels;
    std::unordered_map<Oid, Oid> toast_owner;       // TOAST table -> schema charged
    std::unordered_map<Oid, RelFile> toast_catalog; // full mode: every pg_toast relation
    if (!full && !totals.empty() && nsps.size() <= kIndexedProjectsMax) {
        // Few projects: find their relations through the catalog indexes
        // instead of reading all of pg_class (~10 ms for 160,000 rows).
        for (Oid nsp : nsps)
            schema_relations(nsp, rels, toast_owner);
    } else if (!totals.empty()) {
        scan_catalog(RelationRelationId, InvalidOid, nullptr, 0, [&](HeapTuple tup) {
            Form_pg_class c = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup));
            if (full && c->relnamespace == PG_TOAST_NAMESPACE) {
                toast_catalog.emplace(c->oid, RelFile{InvalidOid, c->relfilenode, c->reltablespace,
                                                      c->relkind, c->relpersistence});
                return;
            }
            auto it = totals.find(c->relnamespace);
            if (it == totals.end() || !has_storage(c->relkind) ||
                c->relpersistence == RELPERSISTENCE_TEMP)
                return;
            rels.push_back(RelFile{c->relnamespace, c->relfilenode, c->reltablespace, c->relkind,
                                   c->relpersistence});
            if (OidIsValid(c->reltoastrelid))
                toast_owner.emplace(c->reltoastrelid, c->relnamespace);
        });
    }

    // TOAST tables and their indexes live in pg_toast: charge them to the
    // schema of the table they belong to.
    if (!toast_owner.empty()) {
        if (full) {
            for (const auto &[toast, nsp] : toast_owner) {
                auto it = toast_catalog.find(toast);
                if (it != toast_catalog.end())
                    rels.push_back(RelFile{nsp, it->second.relfilenode, it->second.tablespace,
                                           it->second.relkind, it->second.persistence});
            }
            scan_catalog(IndexRelationId, InvalidOid, nullptr, 0, [&](HeapTuple tup) {
                Form_pg_index i = reinterpret_cast<Form_pg_index>(GETSTRUCT(tup));
                auto owner = toast_owner.find(i->indrelid);
                if (owner == toast_owner.end())
                    return;
                auto it = toast_catalog.find(i->indexrelid);
                if (it != toast_catalog.end())
                    rels.push_back(RelFile{owner->second, it->second.relfilenode,
                                           it->second.tablespace, it->second.relkind,
                                           it->second.persistence});
            });
        } else {
            std::vector<std::pair<Oid, Oid>> toast_rels; // (relation, schema)
            for (const auto &owned : toast_owner) {
                Oid toast = owned.first; // a plain local: lambdas cannot capture bindings in C++17
                Oid owner_nsp = owned.second;
                toast_rels.emplace_back(toast, owner_nsp);
                ScanKeyData key;
                pg_call([&] {
                    ScanKeyInit(&key, Anum_pg_index_indrelid, BTEqualStrategyNumber, F_OIDEQ,
                                ObjectIdGetDatum(toast));
                });
                scan_catalog(IndexRelationId, IndexIndrelidIndexId, &key, 1, [&](HeapTuple tup) {
                    Form_pg_index i = reinterpret_cast<Form_pg_index>(GETSTRUCT(tup));
                    toast_rels.emplace_back(i->indexrelid, owner_nsp);
                });
            }
            for (const auto &toast_rel : toast_rels) {
                Oid relid = toast_rel.first;
                Oid nsp = toast_rel.second;
                RelFile f{nsp, InvalidOid, InvalidOid, RELKIND_RELATION, RELPERSISTENCE_PERMANENT};
                pg_call([&] {
                    HeapTuple t = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
                    if (HeapTupleIsValid(t)) {
                        Form_pg_class c = reinterpret_cast<Form_pg_class>(GETSTRUCT(t));
                        f.relfilenode = c->relfilenode;
                        f.tablespace = c->reltablespace;
                        f.relkind = c->relkind;
                        f.persistence = c->relpersistence;
                        ReleaseSysCache(t);
                    }
                });
                if (OidIsValid(f.relfilenode))
                    rels.push_back(f);
            }
        }
    }

    if (full) {
        std::unordered_set<Oid> wanted;
        wanted.reserve(rels.size());
        for (const RelFile &r : rels)
            if (effective_tablespace(r.tablespace) == MyDatabaseTableSpace)
                wanted.insert(r.relfilenode);
        std::unordered_map<Oid, int64> sizes = database_directory_sizes(wanted);
        for (const RelFile &r : rels) {
            if (effective_tablespace(r.tablespace) != MyDatabaseTableSpace) {
                totals[r.nsp] += relation_bytes(r);
                continue;
            }
            auto it = sizes.find(r.relfilenode);
            if (it != sizes.end())
                totals[r.nsp] += it->second;
        }
    } else {
        for (const RelFile &r : rels)
            totals[r.nsp] += relation_bytes(r);
    }

    schemahost::quota::ResultSet out(fcinfo);
    for (Oid n : nsps) {
        Datum values[2] = {ObjectIdGetDatum(n), Int64GetDatum(totals[n])};
        bool nulls[2] = {false, false};
        out.put(values, nulls);
    }
    return (Datum)0;
}
