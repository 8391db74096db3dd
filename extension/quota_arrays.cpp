#include "quota_arrays.hpp"

#include "error.hpp"
#include "pg_guard.hpp"

extern "C" {
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/tuplestore.h"
}

namespace schemahost::quota
{

namespace
{

struct Elements {
    Datum *values;
    bool *nulls;
    int count;
};

Elements deconstruct(Datum array, Oid type)
{
    Elements e{nullptr, nullptr, 0};
    pg_call([&] {
        ArrayType *arr = DatumGetArrayTypeP(array);
        int16 typlen;
        bool typbyval;
        char typalign;
        get_typlenbyvalalign(type, &typlen, &typbyval, &typalign);
        deconstruct_array(arr, type, typlen, typbyval, typalign, &e.values, &e.nulls, &e.count);
    });
    for (int i = 0; i < e.count; i++)
        if (e.nulls[i])
            throw Error("22004", "array must not contain null elements");
    return e;
}

} // namespace

std::vector<Oid> oid_array(Datum array)
{
    Elements e = deconstruct(array, OIDOID);
    std::vector<Oid> out;
    out.reserve(e.count);
    for (int i = 0; i < e.count; i++)
        out.push_back(DatumGetObjectId(e.values[i]));
    return out;
}

std::vector<int64> int8_array(Datum array)
{
    Elements e = deconstruct(array, INT8OID);
    std::vector<int64> out;
    out.reserve(e.count);
    for (int i = 0; i < e.count; i++)
        out.push_back(DatumGetInt64(e.values[i]));
    return out;
}

std::vector<std::string> text_array(Datum array)
{
    Elements e = deconstruct(array, TEXTOID);
    std::vector<std::string> out;
    out.reserve(e.count);
    for (int i = 0; i < e.count; i++) {
        Datum d = e.values[i];
        char *s = pg_call([d] { return text_to_cstring(DatumGetTextPP(d)); });
        out.emplace_back(s);
    }
    return out;
}

ResultSet::ResultSet(FunctionCallInfo fcinfo)
{
    pg_call([fcinfo] { InitMaterializedSRF(fcinfo, 0); });
    rsinfo_ = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
}

void ResultSet::put(Datum *values, bool *nulls)
{
    ReturnSetInfo *rsinfo = rsinfo_;
    pg_call([=] { tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls); });
}

} // namespace schemahost::quota
