// schemahost_version(): the library and SQL versions, and a clear error when a
// package upgrade replaced the library but ALTER EXTENSION has not been run.
#include "entry.hpp"
#include "module.hpp"
#include "spi.hpp"

#include <string>

SH_FUNCTION(schemahost_version)
{
    std::string sql_version;
    {
        schemahost::SpiSession spi;
        // Every name qualified, the operator too: a caller's search_path
        // may put its own "=" ahead of pg_catalog's.
        spi.exec("SELECT extversion FROM pg_catalog.pg_extension "
                 "WHERE extname OPERATOR(pg_catalog.=) 'schemahost'",
                 {}, true, 1);
        if (spi.rows() == 0)
            throw schemahost::Error("55000",
                                    "extension \"schemahost\" is not installed in this database")
                .hint("Run CREATE EXTENSION schemahost;");
        sql_version = spi.text(0, 1).value_or("");
    }

    const std::string lib = schemahost::library_version();
    if (lib != sql_version)
        throw schemahost::Error("55000", "schemahost library version " + lib +
                                             " does not match the installed SQL version " +
                                             sql_version)
            .detail("The shared library was upgraded or downgraded without updating the extension.")
            .hint("Run ALTER EXTENSION schemahost UPDATE; (and restart the server if the library "
                  "is in shared_preload_libraries).");

    // May ereport while lib and sql_version are live: through pg_call().
    TupleDesc desc = nullptr;
    TypeFuncClass cls = schemahost::pg_call(
        [fcinfo, &desc] { return get_call_result_type(fcinfo, nullptr, &desc); });
    if (cls != TYPEFUNC_COMPOSITE)
        throw schemahost::Error("42804", "schemahost_version() must return a composite type");

    const char *l = lib.c_str();
    const char *s = sql_version.c_str();
    HeapTuple tup = schemahost::pg_call([=] {
        Datum values[2] = {CStringGetTextDatum(l), CStringGetTextDatum(s)};
        bool nulls[2] = {false, false};
        return heap_form_tuple(BlessTupleDesc(desc), values, nulls);
    });
    return HeapTupleGetDatum(tup);
}
