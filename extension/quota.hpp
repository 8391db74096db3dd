// Storage quota enforcement: the backend hooks that refuse writes of a project
// that is over its quota (see docs/quotas.md).
#pragma once

#include <cstddef>

namespace schemahost::quota
{

// The hint of every report about an over project: how to get back under the
// quota (release threshold included). Plain snprintf, so that it can be
// written inside error reporting too (cancel_message.cpp).
constexpr std::size_t kOverHintMax = 256;
void format_over_hint(char *buf, std::size_t size) noexcept;

// Called from _PG_init() when the library is preloaded: emit_log_hook, which
// says in the report of a statement cancelled for its over project why.
void install_cancel_message();

// Called from _PG_init() when the library is preloaded: installs
// ExecutorCheckPerms_hook, ProcessUtility_hook and object_access_hook,
// chaining the previous ones.
void install_hooks();

} // namespace schemahost::quota
