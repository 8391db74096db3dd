// Process-wide facts about how the library was loaded, and the per-module
// initialisers that _PG_init() runs.
#pragma once

namespace schemahost
{

// True when the library was loaded through shared_preload_libraries. Without
// the preload there is no shared memory and no enforcement, only the SQL API.
bool preloaded();

// The library's own version (the Makefile passes it from the control file).
const char *library_version();

void define_gucs();

} // namespace schemahost
