// Small helpers for the quota SQL functions: SQL arrays in, result sets out.
#pragma once

#include "pg.hpp"

#include <optional>
#include <string>
#include <vector>

namespace schemahost::quota
{

// Elements of a one-dimensional array argument; NULL elements are an error.
std::vector<Oid> oid_array(Datum array);
std::vector<int64> int8_array(Datum array);
std::vector<std::string> text_array(Datum array);

// A materialized result set for a set-returning function.
class ResultSet
{
  public:
    explicit ResultSet(FunctionCallInfo fcinfo);
    // values/nulls have as many entries as the result has columns.
    void put(Datum *values, bool *nulls);

  private:
    ReturnSetInfo *rsinfo_;
};

} // namespace schemahost::quota
