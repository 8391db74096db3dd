// pg_call(): the guard around every call into PostgreSQL that may ereport.
//
// An ereport(ERROR) longjmps. If it jumped over C++ frames holding live objects,
// their destructors would silently never run. pg_call() catches the longjmp in
// its own frame (which holds only trivially destructible locals), copies the
// error data, and rethrows it as a C++ exception (PgException) that unwinds the
// C++ frames properly. The entry wrapper rethrows the original PostgreSQL error
// once all C++ objects are gone.
//
// Rules for the callable passed in:
//   - it calls PostgreSQL functions directly and creates no non-trivial C++
//     objects (nothing with a destructor may be live when it longjmps);
//   - it returns void or a trivially copyable value (Datum, pointers, ints).
// A PgException must reach the entry wrapper: the transaction is in an error
// state until the error is rethrown, so never swallow one.
#pragma once

#include "pg.hpp"

#include <exception>
#include <type_traits>
#include <utility>

namespace schemahost
{

class PgException : public std::exception
{
  public:
    explicit PgException(ErrorData *edata) : edata_(edata) {}
    const char *what() const noexcept override
    {
        return edata_ && edata_->message ? edata_->message : "PostgreSQL error";
    }
    ErrorData *edata() const { return edata_; }

  private:
    ErrorData *edata_; // palloc'd copy in the (sub)transaction's context
};

namespace detail
{

// The error being handled, copied where it outlives the C++ unwinding up to
// entry(): the memory context current at the call may not (~SpiSession's
// SPI_finish() deletes SPI's, and entry() would then rethrow freed memory; a
// tenant could crash the backend that way, found by audit). The current
// (sub)transaction's context lives until the abort that follows the rethrow;
// outside a transaction, TopMemoryContext. Leaves caller_cxt current.
inline ErrorData *copy_error_for_rethrow(MemoryContext caller_cxt)
{
    MemoryContextSwitchTo(CurTransactionContext ? CurTransactionContext : TopMemoryContext);
    ErrorData *edata = CopyErrorData();
    MemoryContextSwitchTo(caller_cxt);
    FlushErrorState();
    return edata;
}

} // namespace detail

template <typename F> auto pg_call(F &&fn) -> std::invoke_result_t<F &>
{
    using R = std::invoke_result_t<F &>;
    static_assert(std::is_void_v<R> || std::is_trivially_copyable_v<R>,
                  "pg_call() may only return trivially copyable values");

    MemoryContext volatile caller_cxt = CurrentMemoryContext;
    ErrorData *volatile edata = nullptr;

    if constexpr (std::is_void_v<R>) {
        PG_TRY();
        {
            fn();
        }
        PG_CATCH();
        {
            edata = detail::copy_error_for_rethrow(caller_cxt);
        }
        PG_END_TRY();
        if (edata)
            throw PgException(edata);
    } else {
        R volatile result{};
        PG_TRY();
        {
            result = fn();
        }
        PG_CATCH();
        {
            edata = detail::copy_error_for_rethrow(caller_cxt);
        }
        PG_END_TRY();
        if (edata)
            throw PgException(edata);
        return result;
    }
}

} // namespace schemahost
