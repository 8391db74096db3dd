// The write-path hooks of the storage quota.
//
// Every check is a lookup in the shared-memory quota table (shmem_quota.hpp):
// no catalog scan, SPI or table access per statement. The only catalog access
// is get_rel_namespace() / name lookups, which are served by the syscache.
//
//   ExecutorCheckPerms_hook  INSERT (incl. ON CONFLICT), UPDATE, MERGE, COPY FROM,
//                            also inside functions, procedures, prepared
//                            statements and data-modifying CTEs
//   ProcessUtility_hook      CREATE TABLE / TABLE AS / SELECT INTO / SEQUENCE
//                            (also under EXPLAIN ANALYZE),
//                            CREATE INDEX, CREATE/REFRESH MATERIALIZED VIEW,
//                            ALTER TABLE that adds or rewrites, CLUSTER,
//                            VACUUM FULL, REINDEX; temp tables of tenants
//   object_access_hook       any new relation of an over project (safety net);
//                            temporary relations and large objects of tenants;
//                            a TRUNCATE that would give a table of an over
//                            project new files a second time in a transaction
//   ProcessUtility_hook      also: ALTER ROLE / ALTER ROLE SET / ALTER ROLE
//                            RENAME by a project's role; while its project is
//                            over, every statement of that role that is not
//                            on the allow-list of over_allowed.cpp (catalog
//                            content: comments, functions, views, types ...)
#include "quota.hpp"

#include "entry.hpp"
#include "guc.hpp"
#include "over_allowed.hpp"
#include "shmem_quota.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_class.h"
#include "catalog/pg_largeobject.h"
#include "commands/defrem.h"
#include "executor/executor.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
}

#include <cstdio>
#include <string>
#include <vector>

namespace schemahost::quota
{

namespace
{

using shmem::ProjectSnapshot;

ExecutorCheckPerms_hook_type prev_check_perms = nullptr;
ProcessUtility_hook_type prev_utility = nullptr;
object_access_hook_type prev_object_access = nullptr;

std::string pretty_size(int64 bytes)
{
    char *s = pg_call([bytes] {
        return text_to_cstring(
            DatumGetTextPP(DirectFunctionCall1(pg_size_pretty, Int64GetDatum(bytes))));
    });
    return s;
}

// The 53100 error of an over project, with its sizes; `more` continues the
// detail.
Error over_error(const ProjectSnapshot &p, const std::string &more = std::string())
{
    return Error("53100", std::string("project \"") + p.name + "\" is over its storage quota")
        .detail("The project uses " + pretty_size(p.used) + " of its " + pretty_size(p.quota) +
                " storage quota." + more);
}

[[noreturn]] void raise_over(const ProjectSnapshot &p)
{
    char hint[kOverHintMax];
    format_over_hint(hint, sizeof hint);
    throw over_error(p).hint(hint);
}

} // namespace

void format_over_hint(char *buf, std::size_t size) noexcept
{
    std::snprintf(buf, size,
                  "Free space with TRUNCATE or DROP (DELETE and then VACUUM rarely shrinks a "
                  "table's files), or ask the operator for a larger quota. Writes resume by "
                  "themselves once usage is below %d%% of the quota.",
                  guc::release_percent);
}

namespace
{

// The project of the role running the statement (the current user, else the
// session user: SET ROLE or a SECURITY DEFINER function does not escape it),
// in this database; with any_database, in any (roles are cluster-wide: for
// the rare statements that change a role).
bool role_project(ProjectSnapshot *out, bool mark_written, bool any_database = false)
{
    Oid current = GetUserId();
    Oid session = GetSessionUserId();
    auto lookup = [&](Oid role) {
        return pg_call([&] {
            return any_database ? shmem::lookup_role_any_database(role, out)
                                : shmem::lookup_role(role, out, mark_written);
        });
    };
    return lookup(current) || (session != current && lookup(session));
}

// tenant: the project of the role running the statement, nullptr for
// operators (looked up once per statement by check_utility()).
void check_role(const ProjectSnapshot *tenant)
{
    if (tenant && tenant->state == shmem::kOver)
        raise_over(*tenant);
}

void check_namespace(Oid nsp)
{
    ProjectSnapshot p;
    if (pg_call([&] { return shmem::lookup_namespace(nsp, &p, true); }) && p.state == shmem::kOver)
        raise_over(p);
}

// The schema of a named relation, InvalidOid if there is none (the command
// itself reports the missing relation).
Oid relation_namespace(RangeVar *rv)
{
    Oid relid = pg_call([rv] { return RangeVarGetRelid(rv, NoLock, true); });
    return OidIsValid(relid) ? pg_call([relid] { return get_rel_namespace(relid); }) : InvalidOid;
}

void check_existing(RangeVar *rv, const ProjectSnapshot *tenant)
{
    check_role(tenant);
    if (rv)
        check_namespace(relation_namespace(rv));
}

void mark_written(Oid nsp)
{
    pg_call([nsp] { shmem::lookup_namespace(nsp, nullptr, true); });
}

[[noreturn]] void refuse_temp(const ProjectSnapshot &p)
{
    throw Error("42501",
                std::string("temporary tables are not available to project \"") + p.name + "\"")
        .detail("Temporary tables would not count against the project's storage quota.")
        .hint("Use an ordinary or UNLOGGED table in the project's schema and drop it when done.");
}

void check_create(RangeVar *rv, const ProjectSnapshot *tenant)
{
    if (!rv)
        return;
    bool temp = rv->relpersistence == RELPERSISTENCE_TEMP ||
                (rv->schemaname && strcmp(rv->schemaname, "pg_temp") == 0);
    if (temp) {
        if (tenant)
            refuse_temp(*tenant);
        return;
    }
    check_role(tenant);
    Oid nsp = pg_call([rv] {
        if (rv->schemaname)
            return get_namespace_oid(rv->schemaname, true);
        return RangeVarGetCreationNamespace(rv);
    });
    check_namespace(nsp);
}

// TRUNCATE of a relation of an over project. It frees space, but PostgreSQL
// truncates in place only a relation created or given its files in the
// current subtransaction; otherwise the relation gets new files and the old
// ones stay until the transaction ends (ExecuteTruncateGuts()), and RESTART
// IDENTITY gives each owned sequence a new file every time (ResetSequence()).
// A loop of them in exception blocks or savepoints, or of RESTART IDENTITY,
// would grow the project without limit. So while a project is over, a
// TRUNCATE that would give one of its relations files for the second time in
// a transaction is refused, whoever runs it. The check runs in the object
// access hook, which PostgreSQL calls for every relation a TRUNCATE empties
// (named, inheritance children and partitions, tables reached by CASCADE)
// before anything is truncated (for a named table just before its lock; what
// is checked is this session's own transaction state, so that does not
// matter); PostgreSQL itself keeps the relcache's subtransaction IDs right
// across savepoint release and rollback. (The logical replication apply
// worker truncates without the hook; only a superuser can subscribe.)

// Whether the TRUNCATE being checked has RESTART IDENTITY: set by the utility
// hook before every TRUNCATE runs, never restored. That is enough: only the
// TRUNCATE command raises OAT_TRUNCATE, its checks all come before the BEFORE
// TRUNCATE triggers (the only way to run another TRUNCATE meanwhile), and a
// trigger cannot truncate a table the outer statement is truncating
// (PostgreSQL refuses it as in use).
bool truncate_restarts_sequences = false;

// Where the relation's files stand in this transaction, from the relcache:
// whether it got new files earlier in the transaction, and whether a TRUNCATE
// now would empty them in place (they are the current subtransaction's own).
struct Refiled {
    bool earlier;
    bool in_place;
};

Refiled refiled(Oid relid, SubTransactionId sub)
{
    Refiled r{false, false};
    pg_call([&r, relid, sub] {
        Relation rel = RelationIdGetRelation(relid);
        if (!RelationIsValid(rel))
            return;
        r.earlier = rel->rd_firstRelfilenodeSubid != InvalidSubTransactionId;
        r.in_place = rel->rd_createSubid == sub || rel->rd_newRelfilenodeSubid == sub;
        RelationClose(rel);
    });
    return r;
}

[[noreturn]] void refuse_truncate_again(const ProjectSnapshot &p, const char *what)
{
    throw over_error(p, std::string(" While it is over, ") + what +
                            " a second time in one transaction (also not in another savepoint, "
                            "which some drivers set for every statement): the old files stay "
                            "until the transaction ends.")
        .hint("Commit, then TRUNCATE again.");
}

void on_truncate(Oid relid)
{
    Oid nsp = pg_call([relid] { return get_rel_namespace(relid); });
    ProjectSnapshot p;
    if (!pg_call([&] { return shmem::lookup_namespace(nsp, &p, false); }) ||
        p.state != shmem::kOver)
        return;
    SubTransactionId sub = pg_call([] { return GetCurrentSubTransactionId(); });
    Refiled table = refiled(relid, sub);
    if (table.earlier && !table.in_place)
        refuse_truncate_again(p, "TRUNCATE may not give a table new files");
    if (!truncate_restarts_sequences)
        return;
    // ResetSequence() gives a sequence new files whatever the subtransaction.
    List *seqs = pg_call([relid] { return getOwnedSequences(relid); });
    for (int i = 0; i < list_length(seqs); i++)
        if (refiled(list_nth_oid(seqs, i), sub).earlier)
            refuse_truncate_again(
                p, "TRUNCATE ... RESTART IDENTITY may not give a sequence new files");
}

// PostgreSQL lets every role change its own password and its own role-level
// defaults (ALTER ROLE CURRENT_USER PASSWORD / SET ...), and rename itself
// with CREATEROLE. A project's role is managed by the operator: the password
// must stay what reset_project_password() issued, the defaults what the
// operator set, and the name the project's name.
[[noreturn]] void refuse_role_change(const ProjectSnapshot &p)
{
    throw Error("42501", std::string("project \"") + p.name + "\" may not alter roles")
        .detail("Passwords, settings and names of project roles are managed by the operator.")
        .hint(std::string("Ask the operator: reset_project_password('") + p.name +
              "') issues a new password. Use SET for the settings of a session.");
}

// Roles are cluster-wide: a project's role connected to another database
// (template1 and postgres grant CONNECT to PUBLIC by default) is refused
// there too (found by a security audit: it changed its own password there).
void refuse_role_change_anywhere()
{
    ProjectSnapshot p;
    if (role_project(&p, false, true))
        refuse_role_change(p);
}

bool alter_table_grows(const AlterTableStmt *s)
{
    for (int i = 0; i < list_length(s->cmds); i++) {
        const AlterTableCmd *cmd = static_cast<const AlterTableCmd *>(list_nth(s->cmds, i));
        switch (cmd->subtype) {
        case AT_AddColumn:
        case AT_AddColumnRecurse:
        case AT_AddIndex:
        case AT_ReAddIndex:
        case AT_AddConstraint:
        case AT_AddConstraintRecurse:
        case AT_ReAddConstraint:
        case AT_AddIndexConstraint:
        case AT_AlterColumnType:
        case AT_SetLogged:
        case AT_SetUnLogged:
        case AT_SetTableSpace:
        case AT_SetAccessMethod:
        case AT_AddIdentity:
        case AT_AttachPartition:
        case AT_AddInherit:
            return true;
        default:
            break;
        }
    }
    return false;
}

bool vacuum_full(const VacuumStmt *s)
{
    if (!s->is_vacuumcmd)
        return false;
    for (int i = 0; i < list_length(s->options); i++) {
        DefElem *opt = static_cast<DefElem *>(list_nth(s->options, i));
        if (strcmp(opt->defname, "full") == 0)
            return pg_call([opt] { return defGetBoolean(opt); });
    }
    return false;
}

// The CREATE TABLE AS (or CREATE MATERIALIZED VIEW, SELECT INTO) that an
// EXPLAIN ANALYZE will run, if any. Plain EXPLAIN creates nothing. DML under
// EXPLAIN ANALYZE goes through the executor hook like any other.
CreateTableAsStmt *explained_create_table_as(ExplainStmt *s)
{
    Query *q = reinterpret_cast<Query *>(s->query);
    if (!q || !IsA(q, Query) || q->commandType != CMD_UTILITY || !q->utilityStmt ||
        !IsA(q->utilityStmt, CreateTableAsStmt))
        return nullptr;
    for (int i = 0; i < list_length(s->options); i++) {
        DefElem *opt = static_cast<DefElem *>(list_nth(s->options, i));
        if (strcmp(opt->defname, "analyze") == 0 && pg_call([opt] { return defGetBoolean(opt); }))
            return reinterpret_cast<CreateTableAsStmt *>(q->utilityStmt);
    }
    return nullptr;
}

// The checks of statements that grow storage or change a role, for every
// role (the storage checks also look at the target's schema).
void check_statement(Node *stmt, const ProjectSnapshot *tenant)
{
    switch (nodeTag(stmt)) {
    case T_CreateStmt:
        check_create(reinterpret_cast<CreateStmt *>(stmt)->relation, tenant);
        break;
    case T_CreateTableAsStmt: { // CREATE TABLE AS, SELECT INTO, CREATE MATERIALIZED VIEW
        CreateTableAsStmt *s = reinterpret_cast<CreateTableAsStmt *>(stmt);
        if (s->into)
            check_create(s->into->rel, tenant);
        break;
    }
    case T_CreateSeqStmt:
        check_create(reinterpret_cast<CreateSeqStmt *>(stmt)->sequence, tenant);
        break;
    case T_ExplainStmt: // EXPLAIN ANALYZE runs the CREATE TABLE AS it explains
        if (CreateTableAsStmt *s = explained_create_table_as(reinterpret_cast<ExplainStmt *>(stmt)))
            check_statement(reinterpret_cast<Node *>(s), tenant);
        break;
    case T_IndexStmt:
        check_existing(reinterpret_cast<IndexStmt *>(stmt)->relation, tenant);
        break;
    case T_RefreshMatViewStmt: {
        RefreshMatViewStmt *s = reinterpret_cast<RefreshMatViewStmt *>(stmt);
        // Refused anyway, by the temporary table it builds its result in
        // (object access hook); said here in terms of what the tenant typed.
        if (s->concurrent && tenant)
            throw Error("42501", std::string("REFRESH MATERIALIZED VIEW CONCURRENTLY is not "
                                             "available to project \"") +
                                     tenant->name + "\"")
                .detail("It builds its result in temporary tables, which a project's roles "
                        "cannot create.")
                .hint("Use REFRESH MATERIALIZED VIEW without CONCURRENTLY.");
        check_existing(s->relation, tenant);
        break;
    }
    case T_AlterTableStmt: {
        AlterTableStmt *s = reinterpret_cast<AlterTableStmt *>(stmt);
        if (alter_table_grows(s))
            check_existing(s->relation, tenant);
        break;
    }
    case T_ClusterStmt:
        check_existing(reinterpret_cast<ClusterStmt *>(stmt)->relation, tenant);
        break;
    case T_VacuumStmt: {
        VacuumStmt *s = reinterpret_cast<VacuumStmt *>(stmt);
        if (!vacuum_full(s))
            break;
        check_role(tenant);
        for (int i = 0; i < list_length(s->rels); i++) {
            VacuumRelation *vr = static_cast<VacuumRelation *>(list_nth(s->rels, i));
            if (vr->relation)
                check_existing(vr->relation, tenant);
            else if (OidIsValid(vr->oid))
                check_namespace(pg_call([vr] { return get_rel_namespace(vr->oid); }));
        }
        break;
    }
    case T_AlterObjectSchemaStmt: {
        // SET SCHEMA moves a relation's bytes between projects: measure both
        // at the next incremental refresh, whoever runs it.
        AlterObjectSchemaStmt *s = reinterpret_cast<AlterObjectSchemaStmt *>(stmt);
        if (s->relation)
            mark_written(relation_namespace(s->relation));
        if (s->newschema) {
            const char *name = s->newschema;
            mark_written(pg_call([name] { return get_namespace_oid(name, true); }));
        }
        break;
    }
    case T_AlterRoleStmt:    // ALTER ROLE ... PASSWORD / VALID UNTIL / CONNECTION LIMIT ...
    case T_AlterRoleSetStmt: // ALTER ROLE ... [IN DATABASE ...] SET / RESET
        refuse_role_change_anywhere();
        break;
    case T_RenameStmt:
        if (reinterpret_cast<RenameStmt *>(stmt)->renameType == OBJECT_ROLE)
            refuse_role_change_anywhere();
        break;
    case T_ReindexStmt: {
        ReindexStmt *s = reinterpret_cast<ReindexStmt *>(stmt);
        if (s->kind == REINDEX_OBJECT_INDEX || s->kind == REINDEX_OBJECT_TABLE) {
            check_existing(s->relation, tenant);
        } else if (s->kind == REINDEX_OBJECT_SCHEMA && s->name) {
            check_role(tenant);
            const char *name = s->name;
            check_namespace(pg_call([name] { return get_namespace_oid(name, true); }));
        } else {
            check_role(tenant);
        }
        break;
    }
    default:
        break;
    }
}

// One role lookup per statement. The specific refusals come first: a
// tenant that tries a temporary table or to alter its role learns that, not
// that its project is over.
void check_utility(Node *stmt)
{
    ProjectSnapshot p;
    const ProjectSnapshot *tenant = role_project(&p, false) ? &p : nullptr;
    check_statement(stmt, tenant);
    if (tenant && tenant->state == shmem::kOver && !allowed_while_over(stmt))
        raise_over(*tenant);
}

// Whether a range-table entry may grow its relation: INSERT, or UPDATE of at
// least one column. SELECT ... FOR UPDATE/SHARE also requires ACL_UPDATE but
// updates no column; DELETE and MERGE with only DELETE actions do not grow a
// file either (their space is reused or truncated by VACUUM, which the
// next full refresh, or any refresh of a project that is not ok, measures).
inline bool grows(const RangeTblEntry *rte)
{
    AclMode perms = rte->requiredPerms;
    return rte->rtekind == RTE_RELATION &&
           ((perms & ACL_INSERT) != 0 ||
            ((perms & ACL_UPDATE) != 0 && !bms_is_empty(rte->updatedCols)));
}

// Runs on every executor start (SELECT included): a plain C scan of the range
// table, no call that can fail, no allocation and no syscache access, decides
// whether there is anything to look at.
bool may_write(List *rtable)
{
    for (int i = 0; i < list_length(rtable); i++)
        if (grows(static_cast<const RangeTblEntry *>(list_nth(rtable, i))))
            return true;
    return false;
}

// The executor hot path, in plain C: runs for every statement that writes,
// so it holds no C++ object and allocates nothing; an error from the syscache
// or LWLock code may longjmp through it (CONTRIBUTING.md, rule 2). Returns
// whether a write is refused, with the project in *over.
bool refused_range_table(List *rtable, ProjectSnapshot *over)
{
    for (int i = 0; i < list_length(rtable); i++) {
        const RangeTblEntry *rte = static_cast<const RangeTblEntry *>(list_nth(rtable, i));
        if (!grows(rte))
            continue;
        Oid nsp = get_rel_namespace(rte->relid);
        if (shmem::lookup_namespace(nsp, over, true) && over->state == shmem::kOver)
            return true;
    }
    return false;
}

// Utility commands with a storage or role check of their own.
bool has_own_check(const Node *stmt)
{
    switch (nodeTag(stmt)) {
    case T_AlterRoleStmt:
    case T_AlterRoleSetStmt:
        return true;
    case T_RenameStmt:
        return reinterpret_cast<const RenameStmt *>(stmt)->renameType == OBJECT_ROLE;
    case T_CreateStmt:
    case T_CreateTableAsStmt:
    case T_CreateSeqStmt:
    case T_IndexStmt:
    case T_RefreshMatViewStmt:
    case T_AlterTableStmt:
    case T_ClusterStmt:
    case T_VacuumStmt:
    case T_ReindexStmt:
    case T_AlterObjectSchemaStmt:
    case T_ExplainStmt:
        return true;
    default:
        return false;
    }
}

// Utility commands the pre-check looks at (plain C filter: BEGIN, SET, DROP,
// ... never enter the C++ side): those with a check of their own, and those
// refused while the role's project is over, which only the role lookup can
// tell.
bool utility_checked(const Node *stmt)
{
    return has_own_check(stmt) || !allowed_while_over(stmt);
}

// Utility commands after which a tenant's project is measured again: all but
// those that cannot change its size by themselves (statements they run go
// through the executor hook).
bool utility_may_change_size(const Node *stmt)
{
    switch (nodeTag(stmt)) {
    case T_TransactionStmt:
    case T_VariableSetStmt:
    case T_VariableShowStmt:
    case T_DeclareCursorStmt:
    case T_FetchStmt:
    case T_ClosePortalStmt:
    case T_PrepareStmt:
    case T_ExecuteStmt:
    case T_DeallocateStmt:
    case T_ExplainStmt:
    case T_NotifyStmt:
    case T_ListenStmt:
    case T_UnlistenStmt:
    case T_LockStmt:
    case T_DiscardStmt:
    case T_CallStmt:
    case T_DoStmt:
    case T_CopyStmt:
        return false;
    default:
        return true;
    }
}

void on_post_create(Oid class_id, Oid object_id)
{
    ProjectSnapshot p;
    if (class_id == LargeObjectRelationId) {
        if (!role_project(&p, false))
            return;
        throw Error("42501",
                    std::string("large objects are not available to project \"") + p.name + "\"")
            .detail("Large objects live outside every schema and would not count against the "
                    "project's storage quota.")
            .hint("Store the data in a bytea column of a table in the project's schema.");
    }
    // A new relation with storage (table, index, sequence, transient heap of
    // a rewrite) created by a tenant: refused while over, whatever command
    // created it, and refused if it is temporary, however it was named
    // (TEMP, pg_temp., pg_temp_3., or a search_path that starts with pg_temp).
    // Views and composite types have no storage.
    if (!role_project(&p, true))
        return;
    // The new pg_class row is not visible to catalog snapshots yet, but the
    // relation is already in the relcache.
    struct {
        char kind;
        char persistence;
    } rel_info = {RELKIND_RELATION, RELPERSISTENCE_PERMANENT};
    pg_call([object_id, &rel_info] {
        Relation rel = RelationIdGetRelation(object_id);
        if (RelationIsValid(rel)) {
            rel_info.kind = rel->rd_rel->relkind;
            rel_info.persistence = rel->rd_rel->relpersistence;
            RelationClose(rel);
        }
    });
    if (!RELKIND_HAS_STORAGE(rel_info.kind))
        return;
    if (rel_info.persistence == RELPERSISTENCE_TEMP)
        refuse_temp(p);
    if (p.state == shmem::kOver)
        raise_over(p);
}

} // namespace

} // namespace schemahost::quota

extern "C" {

static bool sh_quota_check_perms(List *rtable, bool ereport_on_violation)
{
    // Plain C until a write is refused; only the error is built in C++.
    schemahost::shmem::ProjectSnapshot over;
    if (schemahost::shmem::ready() && schemahost::quota::may_write(rtable) &&
        schemahost::quota::refused_range_table(rtable, &over)) {
        if (!ereport_on_violation)
            return false; // a caller that only probes
        schemahost::entry([&over] { schemahost::quota::raise_over(over); });
    }
    if (schemahost::quota::prev_check_perms)
        return schemahost::quota::prev_check_perms(rtable, ereport_on_violation);
    return true;
}

static void sh_quota_process_utility(PlannedStmt *pstmt, const char *query_string,
                                     bool read_only_tree, ProcessUtilityContext context,
                                     ParamListInfo params, QueryEnvironment *query_env,
                                     DestReceiver *dest, QueryCompletion *qc)
{
    Node *stmt = pstmt->utilityStmt;
    bool ready = schemahost::shmem::ready();
    if (IsA(stmt, TruncateStmt))
        schemahost::quota::truncate_restarts_sequences =
            reinterpret_cast<TruncateStmt *>(stmt)->restart_seqs;
    // Decided before running it: the statement's memory may not outlive it.
    bool mark_after = ready && schemahost::quota::utility_may_change_size(stmt);
    if (ready && schemahost::quota::utility_checked(stmt))
        schemahost::entry([stmt] { schemahost::quota::check_utility(stmt); });
    // Called outside entry(): the command runs in a plain C frame.
    if (schemahost::quota::prev_utility)
        schemahost::quota::prev_utility(pstmt, query_string, read_only_tree, context, params,
                                        query_env, dest, qc);
    else
        standard_ProcessUtility(pstmt, query_string, read_only_tree, context, params, query_env,
                                dest, qc);
    // Whatever a tenant's utility command did (TRUNCATE, DROP, VACUUM, ALTER),
    // the next incremental refresh measures the project again.
    if (mark_after)
        schemahost::entry([] {
            schemahost::shmem::ProjectSnapshot p;
            schemahost::quota::role_project(&p, true);
        });
}

static void sh_quota_object_access(ObjectAccessType access, Oid class_id, Oid object_id, int sub_id,
                                   void *arg)
{
    if (schemahost::quota::prev_object_access)
        schemahost::quota::prev_object_access(access, class_id, object_id, sub_id, arg);
    // The event first: this hook also runs for every function the executor
    // sets up (OAT_FUNCTION_EXECUTE).
    if (access == OAT_TRUNCATE && schemahost::shmem::ready())
        schemahost::entry([object_id] { schemahost::quota::on_truncate(object_id); });
    else if (access == OAT_POST_CREATE && schemahost::shmem::ready() &&
             (class_id == LargeObjectRelationId || (class_id == RelationRelationId && sub_id == 0)))
        schemahost::entry(
            [class_id, object_id] { schemahost::quota::on_post_create(class_id, object_id); });
}

} // extern "C"

namespace schemahost::quota
{

void install_hooks()
{
    prev_check_perms = ExecutorCheckPerms_hook;
    ExecutorCheckPerms_hook = sh_quota_check_perms;
    prev_utility = ProcessUtility_hook;
    ProcessUtility_hook = sh_quota_process_utility;
    prev_object_access = object_access_hook;
    object_access_hook = sh_quota_object_access;
}

} // namespace schemahost::quota
