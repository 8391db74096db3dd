#include "pg_conn.hpp"

#include "config.hpp"
#include "dsn.hpp"
#include "logging.hpp"
#include "signals.hpp"
#include "text_util.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <string_view>

#include <poll.h>

namespace schemahostd
{

namespace
{

using Clock = std::chrono::steady_clock;

// Our default for application_name, unless the connection string sets one, so
// that pg_stat_activity shows who is connected.
constexpr const char *kApplicationName = "schemahostd";

std::string connect_failure(const PGconn *conn, const std::string &reason)
{
    return fmt::format("cannot connect to \"{}\": {}", describe_target(conn), reason);
}

std::string error_text(const PGresult *res, const PGconn *conn)
{
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    if (!primary) {
        // Client-side errors (lost connection, ...) have only the full message.
        std::string msg = res ? PQresultErrorMessage(res) : "";
        if (msg.empty() && conn)
            msg = PQerrorMessage(conn);
        msg = one_line(msg);
        return msg.empty() ? "unknown error" : msg;
    }
    std::string text = primary;
    if (const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL))
        text += fmt::format(" (detail: {})", detail);
    if (const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT))
        text += fmt::format(" (hint: {})", hint);
    return one_line(text);
}

// connect_timeout from the connection string or PGCONNECT_TIMEOUT, in libpq's
// terms: whole seconds, 0 or absent for none, and at least 2.
std::optional<std::chrono::milliseconds> connect_timeout_of(PGconn *conn)
{
    std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption *)> opts(PQconninfo(conn),
                                                                         PQconninfoFree);
    for (auto *o = opts.get(); o && o->keyword; ++o) {
        if (std::string_view(o->keyword) != "connect_timeout" || !o->val)
            continue;
        char *end = nullptr;
        const long secs = std::strtol(o->val, &end, 10);
        if (end == o->val || *end != '\0' || secs <= 0)
            return std::nullopt;
        return std::chrono::milliseconds(std::max(2L, secs) * 1000);
    }
    return std::nullopt;
}

// libpq prints server notices to stderr by default; route them into the log.
void on_notice(void *, const PGresult *res)
{
    const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY);
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    log_info("server notice",
             {{"severity", severity ? severity : "NOTICE"},
              {"message", one_line(primary ? primary : PQresultErrorMessage(res))}});
}

std::vector<const char *> param_pointers(const std::vector<PgParam> &params)
{
    std::vector<const char *> values;
    values.reserve(params.size());
    for (const auto &p : params)
        values.push_back(p ? p->c_str() : nullptr);
    return values;
}

} // namespace

PgConnection::PgConnection(PgConnPtr conn, const PgTimeouts &timeouts)
    : conn_(std::move(conn)), timeouts_(timeouts)
{
}

PgConnection PgConnection::connect(const std::string &dsn, const PgTimeouts &timeouts,
                                   const std::function<bool()> &should_abort,
                                   const std::string &dbname)
{
    // dbname with expand_dbname=1 takes the whole connection string (key=value
    // or URI); an empty one is ignored, leaving libpq's defaults. Only the
    // first dbname is expanded: a second one overrides the string's database.
    const char *keywords[] = {"dbname", "fallback_application_name",
                              dbname.empty() ? nullptr : "dbname", nullptr};
    const char *values[] = {dsn.c_str(), kApplicationName,
                            dbname.empty() ? nullptr : dbname.c_str(), nullptr};
    PgConnPtr conn(PQconnectStartParams(keywords, values, 1));
    if (!conn)
        throw PgError(PgError::Kind::connect, "cannot connect: out of memory");
    if (PQstatus(conn.get()) == CONNECTION_BAD)
        throw PgError(PgError::Kind::connect,
                      connect_failure(conn.get(), one_line(PQerrorMessage(conn.get()))));

    // libpq enforces connect_timeout only for blocking connects, so we do it:
    // the connection string's value if it has one, else ours.
    auto timeout = timeouts.connect;
    if (const auto configured = connect_timeout_of(conn.get()))
        timeout = *configured;
    const auto deadline = Clock::now() + timeout;
    PostgresPollingStatusType status = PGRES_POLLING_WRITING;
    for (;;) {
        if (status == PGRES_POLLING_OK)
            break;
        if (status == PGRES_POLLING_FAILED)
            throw PgError(PgError::Kind::connect,
                          connect_failure(conn.get(), one_line(PQerrorMessage(conn.get()))));
        const short events = status == PGRES_POLLING_READING ? POLLIN : POLLOUT;
        switch (signals::wait(PQsocket(conn.get()), events, deadline)) {
        case signals::Wake::timeout:
            throw PgError(PgError::Kind::connect,
                          connect_failure(conn.get(), fmt::format("timed out after {} s",
                                                                  format_seconds(timeout))));
        case signals::Wake::signal:
            if (should_abort && should_abort())
                throw PgError(PgError::Kind::interrupted, "connection attempt interrupted");
            continue; // not ready yet: wait again without polling libpq
        case signals::Wake::ready:
            break;
        }
        status = PQconnectPoll(conn.get());
    }

    PQsetNoticeReceiver(conn.get(), on_notice, nullptr);
    if (PQsetnonblocking(conn.get(), 1) != 0)
        throw PgError(PgError::Kind::connect,
                      connect_failure(conn.get(), one_line(PQerrorMessage(conn.get()))));
    return PgConnection(std::move(conn), timeouts);
}

bool PgConnection::usable() const
{
    return conn_ && PQstatus(conn_.get()) == CONNECTION_OK;
}

std::string PgConnection::dbname() const
{
    const char *db = conn_ ? PQdb(conn_.get()) : nullptr;
    return db ? db : "";
}

std::string PgConnection::escape_identifier(const std::string &identifier) const
{
    char *escaped = PQescapeIdentifier(conn_.get(), identifier.c_str(), identifier.size());
    if (!escaped)
        throw PgError(PgError::Kind::query, one_line(PQerrorMessage(conn_.get())));
    std::string out = escaped;
    PQfreemem(escaped);
    return out;
}

PgResultPtr PgConnection::exec(const std::string &sql, const std::vector<PgParam> &params)
{
    const auto values = param_pointers(params);
    send_or_throw(PQsendQueryParams(conn_.get(), sql.c_str(), static_cast<int>(values.size()),
                                    nullptr, values.data(), nullptr, nullptr, 0));
    return finish_command();
}

void PgConnection::prepare(const std::string &name, const std::string &sql, int nparams)
{
    send_or_throw(PQsendPrepare(conn_.get(), name.c_str(), sql.c_str(), nparams, nullptr));
    finish_command();
}

PgResultPtr PgConnection::exec_prepared(const std::string &name, const std::vector<PgParam> &params)
{
    const auto values = param_pointers(params);
    send_or_throw(PQsendQueryPrepared(conn_.get(), name.c_str(), static_cast<int>(values.size()),
                                      values.data(), nullptr, nullptr, 0));
    return finish_command();
}

void PgConnection::send_or_throw(int sent)
{
    if (sent)
        return;
    const std::string msg = one_line(PQerrorMessage(conn_.get()));
    throw PgError(usable() ? PgError::Kind::query : PgError::Kind::connection_lost, msg);
}

PgResultPtr PgConnection::finish_command()
{
    PGconn *c = conn_.get();
    const auto deadline = Clock::now() + timeouts_.query;
    auto lost = [&](const std::string &why) {
        // The protocol state is unknown now; nothing more may be sent on it.
        conn_.reset();
        return PgError(PgError::Kind::connection_lost, why);
    };
    auto wait_for = [&](short events) {
        if (signals::wait(PQsocket(c), events, deadline) == signals::Wake::timeout &&
            Clock::now() >= deadline)
            throw lost(
                fmt::format("no answer from the server within {} ms", timeouts_.query.count()));
    };

    // Send everything; the server may need us to read before it accepts more.
    for (;;) {
        const int rc = PQflush(c);
        if (rc == 0)
            break;
        if (rc < 0)
            throw lost(one_line(PQerrorMessage(c)));
        wait_for(POLLIN | POLLOUT);
        if (!PQconsumeInput(c))
            throw lost(one_line(PQerrorMessage(c)));
    }

    PgResultPtr result;
    PgResultPtr first_error;
    for (;;) {
        while (PQisBusy(c)) {
            wait_for(POLLIN);
            if (!PQconsumeInput(c))
                throw lost(one_line(PQerrorMessage(c)));
        }
        PgResultPtr next(PQgetResult(c));
        if (!next)
            break;
        const auto status = PQresultStatus(next.get());
        if (status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE ||
            status == PGRES_NONFATAL_ERROR) {
            if (!first_error)
                first_error = std::move(next);
        } else {
            result = std::move(next);
        }
    }

    if (PQstatus(c) != CONNECTION_OK) {
        const std::string why =
            first_error ? error_text(first_error.get(), c) : one_line(PQerrorMessage(c));
        throw lost(why.empty() ? "connection lost" : why);
    }
    if (first_error) {
        const char *state = PQresultErrorField(first_error.get(), PG_DIAG_SQLSTATE);
        throw PgError(PgError::Kind::query, error_text(first_error.get(), c), state ? state : "");
    }
    return result;
}

std::vector<std::string> PgConnection::take_notifications()
{
    std::vector<std::string> channels;
    if (!conn_)
        return channels;
    if (!PQconsumeInput(conn_.get())) {
        const std::string why = one_line(PQerrorMessage(conn_.get()));
        conn_.reset();
        throw PgError(PgError::Kind::connection_lost, why.empty() ? "connection lost" : why);
    }
    const int own = PQbackendPID(conn_.get());
    while (PGnotify *n = PQnotifies(conn_.get())) {
        // Our own NOTIFYs (e.g. a purge) must not wake us again.
        if (n->be_pid != own)
            channels.emplace_back(n->relname);
        PQfreemem(n);
    }
    if (PQstatus(conn_.get()) != CONNECTION_OK) {
        conn_.reset();
        throw PgError(PgError::Kind::connection_lost, "connection lost");
    }
    return channels;
}

std::optional<std::string> pg_value(const PGresult *res, int row, int col)
{
    if (!res || row >= PQntuples(res) || col >= PQnfields(res) || PQgetisnull(res, row, col))
        return std::nullopt;
    return std::string(PQgetvalue(res, row, col));
}

} // namespace schemahostd
