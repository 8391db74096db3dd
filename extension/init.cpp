#include "cancel_reason.hpp"
#include "entry.hpp"
#include "module.hpp"
#include "quota.hpp"
#include "shmem_quota.hpp"

extern "C" {
PG_MODULE_MAGIC;
PGDLLEXPORT void _PG_init(void);
}

namespace
{
// A plain bool: the library is loaded in the postmaster, so no static object
// with a constructor or destructor lives here.
bool loaded_by_preload = false;
} // namespace

namespace schemahost
{

bool preloaded()
{
    return loaded_by_preload;
}

const char *library_version()
{
    return SCHEMAHOST_VERSION;
}

} // namespace schemahost

void _PG_init(void)
{
    schemahost::entry([] {
        loaded_by_preload = process_shared_preload_libraries_in_progress;
        schemahost::define_gucs();
        // Storage quota enforcement needs shared memory, hence the preload.
        if (loaded_by_preload) {
            schemahost::shmem::install();
            schemahost::quota::install_hooks();
            schemahost::quota::install_cancel_message();
            schemahost::cancel_reason::install();
        }
    });
}
