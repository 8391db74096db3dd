// Measuring the bytes a project uses, from the relation files themselves.
//
//   schemahost._usage_measure(nsps oid[], full boolean, in_progress oid[])
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
// Transactions still open: a relation created, or given new files, by a
// transaction that has not ended has catalog rows no MVCC snapshot shows, yet
// its files grow on disk (CREATE TABLE AS, TRUNCATE then INSERT). A full
// refresh, and an incremental one for the schemas in `in_progress` (those
// with an open writing transaction), read the catalogs with a dirty snapshot,
// which also shows rows of transactions in progress. Then a relation can have
// two rows (before and after an open ALTER); every file they name exists and
// counts, charged once, to the schema of the committed row if there is one,
// else to the schema of the uncommitted one.
//
// Sizes: the incremental mode stat()s the forks each relation kind can have
// (main, fsm, vm, init), all together, and their segments; the full mode reads the database
// directory once and sums every existing file by relfilenode (one fstatat
// each, no probe of a fork that does not exist), which is cheaper when most
// relations are measured; the backend keeps the names for its next full
// refresh, kept current by an inotify watch (relation_files.cpp, which also
// holds the only threads of the library).
#include "entry.hpp"
#include "guc.hpp"
#include "oid_map.hpp"
#include "quota_arrays.hpp"
#include "relation_files.hpp"

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
#include "nodes/supportnodes.h"
#include "storage/fd.h"
#include "utils/fmgroids.h"
#include "utils/selfuncs.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
}

#include <fcntl.h>

#include <algorithm>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace
{

using schemahost::OidMap;
using schemahost::pg_call;

constexpr uint32 kNone = UINT32_MAX;

// One pg_class row of a relation with storage (a relation being changed by
// an open transaction can have two).
struct RelFile {
    Oid relid;
    Oid nsp;         // the schema charged
    Oid relfilenode; // 0: mapped (never a tenant relation)
    Oid tablespace;  // 0: the database's default
    Oid toast;       // reltoastrelid
    char relkind;
    char persistence;
    bool uncommitted; // inserted by a transaction still in progress
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

RelFile rel_file(HeapTuple tup, bool uncommitted) noexcept
{
    Form_pg_class c = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup));
    return RelFile{c->oid,           c->relnamespace, c->relfilenode,    c->reltablespace,
                   c->reltoastrelid, c->relkind,      c->relpersistence, uncommitted};
}

// Which rows a catalog scan sees: the committed ones (the catalog snapshot),
// or with `dirty` also those of transactions in progress.
class CatalogView
{
  public:
    explicit CatalogView(bool dirty) : dirty_(dirty) { InitDirtySnapshot(snapshot_); }
    bool dirty() const { return dirty_; }
    Snapshot snapshot() { return dirty_ ? &snapshot_ : nullptr; }
    // Whether the row the scan returned last was inserted by a transaction
    // in progress (HeapTupleSatisfiesDirty leaves its xmin in the snapshot).
    bool last_uncommitted() const { return dirty_ && TransactionIdIsValid(snapshot_.xmin); }

  private:
    bool dirty_;
    SnapshotData snapshot_;
};

// Scans a catalog relation with a heap scan (or the given index and key).
// For every tuple the view shows, extract(tuple, uncommitted, &row) copies
// what is needed into a Row (plain data: it runs inside pg_call(), where
// nothing may throw or own memory) and says whether to keep it; consume(row)
// then gets each kept row, outside the guard. Tuples are read a batch at a
// time under one guard: a full refresh reads ~230,000 of them, and one
// guard each cost ~5 ms. Only the catalog is locked.
template <typename Row, typename Extract, typename Consume>
void scan_catalog(CatalogView &view, Oid catalog, Oid index, ScanKeyData *key, int nkeys,
                  Extract &&extract, Consume &&consume)
{
    static_assert(std::is_trivially_copyable_v<Row> && std::is_trivially_destructible_v<Row>);
    static_assert(std::is_nothrow_invocable_r_v<bool, Extract &, HeapTuple, bool, Row *>,
                  "extract() runs inside pg_call(): it must be noexcept");
    constexpr int kBatch = 256;
    Relation rel = pg_call([catalog] { return table_open(catalog, AccessShareLock); });
    bool use_index = OidIsValid(index);
    Snapshot snapshot = view.snapshot();
    SysScanDesc scan =
        pg_call([=] { return systable_beginscan(rel, index, use_index, snapshot, nkeys, key); });
    Row rows[kBatch];
    for (bool end = false; !end;) {
        // Rows kept, times two, plus one at the end of the scan.
        int got = pg_call([&]() noexcept {
            CHECK_FOR_INTERRUPTS();
            int n = 0;
            while (n < kBatch) {
                HeapTuple tup = systable_getnext(scan);
                if (!HeapTupleIsValid(tup))
                    return n * 2 + 1;
                if (extract(tup, view.last_uncommitted(), &rows[n]))
                    n++;
            }
            return n * 2;
        });
        end = got % 2 == 1;
        for (int i = 0; i < got / 2; i++)
            consume(rows[i]);
    }
    pg_call([=] {
        systable_endscan(scan);
        table_close(rel, AccessShareLock);
    });
}

// An extract() for scan_catalog() that keeps every pg_class row.
bool class_row(HeapTuple tup, bool uncommitted, RelFile *row) noexcept
{
    *row = rel_file(tup, uncommitted);
    return true;
}

ScanKeyData oid_key(AttrNumber attribute, Oid value)
{
    ScanKeyData key;
    pg_call([&key, attribute, value] {
        ScanKeyInit(&key, attribute, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(value));
    });
    return key;
}

// The pg_class rows of one relation: from the syscache (the committed row,
// if any), or with a dirty view by pg_class's OID index (also the rows of
// transactions in progress).
std::vector<RelFile> class_rows(CatalogView &view, Oid relid)
{
    std::vector<RelFile> rows;
    if (view.dirty()) {
        ScanKeyData key = oid_key(Anum_pg_class_oid, relid);
        scan_catalog<RelFile>(view, RelationRelationId, ClassOidIndexId, &key, 1, class_row,
                              [&](const RelFile &r) { rows.push_back(r); });
        return rows;
    }
    // Copied out inside the guard, appended outside it: nothing that can
    // throw may run between PG_TRY and PG_END_TRY (pg_guard.hpp).
    RelFile row{};
    bool found = pg_call([&row, relid] {
        HeapTuple t = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
        if (!HeapTupleIsValid(t))
            return false; // dropped meanwhile
        row = rel_file(t, false);
        ReleaseSysCache(t);
        return true;
    });
    if (found)
        rows.push_back(row);
    return rows;
}

// The schema a relation with these rows is charged to: its committed row's,
// else (created by a transaction in progress) its uncommitted row's.
Oid owning_schema(const std::vector<RelFile> &rows)
{
    for (const RelFile &r : rows)
        if (!r.uncommitted)
            return r.nsp;
    return rows.empty() ? InvalidOid : rows.front().nsp;
}

void sort_unique(std::vector<Oid> &oids)
{
    std::sort(oids.begin(), oids.end());
    oids.erase(std::unique(oids.begin(), oids.end()), oids.end());
}

// The OIDs of the indexes of a relation (pg_index by indrelid), each once.
std::vector<Oid> index_oids(CatalogView &view, Oid relid)
{
    std::vector<Oid> indexes;
    ScanKeyData key = oid_key(Anum_pg_index_indrelid, relid);
    scan_catalog<Oid>(
        view, IndexRelationId, IndexIndrelidIndexId, &key, 1,
        [](HeapTuple tup, bool, Oid *index) noexcept {
            *index = reinterpret_cast<Form_pg_index>(GETSTRUCT(tup))->indexrelid;
            return true;
        },
        [&](Oid index) { indexes.push_back(index); });
    sort_unique(indexes);
    return indexes;
}

// TOAST tables found while collecting a schema's relations, and the schema
// they are charged to: the table's, not pg_toast.
struct ToastOwner {
    Oid toast;
    Oid nsp;
    bool dirty; // found through a dirty view: read its rows through one too
};

struct ToastOwners {
    std::vector<ToastOwner> list;
    OidMap index{64}; // TOAST table -> schema

    void add(Oid toast, Oid nsp, bool dirty)
    {
        if (index.insert(toast, nsp))
            list.push_back(ToastOwner{toast, nsp, dirty});
    }
};

// Up to this many projects, an incremental refresh finds their relations
// through the catalog indexes; above, one scan of pg_class is cheaper.
constexpr size_t kIndexedProjectsMax = 500;

bool counted(const RelFile &r)
{
    return has_storage(r.relkind) && r.persistence != RELPERSISTENCE_TEMP;
}

// The relations with storage of one schema, found through pg_depend: every
// relation but indexes and TOAST tables has a dependency on its namespace
// (heap_create_with_catalog() records it, SET SCHEMA moves it); indexes are
// found through their table, TOAST tables through reltoastrelid (left in
// toast_owner, like the pg_class scan does). The schema is checked again on
// each relation's rows: only where the relation is now counts.
void schema_relations(CatalogView &view, Oid nsp, std::vector<RelFile> &rels,
                      ToastOwners &toast_owner)
{
    ScanKeyData keys[2] = {oid_key(Anum_pg_depend_refclassid, NamespaceRelationId),
                           oid_key(Anum_pg_depend_refobjid, nsp)};
    std::vector<Oid> members;
    scan_catalog<Oid>(
        view, DependRelationId, DependReferenceIndexId, keys, 2,
        [](HeapTuple tup, bool, Oid *member) noexcept {
            Form_pg_depend d = reinterpret_cast<Form_pg_depend>(GETSTRUCT(tup));
            *member = d->objid;
            return d->classid == RelationRelationId && d->objsubid == 0;
        },
        [&](Oid member) { members.push_back(member); });
    sort_unique(members);
    // Every row of a relation charged to nsp: all the files they name exist.
    auto add_rows = [&](const std::vector<RelFile> &rows) {
        if (owning_schema(rows) != nsp)
            return false;
        for (RelFile r : rows) {
            r.nsp = nsp;
            if (counted(r))
                rels.push_back(r);
            if (OidIsValid(r.toast))
                toast_owner.add(r.toast, nsp, view.dirty());
        }
        return true;
    };
    for (Oid relid : members) {
        std::vector<RelFile> rows = class_rows(view, relid);
        if (rows.empty() || !add_rows(rows))
            continue;
        char kind = rows.front().relkind;
        if (kind == RELKIND_RELATION || kind == RELKIND_MATVIEW)
            for (Oid index : index_oids(view, relid))
                add_rows(class_rows(view, index));
    }
}

// The forks a relation of this kind can have: a free space map for tables
// and indexes, a visibility map for tables, an init fork for unlogged
// relations. Probing only these saves a failing stat() per absent fork.
std::vector<ForkNumber> possible_forks(const RelFile &r)
{
    std::vector<ForkNumber> forks{MAIN_FORKNUM};
    bool heap = r.relkind == RELKIND_RELATION || r.relkind == RELKIND_TOASTVALUE ||
                r.relkind == RELKIND_MATVIEW;
    if (heap || r.relkind == RELKIND_INDEX)
        forks.push_back(FSM_FORKNUM);
    if (heap)
        forks.push_back(VISIBILITYMAP_FORKNUM);
    if (r.persistence == RELPERSISTENCE_UNLOGGED)
        forks.push_back(INIT_FORKNUM);
    return forks;
}

constexpr int64 kFullSegment = static_cast<int64>(RELSEG_SIZE) * BLCKSZ;

// "<relfilenode>[_<fork>]": a fork's first segment, relative to the
// directory of its tablespace and database.
std::string fork_file_name(Oid relfilenode, ForkNumber f)
{
    std::string name = std::to_string(relfilenode);
    if (f != MAIN_FORKNUM)
        name += std::string("_") + forkNames[f];
    return name;
}

// The bytes of a relation by full path, fork by fork: for relations outside
// the database's default tablespace (rare), and for every relation when the
// database directory could not be opened (a backend out of descriptors can
// still measure, one path at a time).
int64 relation_bytes_by_path(const RelFile &r)
{
    int64 total = 0;
    for (ForkNumber f : possible_forks(r)) {
        char *p = pg_call([&] {
            return GetRelationPath(MyDatabaseId, effective_tablespace(r.tablespace), r.relfilenode,
                                   InvalidBackendId, f);
        });
        std::string path(p);
        pg_call([p] { pfree(p); });
        total += schemahost::fork_bytes(AT_FDCWD, path, kFullSegment);
    }
    return total;
}

// The directory of this database in its default tablespace, relative to the
// data directory (the backend's working directory).
std::string database_path()
{
    char *p = pg_call([] { return GetDatabasePath(MyDatabaseId, MyDatabaseTableSpace); });
    std::string path(p);
    pg_call([p] { pfree(p); });
    return path;
}

// Files already counted, by (tablespace, relfilenode): two rows of one
// relation (an open ALTER) often name the same file.
class CountedFiles
{
  public:
    explicit CountedFiles(size_t expected) : in_default_(expected) {}
    // False also for a mapped relation (relfilenode 0: never a tenant's).
    bool first_time(const RelFile &r)
    {
        if (!OidIsValid(r.relfilenode))
            return false;
        Oid spc = effective_tablespace(r.tablespace);
        if (spc == MyDatabaseTableSpace)
            return in_default_.insert(r.relfilenode, 0);
        return elsewhere_.emplace(spc, r.relfilenode).second;
    }

  private:
    OidMap in_default_;
    std::set<std::pair<Oid, Oid>> elsewhere_;
};

// Full mode: the relations with storage of every schema, from one scan of
// pg_class (rows of pg_toast apart, by OID, with every row of each OID
// chained) and, for TOAST indexes, one of pg_index.
struct AllRelations {
    std::vector<RelFile> rels;       // outside pg_toast, whatever the schema
    std::vector<RelFile> toast_rows; // in pg_toast
    std::vector<uint32> toast_next;  // next row of the same OID, or kNone
    OidMap toast_first{65536};       // OID -> its first row in toast_rows
    size_t uncommitted = 0;
    size_t uncommitted_toast = 0;

    void add(const RelFile &r)
    {
        if (r.uncommitted)
            uncommitted++;
        if (r.nsp == PG_TOAST_NAMESPACE) {
            if (r.uncommitted)
                uncommitted_toast++;
            uint32 at = static_cast<uint32>(toast_rows.size());
            toast_rows.push_back(r);
            uint32 *first = toast_first.find(r.relid);
            toast_next.push_back(first ? *first : kNone);
            if (first)
                *first = at; // the chain starts at the row found last
            else
                toast_first.insert(r.relid, at);
        } else if (counted(r)) {
            rels.push_back(r);
        }
    }

    // An uncommitted row of a relation that also has a committed row is
    // charged where the committed row says (an open SET SCHEMA does not move
    // the bytes before it commits).
    void charge_uncommitted_rows_to_committed_schema()
    {
        if (uncommitted == 0)
            return;
        OidMap pending(uncommitted); // OID -> slot in committed_nsp
        std::vector<Oid> committed_nsp;
        for (const RelFile &r : rels)
            if (r.uncommitted && pending.insert(r.relid, static_cast<uint32>(committed_nsp.size())))
                committed_nsp.push_back(InvalidOid);
        for (const RelFile &r : rels)
            if (!r.uncommitted)
                if (const uint32 *slot = pending.find(r.relid))
                    committed_nsp[*slot] = r.nsp;
        for (RelFile &r : rels)
            if (r.uncommitted)
                if (const uint32 *slot = pending.find(r.relid);
                    slot && OidIsValid(committed_nsp[*slot]))
                    r.nsp = committed_nsp[*slot];
    }

    // Every row of a TOAST table or TOAST index, charged to nsp.
    template <typename F> void toast_relation(Oid relid, F &&add)
    {
        const uint32 *first = toast_first.find(relid);
        for (uint32 i = first ? *first : kNone; i != kNone; i = toast_next[i])
            add(toast_rows[i]);
    }
};

// The database directory as this backend's last full refresh read it, and
// the inotify watch that keeps it current (relation_files.hpp): schemahostd
// refreshes from one connection, so its next full refresh stats the names
// without reading the directory again. Allocated on the first full refresh
// (~40 bytes a file, ~9 MB for 220,000, twice that once the directory
// changed) and kept for the backend's life; never touched by the postmaster.
schemahost::DirectoryListing *directory_listing()
{
    static schemahost::DirectoryListing *listing = nullptr;
    if (!listing)
        listing = new schemahost::DirectoryListing();
    return listing;
}

// The watch's descriptor is one PostgreSQL does not open itself: fd.c counts
// it (AcquireExternalFD), and when fd.c has none to spare the refresh reads
// the directory every time instead. Before a refresh (acquire) and after it
// (and before, for a refresh that ended in an error): give the count back
// when the listing holds no descriptor.
void account_watch(schemahost::DirectoryListing *listing, bool acquire)
{
    static bool counted = false;
    if (!schemahost::guc::refresh_watch)
        listing->clear(); // turned off: close the watch, free the list
    if (counted && !listing->watching()) {
        pg_call([] { ReleaseExternalFD(); });
        counted = false;
    }
    if (acquire && !counted && schemahost::guc::refresh_watch)
        counted = pg_call([] { return AcquireExternalFD(); });
    listing->may_watch = counted;
}

} // namespace

SH_FUNCTION(schemahost_usage_measure)
{
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || (PG_NARGS() > 2 && PG_ARGISNULL(2)))
        throw schemahost::Error("22004", "arguments of _usage_measure must not be null");
    std::vector<Oid> nsps = schemahost::quota::oid_array(PG_GETARG_DATUM(0));
    bool full = PG_GETARG_BOOL(1);
    // 0.1.0's definition has two arguments.
    std::vector<Oid> open_nsps;
    if (PG_NARGS() > 2)
        open_nsps = schemahost::quota::oid_array(PG_GETARG_DATUM(2));

    // Each schema once, whatever the array holds: a repeated schema is
    // measured once and reported with the same total on each of its rows.
    OidMap nsp_slot(nsps.size()); // schema -> its total in totals
    std::vector<Oid> schemas;
    std::vector<int64> totals;
    totals.reserve(nsps.size());
    for (Oid n : nsps)
        if (nsp_slot.insert(n, static_cast<uint32>(totals.size()))) {
            schemas.push_back(n);
            totals.push_back(0);
        }
    OidMap open(open_nsps.size());
    for (Oid n : open_nsps)
        open.insert(n, 0);

    std::vector<RelFile> rels; // to measure, charged to a schema of nsp_slot
    ToastOwners toast_owner;
    CatalogView committed(false);
    CatalogView dirty(true);
    if (full || schemas.size() > kIndexedProjectsMax) {
        // One scan of pg_class. Dirty in full mode (it corrects whatever
        // incremental refreshes missed, open transactions included) and when
        // any of the schemas has an open writing transaction.
        AllRelations all;
        CatalogView &view = full || !open_nsps.empty() ? dirty : committed;
        scan_catalog<RelFile>(view, RelationRelationId, InvalidOid, nullptr, 0, class_row,
                              [&](const RelFile &r) { all.add(r); });
        all.charge_uncommitted_rows_to_committed_schema();
        for (const RelFile &r : all.rels) {
            if (!nsp_slot.find(r.nsp))
                continue;
            rels.push_back(r);
            if (OidIsValid(r.toast))
                toast_owner.add(r.toast, r.nsp, view.dirty());
        }
        // TOAST tables and their indexes live in pg_toast: charge them to the
        // schema of the table they belong to.
        if (!toast_owner.list.empty()) {
            auto charge_to = [&](Oid nsp) {
                return [&rels, nsp](RelFile r) {
                    r.nsp = nsp;
                    rels.push_back(r);
                };
            };
            for (const ToastOwner &owner : toast_owner.list)
                all.toast_relation(owner.toast, charge_to(owner.nsp));
            struct ToastIndex {
                Oid index;
                Oid nsp;
            };
            // A TOAST index's pg_index row is only ever uncommitted together
            // with a pg_class row of its TOAST table: both are created in one
            // transaction (CREATE TABLE, ALTER TABLE adding the first
            // toastable column, a rewrite that builds new TOAST relations),
            // and REINDEX changes pg_class only. Without such a row the
            // committed rows are all there are, and an MVCC scan reads them
            // a page at a time (~4 of the ~10 ms of 70,000 rows).
            CatalogView &index_view = all.uncommitted_toast > 0 ? view : committed;
            scan_catalog<ToastIndex>(
                index_view, IndexRelationId, InvalidOid, nullptr, 0,
                [&toast_owner](HeapTuple tup, bool, ToastIndex *row) noexcept {
                    Form_pg_index i = reinterpret_cast<Form_pg_index>(GETSTRUCT(tup));
                    const uint32 *nsp = toast_owner.index.find(i->indrelid); // never allocates
                    if (nsp)
                        *row = ToastIndex{i->indexrelid, *nsp};
                    return nsp != nullptr;
                },
                [&](const ToastIndex &t) { all.toast_relation(t.index, charge_to(t.nsp)); });
        }
    } else {
        // Few projects: find their relations through the catalog indexes
        // instead of reading all of pg_class (~10 ms for 160,000 rows).
        for (Oid nsp : schemas)
            schema_relations(open.find(nsp) ? dirty : committed, nsp, rels, toast_owner);
        for (const ToastOwner &owner : toast_owner.list) {
            CatalogView &view = owner.dirty ? dirty : committed;
            std::vector<Oid> toast_rels{owner.toast};
            for (Oid index : index_oids(view, owner.toast))
                toast_rels.push_back(index);
            for (Oid relid : toast_rels)
                for (RelFile r : class_rows(view, relid)) {
                    r.nsp = owner.nsp;
                    rels.push_back(r);
                }
        }
    }

    if (full) {
        // Files of the database's default tablespace: one directory scan,
        // summed straight into the schemas' totals (a file named by two rows
        // is wanted once: insert() keeps the first; a mapped relation,
        // relfilenode 0, never). Relations in other tablespaces (rare) are
        // probed one by one.
        OidMap wanted(rels.size()); // relfilenode -> slot in totals
        CountedFiles elsewhere(0);
        for (const RelFile &r : rels) {
            const uint32 *slot = nsp_slot.find(r.nsp);
            if (!slot)
                continue;
            if (effective_tablespace(r.tablespace) == MyDatabaseTableSpace)
                wanted.insert(r.relfilenode, *slot);
            else if (elsewhere.first_time(r))
                totals[*slot] += relation_bytes_by_path(r);
        }
        schemahost::DirectoryListing *listing = directory_listing();
        account_watch(listing, true);
        schemahost::SumResult r = schemahost::sum_relation_files(
            database_path(), wanted, totals, schemahost::guc::refresh_threads, listing);
        account_watch(listing, false);
        pg_call([&r] {
            elog(DEBUG1, "schemahost: full usage refresh of %zu relation files on %u thread(s), %s",
                 r.files, r.threads,
                 r.listing_reused ? "listed by the previous one and its watch"
                                  : "listed by reading the directory");
        });
    } else {
        CountedFiles seen(rels.size());
        // The first segment of each fork a relation can have, relative to
        // the database directory (one path component per lookup): stat()ed
        // all together, on helper threads when there are many (100 projects:
        // ~3,500, ~5 ms on one thread). Segments after a full first one are
        // probed afterwards, one by one.
        schemahost::DirFd database_dir(database_path());
        std::vector<std::string> names;
        std::vector<uint32> name_slot;
        for (const RelFile &r : rels) {
            const uint32 *slot = nsp_slot.find(r.nsp);
            if (!slot || !seen.first_time(r))
                continue;
            if (database_dir.get() < 0 ||
                effective_tablespace(r.tablespace) != MyDatabaseTableSpace) {
                totals[*slot] += relation_bytes_by_path(r);
                continue;
            }
            for (ForkNumber f : possible_forks(r)) {
                names.push_back(fork_file_name(r.relfilenode, f));
                name_slot.push_back(*slot);
            }
        }
        std::vector<int64_t> first_bytes;
        schemahost::stat_names(database_dir.get(), names, first_bytes,
                               schemahost::guc::refresh_threads);
        for (size_t i = 0; i < names.size(); i++)
            totals[name_slot[i]] +=
                first_bytes[i] + schemahost::later_segments_bytes(database_dir.get(), names[i],
                                                                  first_bytes[i], kFullSegment);
    }

    schemahost::quota::ResultSet out(fcinfo);
    for (Oid n : nsps) {
        const uint32 *slot = nsp_slot.find(n); // none for InvalidOid
        Datum values[2] = {ObjectIdGetDatum(n), Int64GetDatum(slot ? totals[*slot] : 0)};
        bool nulls[2] = {false, false};
        out.put(values, nulls);
    }
    return (Datum)0;
}

// Planner support for _usage_measure: one result row per element of its
// array argument, when the planner knows the array (a constant, or a PL/pgSQL
// variable in a custom plan). Without it every call is estimated at 1,000
// rows, and _quota_apply joined an incremental refresh's 100 projects to the
// registry by hashing all 10,000 (~3 ms) and a full refresh's 10,000 by
// 10,000 index probes (~20 ms).
SH_FUNCTION(schemahost_usage_measure_support)
{
    Node *raw = reinterpret_cast<Node *>(PG_GETARG_POINTER(0));
    if (!IsA(raw, SupportRequestRows))
        PG_RETURN_POINTER(nullptr);
    SupportRequestRows *req = reinterpret_cast<SupportRequestRows *>(raw);
    if (!req->node || !IsA(req->node, FuncExpr))
        PG_RETURN_POINTER(nullptr);
    List *args = reinterpret_cast<FuncExpr *>(req->node)->args;
    Node *array = args != NIL ? reinterpret_cast<Node *>(linitial(args)) : nullptr;
    if (!array || !IsA(array, Const) || reinterpret_cast<Const *>(array)->constisnull)
        PG_RETURN_POINTER(nullptr);
    int n = pg_call([array] { return estimate_array_length(array); }); // may detoast
    req->rows = n > 0 ? n : 1;
    PG_RETURN_POINTER(req);
}
