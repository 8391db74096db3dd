// Which utility statements a project's role may still run while its project
// is over its storage quota (docs/quotas.md, "Enforcement").
#pragma once

#include "pg.hpp"

namespace schemahost::quota
{

// Whether the statement can add at most a small fixed amount to the files of
// a project or to the system catalogs. An allow-list: a statement type that
// is not on it is refused, so new statement types of later PostgreSQL
// versions are refused until someone looks at them.
//
// Reads node fields only: it allocates nothing and cannot fail, so it may run
// in plain C on the utility hot path, for every role.
bool allowed_while_over(const Node *stmt);

} // namespace schemahost::quota
