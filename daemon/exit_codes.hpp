// Process exit codes of schemahostd. Scripts and service managers rely on
// these, so they are part of the interface: never renumber.
#pragma once

namespace schemahostd
{

enum ExitCode : int {
    // Success: --once found every database healthy, --help/--version, or a
    // clean shutdown on SIGTERM/SIGINT.
    kExitOk = 0,
    // Runtime failure: server unreachable, authentication failed, extension
    // missing or incompatible, unexpected internal error.
    kExitFailure = 1,
    // Bad configuration: unknown option, invalid value, malformed --dsn,
    // unreadable config file, log file that cannot be opened.
    kExitBadConfig = 2,
};

} // namespace schemahostd
