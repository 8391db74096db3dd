// The program: parse the configuration, then --help, --version, --once or the
// daemon loop. Separate from main() so it can be driven with any arguments,
// environment and streams.
#pragma once

#include "config.hpp"
#include "version_check.hpp"

#include <iosfwd>
#include <string>
#include <vector>

namespace schemahostd
{

// Returns the process exit code (see exit_codes.hpp).
int run_app(const std::vector<std::string> &args, const Environment &env,
            const FileReader &read_file, std::ostream &out, std::ostream &err);

// Checks each configured database once: one status line per database on out
// (or one error line on err). kExitOk only if all are healthy.
int run_once(const Config &config, std::ostream &out, std::ostream &err);

// schemahostd 0.1.0: ok: database "postgres" on /tmp:5432, schemahost 0.1.0 (library 0.1.0)
std::string status_line(const std::string &database, const std::string &host_port,
                        const ExtensionInfo &info);

} // namespace schemahostd
