// SQL-callable pieces of provisioning that must not be written in SQL: new
// credentials (the password must never appear in statement text) and whether
// the library was preloaded. The lifecycle itself is in sql/0.1.0/20_projects.sql.
#include "connection_uri.hpp"
#include "entry.hpp"
#include "guc.hpp"
#include "module.hpp"
#include "password.hpp"

#include <string>

// schemahost.new_credentials(role text, OUT password text, OUT connection_uri text):
// gives the role a fresh generated password (stored as a SCRAM verifier only)
// and returns it with the URI an application connects with.
SH_FUNCTION(schemahost_new_credentials)
{
    if (PG_ARGISNULL(0))
        throw schemahost::Error("22004", "role must not be null");
    // get_call_result_type() may ereport: through pg_call(), like every
    // PostgreSQL call made while a C++ object (role, password, uri) is live.
    TupleDesc desc = nullptr;
    TypeFuncClass cls = schemahost::pg_call(
        [fcinfo, &desc] { return get_call_result_type(fcinfo, nullptr, &desc); });
    if (cls != TYPEFUNC_COMPOSITE)
        throw schemahost::Error("42804", "new_credentials() must return a composite type");
    Datum arg = PG_GETARG_DATUM(0);
    std::string role(schemahost::pg_call([arg] { return text_to_cstring(DatumGetTextPP(arg)); }));

    std::string password = schemahost::password::generate();
    schemahost::password::set_role_password(role, password);

    char *dbname = schemahost::pg_call([] { return get_database_name(MyDatabaseId); });
    const char *host = schemahost::guc::public_host ? schemahost::guc::public_host : "";
    const char *sslmode = schemahost::guc::public_sslmode ? schemahost::guc::public_sslmode : "";
    std::string uri =
        schemahost::uri::build(role, password, host, PostPortNumber, dbname ? dbname : "", sslmode);

    const char *p = password.c_str();
    const char *u = uri.c_str();
    HeapTuple tup = schemahost::pg_call([=] {
        Datum values[2] = {CStringGetTextDatum(p), CStringGetTextDatum(u)};
        bool nulls[2] = {false, false};
        return heap_form_tuple(BlessTupleDesc(desc), values, nulls);
    });
    schemahost::password::wipe(password);
    schemahost::password::wipe(uri);
    return HeapTupleGetDatum(tup);
}

// schemahost.library_preloaded() RETURNS boolean: false means quotas and the
// tenant restrictions of the hooks are not enforced.
SH_FUNCTION(schemahost_library_preloaded)
{
    PG_RETURN_BOOL(schemahost::preloaded());
}
