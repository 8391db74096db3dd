#include "entry.hpp"

namespace schemahost::detail
{

void capture_current_exception(PendingError &out) noexcept
{
    out.set = true;
    try {
        throw;
    } catch (const PgException &e) {
        out.pg_error = e.edata();
    } catch (const Error &e) {
        copy_text(out.sqlstate, sizeof(out.sqlstate), e.sqlstate().c_str());
        copy_text(out.message, sizeof(out.message), e.what());
        copy_text(out.detail, sizeof(out.detail), e.detail().c_str());
        copy_text(out.hint, sizeof(out.hint), e.hint().c_str());
    } catch (const std::bad_alloc &) {
        copy_text(out.sqlstate, sizeof(out.sqlstate), "53200");
        copy_text(out.message, sizeof(out.message), "out of memory");
    } catch (const std::exception &e) {
        copy_text(out.sqlstate, sizeof(out.sqlstate), "XX000");
        copy_text(out.message, sizeof(out.message), e.what());
    } catch (...) {
        copy_text(out.sqlstate, sizeof(out.sqlstate), "XX000");
        copy_text(out.message, sizeof(out.message), "unknown C++ exception in schemahost");
    }
}

void raise_pending(const PendingError &err)
{
    if (err.pg_error)
        ReThrowError(err.pg_error);

    const char *s = err.sqlstate[0] ? err.sqlstate : "XX000";
    int code = MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4]);
    ereport(ERROR, (errcode(code), errmsg_internal("%s", err.message),
                    err.detail[0] ? errdetail_internal("%s", err.detail) : 0,
                    err.hint[0] ? errhint("%s", err.hint) : 0));
    pg_unreachable();
}

} // namespace schemahost::detail
