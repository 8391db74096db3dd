// Measuring the bytes a project uses, from the relation files themselves.
//
//   schemahost._usage_measure(nsps oid[], full boolean)
//       RETURNS TABLE(nsp oid, bytes bigint)
//
// pg_class is read with a plain catalog heap scan (AccessShareLock on pg_class
// only): no lock is ever taken on a user relation, so a measurement never
// queues behind a tenant's DDL or blocks it. Each relation with storage of the
// given schemas (tables, indexes, sequences, materialized views, and the TOAST
// table and TOAST index of each) is charged to the schema it is in *now*, by
// its current relfilenode: SET SCHEMA, OWNER TO and every rewrite (VACUUM
// FULL, CLUSTER, REINDEX, TRUNCATE, ALTER TABLE) are accounted for as they are.
//
// Sizes: the incremental mode stat()s each fork (main, fsm, vm, init) and
// segment of each relation; the full mode reads the database directory once
// and sums every file by relfilenode, which is cheaper than probing forks
// that do not exist when most relations are measured.
#include "entry.hpp"
#include "quota_arrays.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_namespace.h"
#include "common/relpath.h"
#include "utils/fmgroids.h"
#include "utils/syscache.h"
}

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <string>
#include <thread>
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

// Runs fn(i) for i in [0, n) on up to kStatThreads threads, the calling one
// included. Used only for fstatat() over prepared names: the helpers call
// nothing of PostgreSQL, allocate nothing, and block every signal (signal
// mask inherited at creation), so PostgreSQL's handlers only ever run in the
// backend's own thread. If a helper cannot be started, the caller does its
// share.
template <typename F> void parallel_for(size_t n, F &&fn)
{
    constexpr unsigned kStatThreads = 4;
    constexpr size_t kChunk = 2048;
    std::atomic<size_t> next{0};
    auto worker = [&]() noexcept {
        for (;;) {
            size_t begin = next.fetch_add(kChunk);
            if (begin >= n)
                return;
            size_t end = std::min(n, begin + kChunk);
            for (size_t i = begin; i < end; i++)
                fn(i);
        }
    };
    unsigned want = std::min(kStatThreads, std::max(1u, std::thread::hardware_concurrency()));
    if (n < 4 * kChunk)
        want = 1;
    std::vector<std::thread> helpers;
    if (want > 1) {
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        try {
            helpers.reserve(want - 1);
            for (unsigned i = 1; i < want; i++)
                helpers.emplace_back(worker);
        } catch (...) {
            // Fewer helpers; the work is shared by those that started.
        }
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
    }
    worker();
    for (std::thread &t : helpers)
        t.join();
}

// The permanent relation files of the database's default tablespace that
// belong to the wanted relfilenodes, summed by relfilenode: one readdir, and
// one fstatat per file (spread over a few threads: stat() dominates a full
// refresh, about 2 us per file).
std::unordered_map<Oid, int64> database_directory_sizes(const std::unordered_set<Oid> &wanted)
{
    char *p = pg_call([] { return GetDatabasePath(MyDatabaseId, MyDatabaseTableSpace); });
    std::string path(p);
    Dir dir(path);
    if (!dir.get())
        throw schemahost::Error("58030", "could not open directory \"" + path + "\"")
            .detail(std::strerror(errno));
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
    int fd = dirfd(dir.get());
    parallel_for(names.size(), [&](size_t i) {
        struct stat st;
        if (fstatat(fd, names[i].c_str(), &st, 0) == 0) // else removed meanwhile
            bytes[i] = st.st_size;
    });
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
    if (!totals.empty()) {
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
