// The allow-list of utility statements for a project that is over its storage
// quota. Catalog rows are not counted as usage (docs/quotas.md), so without
// this a tenant that is over could go on storing data in comments, function
// bodies, view definitions, defaults or enum labels. What stays allowed is
// what cannot add more than a small fixed amount: session and transaction
// control, statements whose own work goes through the other checks (DO,
// CALL, EXECUTE, COPY), and everything that removes, revokes, renames, moves
// or flips something that already exists, without giving a relation new
// files again and again within one transaction (TRUNCATE has its own check
// for that in hooks_quota.cpp).
#include "over_allowed.hpp"

extern "C" {
#include "nodes/parsenodes.h"
}

#include <cstring>

namespace schemahost::quota
{

namespace
{

bool alter_table_cmd_allowed(const AlterTableCmd *cmd)
{
    switch (cmd->subtype) {
    case AT_ColumnDefault: // DROP DEFAULT; SET DEFAULT stores an expression
        return cmd->def == nullptr;
    case AT_DropNotNull:
    case AT_SetNotNull:
    case AT_DropExpression:
    case AT_SetStatistics:
    case AT_SetOptions: // n_distinct and friends: validated, fixed size
    case AT_ResetOptions:
    case AT_SetStorage:
    case AT_SetCompression: // applies to values written later
    case AT_DropColumn:
    case AT_AlterConstraint: // deferrability flags
    case AT_ValidateConstraint:
    case AT_DropConstraint:
    case AT_ChangeOwner:
    case AT_ClusterOn:
    case AT_DropCluster:
    case AT_DropOids:
    case AT_SetRelOptions: // only known parameters with validated values
    case AT_ResetRelOptions:
    case AT_EnableTrig:
    case AT_EnableAlwaysTrig:
    case AT_EnableReplicaTrig:
    case AT_DisableTrig:
    case AT_EnableTrigAll:
    case AT_DisableTrigAll:
    case AT_EnableTrigUser:
    case AT_DisableTrigUser:
    case AT_EnableRule:
    case AT_EnableAlwaysRule:
    case AT_EnableReplicaRule:
    case AT_DisableRule:
    case AT_DropInherit:
    case AT_DropOf:
    case AT_ReplicaIdentity:
    case AT_EnableRowSecurity:
    case AT_DisableRowSecurity:
    case AT_ForceRowSecurity:
    case AT_NoForceRowSecurity:
    case AT_DetachPartition:
    case AT_DetachPartitionFinalize:
    case AT_DropIdentity:
        return true;
    default:
        // Adds a column, constraint, index, identity, parent, partition, type
        // link or FDW options, rewrites the table, gives the identity's
        // sequence new files (SET GENERATED / RESTART, as ALTER SEQUENCE), or
        // is internal to tablecmds.c (never parsed).
        return false;
    }
}

bool alter_table_allowed(const AlterTableStmt *s)
{
    for (int i = 0; i < list_length(s->cmds); i++)
        if (!alter_table_cmd_allowed(static_cast<const AlterTableCmd *>(list_nth(s->cmds, i))))
            return false;
    return true;
}

bool alter_domain_allowed(const AlterDomainStmt *s)
{
    switch (s->subtype) {
    case 'T': // SET DEFAULT stores an expression, DROP DEFAULT removes it
        return s->def == nullptr;
    case 'N': // DROP NOT NULL
    case 'O': // SET NOT NULL
    case 'X': // DROP CONSTRAINT
    case 'V': // VALIDATE CONSTRAINT
        return true;
    default: // 'C': ADD CONSTRAINT
        return false;
    }
}

// Statements allowed whatever their arguments.
bool always_allowed(NodeTag tag)
{
    switch (tag) {
    // Transactions and the session.
    case T_TransactionStmt:
    case T_VariableSetStmt:
    case T_VariableShowStmt:
    case T_ConstraintsSetStmt:
    case T_DiscardStmt:
    case T_LoadStmt:
    case T_CheckPointStmt:
    case T_PrepareStmt:
    case T_ExecuteStmt:
    case T_DeallocateStmt:
    case T_DeclareCursorStmt:
    case T_FetchStmt: // FETCH and MOVE
    case T_ClosePortalStmt:
    case T_ListenStmt:
    case T_UnlistenStmt:
    case T_NotifyStmt: // the payload goes to the NOTIFY queue, at most 8000 bytes
    case T_LockStmt:
    // The statements they run are checked one by one (executor and utility
    // hooks); EXPLAIN ANALYZE of CREATE TABLE AS and COPY FROM are refused
    // there.
    case T_DoStmt:
    case T_CallStmt:
    case T_ExplainStmt:
    case T_CopyStmt:
    // Removal; VACUUM FULL is refused by the storage check.
    case T_DropStmt:
    case T_DropOwnedStmt:
    case T_DropRoleStmt:
    case T_DropdbStmt:
    case T_DropTableSpaceStmt:
    case T_DropUserMappingStmt:
    case T_DropSubscriptionStmt:
    // TRUNCATE: one that would give a table or its sequences new files a
    // second time in a transaction is refused by its own check
    // (hooks_quota.cpp).
    case T_TruncateStmt:
    // Names are at most NAMEDATALEN - 1 bytes; owners and schemas are OIDs.
    case T_RenameStmt:
    case T_AlterOwnerStmt:
    case T_ReassignOwnedStmt:
    case T_AlterObjectSchemaStmt:
    // Fixed-size options and flags of objects that exist. (Not ALTER
    // SEQUENCE: most of its options give the sequence a new file, kept until
    // the transaction ends, so a loop of them would grow the project.)
    case T_AlterStatsStmt:
    case T_AlterEventTrigStmt:
        return true;
    default:
        return false;
    }
}

// VACUUM, but not ANALYZE: each ANALYZE writes new pg_statistic rows (up to
// statistics target x column width each), and the old ones stay until
// pg_statistic is vacuumed.
bool vacuum_allowed(const VacuumStmt *s)
{
    if (!s->is_vacuumcmd)
        return false;
    for (int i = 0; i < list_length(s->options); i++)
        if (std::strcmp(static_cast<const DefElem *>(list_nth(s->options, i))->defname,
                        "analyze") == 0)
            return false; // also ANALYZE false: refused rather than parsed here
    return true;
}

} // namespace

bool allowed_while_over(const Node *stmt)
{
    switch (nodeTag(stmt)) {
    case T_VacuumStmt: // VACUUM FULL is refused by the storage check
        return vacuum_allowed(reinterpret_cast<const VacuumStmt *>(stmt));
    // Privileges: REVOKE only. A GRANT adds an ACL entry per object (or
    // column) and role, and ALTER DEFAULT PRIVILEGES ... GRANT a row per
    // schema named, any schema: far from a small fixed amount.
    case T_GrantStmt:
        return !reinterpret_cast<const GrantStmt *>(stmt)->is_grant;
    case T_GrantRoleStmt:
        return !reinterpret_cast<const GrantRoleStmt *>(stmt)->is_grant;
    case T_AlterDefaultPrivilegesStmt: {
        const GrantStmt *action =
            reinterpret_cast<const AlterDefaultPrivilegesStmt *>(stmt)->action;
        return action && !action->is_grant;
    }
    case T_CommentStmt: // IS NULL and IS '' remove the comment
    {
        const char *comment = reinterpret_cast<const CommentStmt *>(stmt)->comment;
        return comment == nullptr || comment[0] == '\0';
    }
    case T_SecLabelStmt: // IS NULL removes the label
        return reinterpret_cast<const SecLabelStmt *>(stmt)->label == nullptr;
    case T_AlterTableStmt: // also ALTER INDEX, VIEW, SEQUENCE, TYPE (composite) ...
        return alter_table_allowed(reinterpret_cast<const AlterTableStmt *>(stmt));
    case T_AlterDomainStmt:
        return alter_domain_allowed(reinterpret_cast<const AlterDomainStmt *>(stmt));
    case T_AlterEnumStmt: // RENAME VALUE; ADD VALUE adds a label each time
        return reinterpret_cast<const AlterEnumStmt *>(stmt)->oldVal != nullptr;
    case T_AlterOpFamilyStmt:
        return reinterpret_cast<const AlterOpFamilyStmt *>(stmt)->isDrop;
    case T_AlterTSConfigurationStmt:
        return reinterpret_cast<const AlterTSConfigurationStmt *>(stmt)->kind ==
               ALTER_TSCONFIG_DROP_MAPPING;
    case T_AlterExtensionContentsStmt: // DROP object
        return reinterpret_cast<const AlterExtensionContentsStmt *>(stmt)->action < 0;
    case T_AlterObjectDependsStmt: // NO DEPENDS ON EXTENSION
        return reinterpret_cast<const AlterObjectDependsStmt *>(stmt)->remove;
    default:
        return always_allowed(nodeTag(stmt));
    }
}

} // namespace schemahost::quota
