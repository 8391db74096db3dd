#include "app.hpp"

#include "daemon_loop.hpp"
#include "dsn.hpp"
#include "exit_codes.hpp"
#include "logging.hpp"
#include "pg_conn.hpp"

#include <fmt/format.h>

#include <ostream>

namespace schemahostd {

std::string status_line(const std::string &database, const std::string &host_port,
                        const ExtensionInfo &info)
{
    return fmt::format("schemahostd {}: ok: database \"{}\" on {}, schemahost {} (library {})",
                       kDaemonVersion, database, host_port, info.sql_version,
                       info.library_version);
}

int run_once(const Config &config, std::ostream &out, std::ostream &err)
{
    std::vector<std::string> dsns = config.dsns;
    if (dsns.empty())
        dsns.emplace_back(); // libpq's defaults
    int rc = kExitOk;
    for (const auto &dsn : dsns) {
        try {
            // No signal handlers in this mode: Ctrl-C simply ends the process.
            auto conn = PgConnection::connect(dsn, PgTimeouts{}, nullptr);
            ExtensionCheck check;
            const ExtensionInfo info = check.run(conn);
            out << status_line(conn.dbname(), host_port(conn.get()), info) << std::endl;
        } catch (const std::exception &e) {
            // PgError and ExtensionError messages are one line and password-free.
            err << "schemahostd: " << e.what() << std::endl;
            rc = kExitFailure;
        }
    }
    return rc;
}

int run_app(const std::vector<std::string> &args, const Environment &env,
            const FileReader &read_file, std::ostream &out, std::ostream &err)
{
    ParsedCommand command;
    try {
        command = parse_config(args, env, read_file);
        if (command.action == Action::help) {
            out << help_text();
            return kExitOk;
        }
        if (command.action == Action::version) {
            out << version_text() << '\n';
            return kExitOk;
        }
        configure_logging(log_settings(command.config));
    } catch (const ConfigError &e) {
        err << "schemahostd: " << e.what() << std::endl;
        return kExitBadConfig;
    }

    try {
        if (command.config.once)
            return run_once(command.config, out, err);
        return DaemonLoop(command.config, args, env, read_file).run();
    } catch (const std::exception &e) {
        log_error("fatal error", {{"error", e.what()}});
        if (!command.config.log_file.empty()) // otherwise the log line went to stderr already
            err << "schemahostd: fatal error: " << e.what() << std::endl;
        return kExitFailure;
    }
}

} // namespace schemahostd
