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
// relations are measured (relation_files.cpp, which also holds the only
// threads of the library).
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
#include "utils/fmgroids.h"
#include "utils/selfuncs.h"
#include "utils/syscache.h"
}

#include <fcntl.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace
{

using schemahost::OidMap;
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

// TOAST tables found while collecting a schema's relations, and the schema
// they are charged to: the table's, not pg_toast.
struct ToastOwners {
    std::vector<std::pair<Oid, Oid>> list; // (TOAST table, schema)
    OidMap index{64};                      // TOAST table -> schema

    void add(Oid toast, Oid nsp)
    {
        if (index.insert(toast, nsp))
            list.emplace_back(toast, nsp);
    }
};

// Up to this many projects, an incremental refresh finds their relations
// through the catalog indexes; above, one scan of pg_class is cheaper.
constexpr size_t kIndexedProjectsMax = 500;

// The relations with storage of one schema, found through pg_depend: every
// relation but indexes and TOAST tables has a dependency on its namespace
// (heap_create_with_catalog() records it, SET SCHEMA moves it); indexes are
// found through their table, TOAST tables through reltoastrelid (left in
// toast_owner, like the pg_class scan does). The namespace is checked again
// on each pg_class row: only where the relation is now counts.
void schema_relations(Oid nsp, std::vector<RelFile> &rels, ToastOwners &toast_owner)
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
            toast_owner.add(r.toast, nsp);
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

// The forks a relation of this kind can have: a free space map for tables
// and indexes, a visibility map for tables, an init fork for unlogged
// relations. Probing only these saves a failing stat() per absent fork.
// database_dirfd: the database directory opened, or -1 to go by full paths.
int64 relation_bytes(const RelFile &r, int database_dirfd)
{
    if (!OidIsValid(r.relfilenode))
        return 0;
    constexpr int64 kFullSegment = static_cast<int64>(RELSEG_SIZE) * BLCKSZ;
    bool heap = r.relkind == RELKIND_RELATION || r.relkind == RELKIND_TOASTVALUE ||
                r.relkind == RELKIND_MATVIEW;
    bool in_database_dir =
        database_dirfd >= 0 && effective_tablespace(r.tablespace) == MyDatabaseTableSpace;
    auto fork = [&](ForkNumber f) -> int64 {
        if (in_database_dir) {
            // "<relfilenode>[_<fork>]" relative to the database directory.
            std::string name = std::to_string(r.relfilenode);
            if (f != MAIN_FORKNUM)
                name += std::string("_") + forkNames[f];
            return schemahost::fork_bytes(database_dirfd, name, kFullSegment);
        }
        char *p = pg_call([&] {
            return GetRelationPath(MyDatabaseId, effective_tablespace(r.tablespace), r.relfilenode,
                                   InvalidBackendId, f);
        });
        std::string path(p);
        pg_call([p] { pfree(p); });
        return schemahost::fork_bytes(AT_FDCWD, path, kFullSegment);
    };
    int64 total = fork(MAIN_FORKNUM);
    if (heap || r.relkind == RELKIND_INDEX)
        total += fork(FSM_FORKNUM);
    if (heap)
        total += fork(VISIBILITYMAP_FORKNUM);
    if (r.persistence == RELPERSISTENCE_UNLOGGED)
        total += fork(INIT_FORKNUM);
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

} // namespace

SH_FUNCTION(schemahost_usage_measure)
{
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
        throw schemahost::Error("22004", "arguments of _usage_measure must not be null");
    std::vector<Oid> nsps = schemahost::quota::oid_array(PG_GETARG_DATUM(0));
    bool full = PG_GETARG_BOOL(1);

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

    std::vector<RelFile> rels;
    ToastOwners toast_owner;
    std::vector<RelFile> toast_rows;     // full mode: every pg_toast relation ...
    OidMap toast_row(full ? 65536 : 16); // ... and its index there, by OID
    if (!full && !schemas.empty() && schemas.size() <= kIndexedProjectsMax) {
        // Few projects: find their relations through the catalog indexes
        // instead of reading all of pg_class (~10 ms for 160,000 rows).
        for (Oid nsp : schemas)
            schema_relations(nsp, rels, toast_owner);
    } else if (!schemas.empty()) {
        scan_catalog(RelationRelationId, InvalidOid, nullptr, 0, [&](HeapTuple tup) {
            Form_pg_class c = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup));
            if (full && c->relnamespace == PG_TOAST_NAMESPACE) {
                if (toast_row.insert(c->oid, static_cast<uint32>(toast_rows.size())))
                    toast_rows.push_back(RelFile{InvalidOid, c->relfilenode, c->reltablespace,
                                                 c->relkind, c->relpersistence});
                return;
            }
            if (!nsp_slot.find(c->relnamespace) || !has_storage(c->relkind) ||
                c->relpersistence == RELPERSISTENCE_TEMP)
                return;
            rels.push_back(RelFile{c->relnamespace, c->relfilenode, c->reltablespace, c->relkind,
                                   c->relpersistence});
            if (OidIsValid(c->reltoastrelid))
                toast_owner.add(c->reltoastrelid, c->relnamespace);
        });
    }

    // TOAST tables and their indexes live in pg_toast: charge them to the
    // schema of the table they belong to.
    if (!toast_owner.list.empty()) {
        if (full) {
            auto add_toast = [&](Oid relid, Oid nsp) {
                if (const uint32 *row = toast_row.find(relid)) {
                    RelFile f = toast_rows[*row];
                    f.nsp = nsp;
                    rels.push_back(f);
                }
            };
            for (const auto &owned : toast_owner.list)
                add_toast(owned.first, owned.second);
            scan_catalog(IndexRelationId, InvalidOid, nullptr, 0, [&](HeapTuple tup) {
                Form_pg_index i = reinterpret_cast<Form_pg_index>(GETSTRUCT(tup));
                if (const uint32 *nsp = toast_owner.index.find(i->indrelid))
                    add_toast(i->indexrelid, *nsp);
            });
        } else {
            std::vector<std::pair<Oid, Oid>> toast_rels; // (relation, schema)
            for (const auto &owned : toast_owner.list) {
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
        // Files of the database's default tablespace: one directory scan,
        // summed straight into the schemas' totals. Relations in other
        // tablespaces (rare) are probed one by one.
        OidMap wanted(rels.size()); // relfilenode -> slot in totals
        for (const RelFile &r : rels) {
            const uint32 *slot = nsp_slot.find(r.nsp);
            if (!slot)
                continue;
            if (effective_tablespace(r.tablespace) == MyDatabaseTableSpace)
                wanted.insert(r.relfilenode, *slot);
            else
                totals[*slot] += relation_bytes(r, -1);
        }
        schemahost::sum_relation_files(database_path(), wanted, totals,
                                       schemahost::guc::refresh_threads);
    } else {
        schemahost::DirFd database_dir(database_path());
        for (const RelFile &r : rels)
            if (const uint32 *slot = nsp_slot.find(r.nsp))
                totals[*slot] += relation_bytes(r, database_dir.get());
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
