// The single way C++ code is entered from PostgreSQL.
//
// A C++ exception that escapes into a PostgreSQL C frame aborts the backend and
// makes the postmaster restart every session. So every SQL-callable function,
// hook and callback runs its body through entry(), which catches everything,
// lets the exception object die, and only then raises a PostgreSQL ERROR.
//
//   SH_FUNCTION(my_sql_function)
//   {
//       ... may throw schemahost::Error or PgException ...
//       PG_RETURN_...;
//   }
//
// For hooks: call `schemahost::entry([&] { ... })` from the extern "C" hook.
#pragma once

#include "error.hpp"
#include "pg.hpp"
#include "pg_guard.hpp"

#include <cstring>
#include <exception>
#include <new>
#include <type_traits>

namespace schemahost
{

namespace detail
{

// Fixed-size buffers: the error text must outlive the exception object without
// allocating inside the catch block (an allocation failure there would longjmp
// out of a catch handler).
struct PendingError {
    char sqlstate[6] = {0};
    char message[4096] = {0};
    char detail[4096] = {0};
    char hint[2048] = {0};
    ErrorData *pg_error = nullptr;
    bool set = false;
};

inline void copy_text(char *dst, size_t size, const char *src)
{
    if (!src) {
        dst[0] = '\0';
        return;
    }
    size_t n = std::strlen(src);
    if (n >= size)
        n = size - 1;
    std::memcpy(dst, src, n);
    dst[n] = '\0';
}

void capture_current_exception(PendingError &out) noexcept;
[[noreturn]] void raise_pending(const PendingError &err);

} // namespace detail

template <typename F> auto entry(F &&fn) noexcept -> std::invoke_result_t<F &>
{
    using R = std::invoke_result_t<F &>;
    detail::PendingError err;
    try {
        return fn();
    } catch (...) {
        detail::capture_current_exception(err);
    }
    // The exception object is destroyed here; it is now safe to longjmp.
    detail::raise_pending(err);
    if constexpr (!std::is_void_v<R>)
        return R{}; // unreachable: raise_pending does not return
}

} // namespace schemahost

// Defines an SQL-callable function `name` with C linkage whose body runs inside
// schemahost::entry(). The body sees `fcinfo` as usual.
#define SH_FUNCTION(name)                                                                          \
    extern "C" {                                                                                   \
    PGDLLEXPORT Datum name(PG_FUNCTION_ARGS);                                                      \
    PG_FUNCTION_INFO_V1(name);                                                                     \
    }                                                                                              \
    static Datum name##_body(FunctionCallInfo fcinfo);                                             \
    extern "C" PGDLLEXPORT Datum name(PG_FUNCTION_ARGS)                                            \
    {                                                                                              \
        return schemahost::entry([fcinfo]() -> Datum { return name##_body(fcinfo); });             \
    }                                                                                              \
    static Datum name##_body(FunctionCallInfo fcinfo)
