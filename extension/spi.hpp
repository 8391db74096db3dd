// Running SQL from C++ through SPI, always with parameters.
//
// Values are never spliced into SQL text: pass them as SpiArg. Identifiers that
// must appear in text go through quote_ident() (identifiers.hpp).
#pragma once

#include "pg.hpp"

#include <initializer_list>
#include <optional>
#include <string>

namespace schemahost
{

struct SpiArg {
    Oid type;
    Datum value;
    bool isnull;
};

SpiArg text_arg(const std::string &s);
SpiArg text_arg(const std::optional<std::string> &s);
SpiArg int8_arg(int64 v);
SpiArg int4_arg(int32 v);
SpiArg bool_arg(bool v);
SpiArg oid_arg(Oid v);

// SPI_connect() for the lifetime of the object. Nested use is fine.
class SpiSession
{
  public:
    SpiSession();
    ~SpiSession();
    SpiSession(const SpiSession &) = delete;
    SpiSession &operator=(const SpiSession &) = delete;

    // Runs sql with $1..$n bound to args; returns the number of rows
    // processed. Throws PgException on error.
    uint64 exec(const char *sql, std::initializer_list<SpiArg> args = {}, bool read_only = false,
                long max_rows = 0);

    uint64 rows() const;
    std::optional<std::string> text(uint64 row, int col) const;
    std::optional<int64> int8(uint64 row, int col) const;
    std::optional<bool> boolean(uint64 row, int col) const;

  private:
    Datum datum(uint64 row, int col, bool *isnull) const;
    bool connected_ = false;
    int unwinding_at_start_ = 0; // std::uncaught_exceptions() when connected
};

} // namespace schemahost
