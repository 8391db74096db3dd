// libpq connection strings: validation, and rendering them for messages and
// logs without ever showing a password.
#pragma once

#include <optional>
#include <string>

#include <libpq-fe.h>

namespace schemahostd
{

// Why libpq cannot parse dsn (key=value or URI form), or nothing when it can.
// The message never contains the password, even when libpq's own message
// would quote the offending part of the string.
std::optional<std::string> dsn_error(const std::string &dsn);

// dsn as key=value pairs with every secret (password, sslpassword) replaced
// by "********". "" for an empty dsn, "(invalid connection string)" when it
// does not parse.
std::string mask_dsn(const std::string &dsn);

// The effective target of a connection, attempted or established, from what
// libpq resolved (defaults and PG* variables included):
// "host=/tmp port=5432 dbname=postgres user=alice". Never includes a password.
std::string describe_target(const PGconn *conn);

// "/tmp:5432", "db.example.com:5432", "[::1]:5432" for status lines.
std::string host_port(const PGconn *conn);

// Quotes a connection-string value when it needs it, as libpq would read it back.
std::string quote_conninfo_value(const std::string &value);

} // namespace schemahostd
