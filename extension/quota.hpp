// Storage quota enforcement: the backend hooks that refuse writes of a project
// that is over its quota (see docs/quotas.md).
#pragma once

namespace schemahost::quota
{

// Called from _PG_init() when the library is preloaded: installs
// ExecutorCheckPerms_hook, ProcessUtility_hook and object_access_hook,
// chaining the previous ones.
void install_hooks();

} // namespace schemahost::quota
