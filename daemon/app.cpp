#include "app.hpp"

#include "daemon_api.hpp"
#include "daemon_loop.hpp"
#include "discovery.hpp"
#include "dsn.hpp"
#include "exit_codes.hpp"
#include "logging.hpp"
#include "pass.hpp"
#include "pg_conn.hpp"

#include <fmt/format.h>

#include <ostream>

namespace schemahostd
{

std::string status_line(const std::string &database, const std::string &host_port,
                        const ExtensionInfo &info)
{
    return fmt::format("schemahostd {}: ok: database \"{}\" on {}, schemahost {} (library {})",
                       kDaemonVersion, database, host_port, info.sql_version, info.library_version);
}

int run_once(const Config &config, std::ostream &out, std::ostream &err)
{
    // No signal handlers in this mode: Ctrl-C simply ends the process.
    std::vector<TargetKey> discovered;
    int rc = kExitOk;
    if (config.discover) {
        std::vector<std::string> seeds = config.dsns;
        if (seeds.empty())
            seeds.emplace_back();
        for (const auto &seed : seeds) {
            try {
                for (auto &db : discover_databases(seed, PgTimeouts{}, nullptr))
                    discovered.emplace_back(seed, std::move(db));
            } catch (const std::exception &e) {
                err << "schemahostd: discovery failed: " << e.what() << std::endl;
                rc = kExitFailure;
            }
        }
    }
    for (const auto &[dsn, dbname] : wanted_targets(config, discovered)) {
        try {
            auto conn = PgConnection::connect(dsn, PgTimeouts{}, nullptr, dbname);
            ExtensionCheck check;
            const ExtensionInfo info = check.run(conn);
            DaemonApi api;
            api.hello(conn, info.schema, kDaemonVersion);
            const std::string status = status_line(conn.dbname(), host_port(conn.get()), info);
            if (!api.try_lock(conn, info.schema)) {
                // The database is looked after: not a failure.
                // The pid is the active daemon's server backend (what
                // schemahost_active_daemon() shows), not a schemahostd process.
                out << status << "; standby: another schemahostd is active (its backend pid "
                    << api.active_daemon_pid(conn, info.schema) << ")" << std::endl;
                continue;
            }
            const PassReport report =
                run_pass(conn, api, info.schema, config, true,
                         dsn.empty() ? "(libpq defaults)" : mask_dsn(dsn), nullptr);
            if (report.ok()) {
                out << status << "; " << summarize(report) << std::endl;
            } else {
                err << "schemahostd: database \"" << conn.dbname() << "\": " << summarize(report)
                    << std::endl;
                rc = kExitFailure;
            }
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
