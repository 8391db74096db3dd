// A libpq connection driven without blocking: every wait goes through
// signals::wait(), so a hanging server can delay neither a shutdown during
// connect nor anything for longer than the timeouts below.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <libpq-fe.h>

namespace schemahostd
{

struct PgConnDeleter {
    void operator()(PGconn *conn) const noexcept { PQfinish(conn); }
};
struct PgResultDeleter {
    void operator()(PGresult *res) const noexcept { PQclear(res); }
};
using PgConnPtr = std::unique_ptr<PGconn, PgConnDeleter>;
using PgResultPtr = std::unique_ptr<PGresult, PgResultDeleter>;

class PgError : public std::runtime_error
{
  public:
    enum class Kind {
        connect,         // could not connect (refused, authentication, timeout, ...)
        interrupted,     // connect abandoned because shutdown was requested
        query,           // the server reported an error; the connection is still usable
        connection_lost, // the connection is gone or unusable: reconnect
    };
    PgError(Kind kind, const std::string &message, std::string sqlstate = {})
        : std::runtime_error(message), kind_(kind), sqlstate_(std::move(sqlstate))
    {
    }
    Kind kind() const noexcept { return kind_; }
    const std::string &sqlstate() const noexcept { return sqlstate_; }

  private:
    Kind kind_;
    std::string sqlstate_;
};

struct PgTimeouts {
    std::chrono::milliseconds connect{10000};
    std::chrono::milliseconds query{30000};
};

// A parameter value; nullopt is SQL NULL.
using PgParam = std::optional<std::string>;

class PgConnection
{
  public:
    // Connects to dsn ("" = libpq defaults). should_abort is asked whenever a
    // signal interrupts the wait; returning true abandons the attempt with
    // PgError::Kind::interrupted. Throws PgError(connect) with a one-line,
    // password-free message: cannot connect to "host=... port=...": reason.
    // dbname, when not empty, overrides the database of dsn (--discover).
    static PgConnection connect(const std::string &dsn, const PgTimeouts &timeouts,
                                const std::function<bool()> &should_abort,
                                const std::string &dbname = {});

    // All of these wait for the whole result (finishing the current step even
    // when a signal arrives) and throw PgError: query for an error reported by
    // the server, connection_lost when the connection broke or timed out.
    PgResultPtr exec(const std::string &sql, const std::vector<PgParam> &params = {});
    void prepare(const std::string &name, const std::string &sql, int nparams);
    PgResultPtr exec_prepared(const std::string &name, const std::vector<PgParam> &params = {});

    std::string escape_identifier(const std::string &identifier) const;
    bool usable() const;
    PGconn *get() const { return conn_.get(); }
    std::string dbname() const;
    int socket() const { return conn_ ? PQsocket(conn_.get()) : -1; }
    int backend_pid() const { return conn_ ? PQbackendPID(conn_.get()) : 0; }
    // Reads what the server sent without waiting and returns the channels of
    // the notifications received (from any statement since the last call)
    // that other sessions sent. Throws PgError(connection_lost).
    std::vector<std::string> take_notifications();

  private:
    PgConnection(PgConnPtr conn, const PgTimeouts &timeouts);
    void send_or_throw(int sent);
    PgResultPtr finish_command();

    PgConnPtr conn_;
    PgTimeouts timeouts_;
};

// Text of column col in row row, or nullopt for NULL.
std::optional<std::string> pg_value(const PGresult *res, int row, int col);

} // namespace schemahostd
