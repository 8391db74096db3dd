#include "spi.hpp"

#include "error.hpp"
#include "pg_guard.hpp"

#include <exception>
#include <vector>

namespace schemahost
{

SpiArg text_arg(const std::string &s)
{
    const char *c = s.c_str();
    Datum d = pg_call([c] { return PointerGetDatum(cstring_to_text(c)); });
    return {TEXTOID, d, false};
}

SpiArg text_arg(const std::optional<std::string> &s)
{
    if (!s)
        return {TEXTOID, (Datum)0, true};
    return text_arg(*s);
}

SpiArg int8_arg(int64 v)
{
    return {INT8OID, Int64GetDatum(v), false};
}
SpiArg int4_arg(int32 v)
{
    return {INT4OID, Int32GetDatum(v), false};
}
SpiArg bool_arg(bool v)
{
    return {BOOLOID, BoolGetDatum(v), false};
}
SpiArg oid_arg(Oid v)
{
    return {OIDOID, ObjectIdGetDatum(v), false};
}

SpiSession::SpiSession()
{
    int rc = pg_call([] { return SPI_connect(); });
    if (rc != SPI_OK_CONNECT)
        throw Error("XX000", "SPI_connect failed");
    connected_ = true;
    unwinding_at_start_ = std::uncaught_exceptions();
}

SpiSession::~SpiSession()
{
    // Unwinding towards entry(), which raises an ERROR: the abort cleans up
    // SPI (AtEOXact_SPI / AtEOSubXact_SPI), and SPI must not be used after
    // an error (SPI_finish() would pop whatever level is on top). Only an
    // exception thrown since this session connected counts.
    if (!connected_ || std::uncaught_exceptions() > unwinding_at_start_)
        return;
    // An error here would be followed by the transaction's abort, which
    // cleans up SPI anyway; a destructor must not throw.
    try {
        pg_call([] { SPI_finish(); });
    } catch (...) {
    }
}

uint64 SpiSession::exec(const char *sql, std::initializer_list<SpiArg> args, bool read_only,
                        long max_rows)
{
    int nargs = static_cast<int>(args.size());
    std::vector<Oid> types;
    std::vector<Datum> values;
    std::vector<char> nulls;
    for (const auto &a : args) {
        types.push_back(a.type);
        values.push_back(a.value);
        nulls.push_back(a.isnull ? 'n' : ' ');
    }
    Oid *t = types.data();
    Datum *v = values.data();
    const char *n = nulls.data();
    int rc =
        pg_call([=] { return SPI_execute_with_args(sql, nargs, t, v, n, read_only, max_rows); });
    if (rc < 0)
        throw Error("XX000", std::string("SPI_execute failed: ") + SPI_result_code_string(rc));
    return SPI_processed;
}

uint64 SpiSession::rows() const
{
    return SPI_tuptable ? SPI_processed : 0;
}

Datum SpiSession::datum(uint64 row, int col, bool *isnull) const
{
    if (!SPI_tuptable || row >= SPI_processed)
        throw Error("XX000", "SPI result row out of range");
    HeapTuple tup = SPI_tuptable->vals[row];
    TupleDesc desc = SPI_tuptable->tupdesc;
    return pg_call([=] { return SPI_getbinval(tup, desc, col, isnull); });
}

std::optional<std::string> SpiSession::text(uint64 row, int col) const
{
    if (!SPI_tuptable || row >= SPI_processed)
        throw Error("XX000", "SPI result row out of range");
    HeapTuple tup = SPI_tuptable->vals[row];
    TupleDesc desc = SPI_tuptable->tupdesc;
    char *s = pg_call([=] { return SPI_getvalue(tup, desc, col); });
    if (!s)
        return std::nullopt;
    return std::string(s);
}

std::optional<int64> SpiSession::int8(uint64 row, int col) const
{
    bool isnull = false;
    Datum d = datum(row, col, &isnull);
    if (isnull)
        return std::nullopt;
    return DatumGetInt64(d);
}

std::optional<bool> SpiSession::boolean(uint64 row, int col) const
{
    bool isnull = false;
    Datum d = datum(row, col, &isnull);
    if (isnull)
        return std::nullopt;
    return DatumGetBool(d);
}

} // namespace schemahost
