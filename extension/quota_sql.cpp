// SQL functions that connect the quota state machine (sql/0.1.0/30_usage.sql)
// with the shared-memory quota table. Without the preload they do nothing
// (and _usage_take_dirty() returns NULL, which makes every refresh full).
#include "entry.hpp"
#include "module.hpp"
#include "quota_arrays.hpp"
#include "shmem_quota.hpp"

#include <string>
#include <vector>

namespace sh = schemahost;

// schemahost.quota_enforcement_active() RETURNS boolean
SH_FUNCTION(schemahost_quota_enforcement_active)
{
    PG_RETURN_BOOL(sh::preloaded() && sh::shmem::ready());
}

// schemahost._usage_take_dirty() RETURNS oid[]: the schemas written since the
// last call or not ok; NULL when a full refresh is needed.
SH_FUNCTION(schemahost_usage_take_dirty)
{
    Oid *nsps = nullptr;
    int n = 0;
    bool primed = sh::pg_call([&] { return sh::shmem::take_dirty(&nsps, &n); });
    if (!primed)
        PG_RETURN_NULL();
    ArrayType *arr = sh::pg_call([&] {
        Datum *elems = static_cast<Datum *>(palloc(sizeof(Datum) * (n > 0 ? n : 1)));
        for (int i = 0; i < n; i++)
            elems[i] = ObjectIdGetDatum(nsps[i]);
        return construct_array(elems, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT);
    });
    PG_RETURN_ARRAYTYPE_P(arr);
}

// schemahost._quota_publish(nsps oid[], roles oid[], names text[], quotas bigint[],
//     used bigint[], states text[], complete boolean, persist boolean) RETURNS integer
// Returns how many projects did not fit into shared memory.
SH_FUNCTION(schemahost_quota_publish)
{
    for (int i = 0; i < 8; i++)
        if (PG_ARGISNULL(i))
            throw sh::Error("22004", "arguments of _quota_publish must not be null");
    if (!sh::shmem::ready())
        PG_RETURN_INT32(0);
    std::vector<Oid> nsps = sh::quota::oid_array(PG_GETARG_DATUM(0));
    std::vector<Oid> roles = sh::quota::oid_array(PG_GETARG_DATUM(1));
    std::vector<std::string> names = sh::quota::text_array(PG_GETARG_DATUM(2));
    std::vector<int64> quotas = sh::quota::int8_array(PG_GETARG_DATUM(3));
    std::vector<int64> used = sh::quota::int8_array(PG_GETARG_DATUM(4));
    std::vector<std::string> states = sh::quota::text_array(PG_GETARG_DATUM(5));
    bool complete = PG_GETARG_BOOL(6);
    bool persist = PG_GETARG_BOOL(7);
    size_t n = nsps.size();
    if (roles.size() != n || names.size() != n || quotas.size() != n || used.size() != n ||
        states.size() != n)
        throw sh::Error("2202E", "arrays of _quota_publish must have the same length");

    std::vector<sh::shmem::ProjectUpdate> updates(n);
    for (size_t i = 0; i < n; i++) {
        int32 st = sh::shmem::state_from_name(states[i].c_str());
        if (st < 0)
            throw sh::Error("22023", "unknown quota state \"" + states[i] + "\"");
        updates[i] = {nsps[i], roles[i], st, used[i], quotas[i], names[i].c_str()};
    }
    const sh::shmem::ProjectUpdate *u = updates.data();
    int count = static_cast<int>(n);
    int failed = sh::pg_call([=] { return sh::shmem::publish(u, count, complete); });
    sh::pg_call([=] { sh::shmem::request_persist(persist); });
    PG_RETURN_INT32(failed);
}

// schemahost._quota_forget(nsps oid[]) RETURNS void
SH_FUNCTION(schemahost_quota_forget)
{
    if (PG_ARGISNULL(0) || !sh::shmem::ready())
        PG_RETURN_VOID();
    std::vector<Oid> nsps = sh::quota::oid_array(PG_GETARG_DATUM(0));
    const Oid *p = nsps.data();
    int n = static_cast<int>(nsps.size());
    sh::pg_call([=] {
        sh::shmem::forget(p, n);
        sh::shmem::request_persist(false);
    });
    PG_RETURN_VOID();
}

// schemahost.quota_shared_state() RETURNS TABLE(project text, schema_oid oid,
//     role_oid oid, state text, used_bytes bigint, quota_bytes bigint, written boolean)
// What the write path sees for the current database.
SH_FUNCTION(schemahost_quota_shared_state)
{
    sh::shmem::ProjectSnapshot *snaps = nullptr;
    bool *written = nullptr;
    int n = sh::pg_call([&] { return sh::shmem::snapshot_all(&snaps, &written); });
    sh::quota::ResultSet out(fcinfo);
    for (int i = 0; i < n; i++) {
        const sh::shmem::ProjectSnapshot &s = snaps[i];
        const char *name = s.name;
        const char *state = sh::shmem::state_name(s.state);
        Datum texts[2];
        sh::pg_call([&] {
            texts[0] = CStringGetTextDatum(name);
            texts[1] = CStringGetTextDatum(state);
        });
        Datum values[7] = {texts[0],
                           ObjectIdGetDatum(s.nsp),
                           ObjectIdGetDatum(s.role),
                           texts[1],
                           Int64GetDatum(s.used),
                           Int64GetDatum(s.quota),
                           BoolGetDatum(written[i])};
        bool nulls[7] = {false, false, false, false, false, false, false};
        out.put(values, nulls);
    }
    return (Datum)0;
}
