#include "config.hpp"

#include "alerts/alert_dispatcher.hpp"
#include "dsn.hpp"
#include "text_util.hpp"

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <optional>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

namespace po = boost::program_options;

namespace schemahostd
{

namespace
{

constexpr const char *kEnvPrefix = "SCHEMAHOSTD_";
constexpr double kMaxSeconds = 365.0 * 24 * 3600;

enum Source : unsigned { kCommandLine = 1U, kConfigFile = 2U, kEnvironment = 4U };
constexpr unsigned kAllSources = kCommandLine | kConfigFile | kEnvironment;

// A value rejected by an option's parser; the caller adds where it came from.
struct InvalidValue {
    std::string reason;
};

// One row per option. The same name is the long option (--name), the config
// file key (name = value) and, upper-cased with '-' and '.' as '_', the
// environment variable (SCHEMAHOSTD_NAME).
struct OptionSpec {
    const char *name;
    const char *value_name; // nullptr: a switch, no value on the command line
    bool repeatable;
    bool secret; // never echo the value: connection strings may hold passwords
    unsigned sources;
    std::function<std::string(const Config &)> default_text; // nullptr: no default
    const char *help;
    std::function<void(Config &, const std::string &)> apply; // nullptr: handled by the parser
};

bool parse_bool(const std::string &value)
{
    const std::string v = to_lower(trim(value));
    if (v == "1" || v == "true" || v == "yes" || v == "on")
        return true;
    if (v == "0" || v == "false" || v == "no" || v == "off")
        return false;
    throw InvalidValue{"must be true or false (also accepted: yes/no, on/off, 1/0)"};
}

std::chrono::milliseconds parse_seconds(const std::string &value)
{
    // Only plain decimals: strtod alone would also take "inf", "nan" and hex.
    const std::string v = trim(value);
    const auto digits =
        std::count_if(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
    const auto dots = std::count(v.begin(), v.end(), '.');
    const std::string reason = "must be a number of seconds greater than 0 (e.g. 2 or 0.5)";
    if (digits == 0 || dots > 1 || static_cast<std::size_t>(digits + dots) != v.size())
        throw InvalidValue{reason};
    const double seconds = std::strtod(v.c_str(), nullptr);
    if (!(seconds > 0))
        throw InvalidValue{reason};
    if (seconds > kMaxSeconds)
        throw InvalidValue{fmt::format("must be at most {} seconds (one year)", kMaxSeconds)};
    const auto ms = std::llround(seconds * 1000.0);
    if (ms < 1)
        throw InvalidValue{"must be at least 0.001 seconds"};
    return std::chrono::milliseconds(ms);
}

LogFormat parse_log_format(const std::string &value)
{
    const std::string v = to_lower(trim(value));
    if (v == "text")
        return LogFormat::text;
    if (v == "json")
        return LogFormat::json;
    throw InvalidValue{"must be text or json"};
}

LogLevel parse_log_level(const std::string &value)
{
    const std::string v = to_lower(trim(value));
    static const std::pair<const char *, LogLevel> levels[] = {
        {"trace", LogLevel::trace},       {"debug", LogLevel::debug},  {"info", LogLevel::info},
        {"warn", LogLevel::warn},         {"warning", LogLevel::warn}, {"error", LogLevel::error},
        {"critical", LogLevel::critical}, {"off", LogLevel::off},
    };
    for (const auto &[name, level] : levels)
        if (v == name)
            return level;
    throw InvalidValue{"must be one of trace, debug, info, warn, error, critical, off"};
}

const std::vector<OptionSpec> &option_specs()
{
    static const std::vector<OptionSpec> specs = {
        {"help", nullptr, false, false, kCommandLine, nullptr, "Print this help and exit", nullptr},
        {"version", nullptr, false, false, kCommandLine, nullptr, "Print the version and exit",
         nullptr},
        {"config", "FILE", false, false, kCommandLine | kEnvironment,
         [](const Config &) { return std::string("none"); },
         "Read options from FILE: `name = value` lines, # or ; starts a comment line "
         "(see schemahostd.conf.example)",
         [](Config &c, const std::string &v) { c.config_file = v; }},
        {"dsn", "CONNINFO", true, true, kAllSources,
         [](const Config &) {
             return std::string("none, i.e. one connection with libpq's defaults (PGHOST, PGPORT, "
                                "PGUSER, PGDATABASE, PGPASSWORD, PGSERVICE, ~/.pgpass), as psql");
         },
         "A libpq connection string (key=value or postgresql:// URI) of a database to watch; "
         "repeat for several databases",
         [](Config &c, const std::string &v) {
             if (auto problem = dsn_error(v))
                 throw InvalidValue{*problem};
             c.dsns.push_back(v);
         }},
        {"once", nullptr, false, false, kAllSources,
         [](const Config &d) { return std::string(d.once ? "on" : "off"); },
         "Run one full pass over every database (for cron), print one status line each to "
         "stdout and exit: 0 if every step of every database succeeded, 1 otherwise",
         [](Config &c, const std::string &v) { c.once = parse_bool(v); }},
        {"interval", "SECONDS", false, false, kAllSources,
         [](const Config &d) { return format_seconds(d.interval); },
         "Time between passes over each database; fractions allowed, must be > 0",
         [](Config &c, const std::string &v) { c.interval = parse_seconds(v); }},
        {"full-interval", "SECONDS", false, false, kAllSources,
         [](const Config &d) { return format_seconds(d.full_interval); },
         "Time between full passes (which re-examine everything, not just recent changes); "
         "must be > 0",
         [](Config &c, const std::string &v) { c.full_interval = parse_seconds(v); }},
        {"discover", nullptr, false, false, kAllSources,
         [](const Config &d) { return std::string(d.discover ? "on" : "off"); },
         "Watch every database of the instance of each --dsn (or of libpq's defaults) where the "
         "schemahost extension is installed, instead of the --dsn databases themselves; the "
         "list is refreshed every --discover-interval",
         [](Config &c, const std::string &v) { c.discover = parse_bool(v); }},
        {"discover-interval", "SECONDS", false, false, kAllSources,
         [](const Config &d) { return format_seconds(d.discover_interval); },
         "Time between two searches for databases with --discover; must be > 0",
         [](Config &c, const std::string &v) { c.discover_interval = parse_seconds(v); }},
        {"event-retention", "DAYS", false, false, kAllSources,
         [](const Config &d) { return std::to_string(d.event_retention_days); },
         "Delete events older than DAYS days whose alerts are all delivered, failed or "
         "cancelled, once per full pass; 0 keeps every event",
         [](Config &c, const std::string &v) {
             const std::string t = trim(v);
             if (t.empty() || t.size() > 5 ||
                 !std::all_of(t.begin(), t.end(),
                              [](unsigned char ch) { return std::isdigit(ch); }) ||
                 std::stoi(t) > 36500)
                 throw InvalidValue{"must be a whole number of days from 0 to 36500"};
             c.event_retention_days = std::stoi(t);
         }},
        {"log-format", "FORMAT", false, false, kAllSources,
         [](const Config &d) { return std::string(to_string(d.log_format)); },
         "Log format: text, or json for one JSON object per line (ts, level, msg, fields)",
         [](Config &c, const std::string &v) { c.log_format = parse_log_format(v); }},
        {"log-file", "FILE", false, false, kAllSources,
         [](const Config &) { return std::string("stderr"); },
         "Append log lines to FILE (reopened on SIGHUP, for log rotation)",
         [](Config &c, const std::string &v) { c.log_file = v; }},
        {"log-level", "LEVEL", false, false, kAllSources,
         [](const Config &d) { return std::string(to_string(d.log_level)); },
         "Least severe level logged: trace, debug, info, warn, error, critical or off",
         [](Config &c, const std::string &v) { c.log_level = parse_log_level(v); }},
        // Alert delivery (docs/alerts.md). URLs are secret: they may carry
        // credentials or tokens.
        {"smtp-url", "URL", false, true, kAllSources,
         [](const Config &) { return std::string("none, i.e. no email"); },
         "SMTP server for alert emails: smtp://host[:port] (STARTTLS when offered) or "
         "smtps://host[:port]",
         [](Config &c, const std::string &v) { c.alerts.smtp_url = trim(v); }},
        {"smtp-user", "NAME", false, false, kAllSources,
         [](const Config &) { return std::string("none, i.e. no AUTH"); },
         "User name for SMTP AUTH",
         [](Config &c, const std::string &v) { c.alerts.smtp_user = trim(v); }},
        {"smtp-password-file", "FILE", false, false, kAllSources,
         [](const Config &) { return std::string("none"); },
         "File holding the SMTP AUTH password (trailing newline ignored)",
         [](Config &c, const std::string &v) { c.alerts.smtp_password_file = trim(v); }},
        {"smtp-from", "ADDRESS", false, false, kAllSources,
         [](const Config &) { return std::string("none; required with --smtp-url"); },
         "Sender address of alert emails",
         [](Config &c, const std::string &v) { c.alerts.smtp_from = trim(v); }},
        {"operator-email", "ADDRESS", false, false, kAllSources,
         [](const Config &) { return std::string("none"); },
         "Operator address: Bcc of every alert email, and named in it as the contact",
         [](Config &c, const std::string &v) { c.alerts.operator_email = trim(v); }},
        {"webhook-url", "URL", false, true, kAllSources,
         [](const Config &) { return std::string("none, i.e. no webhook"); },
         "http(s) URL that receives one JSON POST per event",
         [](Config &c, const std::string &v) { c.alerts.webhook_url = trim(v); }},
        {"webhook-secret-file", "FILE", false, false, kAllSources,
         [](const Config &) { return std::string("none, i.e. unsigned"); },
         "File holding the webhook secret; requests then carry X-Schemahost-Signature",
         [](Config &c, const std::string &v) { c.alerts.webhook_secret_file = trim(v); }},
        {"max-attempts", "N", false, false, kAllSources,
         [](const Config &d) { return std::to_string(d.alerts.max_attempts); },
         "Attempts per alert delivery before it is marked failed (view alert_failures)",
         [](Config &c, const std::string &v) {
             const std::string t = trim(v);
             if (t.empty() || t.size() > 6 ||
                 !std::all_of(t.begin(), t.end(),
                              [](unsigned char ch) { return std::isdigit(ch); }) ||
                 std::stoi(t) < 1)
                 throw InvalidValue{"must be a whole number from 1 to 999999"};
             c.alerts.max_attempts = std::stoi(t);
         }},
        {"alert-retry-base", "SECONDS", false, false, kAllSources,
         [](const Config &d) { return format_seconds(d.alerts.retry_base); },
         "Delay before retrying a failed alert delivery; doubles with each attempt",
         [](Config &c, const std::string &v) { c.alerts.retry_base = parse_seconds(v); }},
        {"alert-retry-max", "SECONDS", false, false, kAllSources,
         [](const Config &d) { return format_seconds(d.alerts.retry_max); },
         "Longest delay between alert delivery attempts",
         [](Config &c, const std::string &v) { c.alerts.retry_max = parse_seconds(v); }},
        {"smtp-timeout", "SECONDS", false, false, kAllSources,
         [](const Config &d) { return format_seconds(d.alerts.smtp_timeout); },
         "Time allowed for sending one alert email",
         [](Config &c, const std::string &v) { c.alerts.smtp_timeout = parse_seconds(v); }},
        {"webhook-timeout", "SECONDS", false, false, kAllSources,
         [](const Config &d) { return format_seconds(d.alerts.webhook_timeout); },
         "Time allowed for one webhook request",
         [](Config &c, const std::string &v) { c.alerts.webhook_timeout = parse_seconds(v); }},
        {"alert-connect-timeout", "SECONDS", false, false, kAllSources,
         [](const Config &d) { return format_seconds(d.alerts.connect_timeout); },
         "Time allowed for connecting to the SMTP server or the webhook",
         [](Config &c, const std::string &v) { c.alerts.connect_timeout = parse_seconds(v); }},
        {"alert-batch", "N", false, false, kAllSources,
         [](const Config &d) { return std::to_string(d.alerts.batch); },
         "Alert deliveries in flight per database, each on a thread of its own, at most "
         "(and 200 in the whole daemon)",
         [](Config &c, const std::string &v) {
             const std::string t = trim(v);
             if (t.empty() || t.size() > 4 ||
                 !std::all_of(t.begin(), t.end(),
                              [](unsigned char ch) { return std::isdigit(ch); }) ||
                 std::stoi(t) < 1)
                 throw InvalidValue{"must be a whole number from 1 to 9999"};
             c.alerts.batch = std::stoi(t);
         }},
    };
    return specs;
}

std::string env_name(const OptionSpec &spec)
{
    std::string name = kEnvPrefix;
    for (const char *p = spec.name; *p; ++p)
        name += (*p == '-' || *p == '.')
                    ? '_'
                    : static_cast<char>(std::toupper(static_cast<unsigned char>(*p)));
    return name;
}

const OptionSpec *find_spec(const std::string &name)
{
    for (const auto &spec : option_specs())
        if (name == spec.name)
            return &spec;
    return nullptr;
}

const OptionSpec *find_spec_by_env(const std::string &var)
{
    for (const auto &spec : option_specs())
        if (var == env_name(spec))
            return &spec;
    return nullptr;
}

// Greedy word wrap, each line indented.
std::string wrap(const std::string &text, std::size_t indent, std::size_t width)
{
    std::istringstream words(text);
    std::string word;
    std::string out(indent, ' ');
    std::size_t column = indent;
    bool first = true;
    while (words >> word) {
        if (!first && column + 1 + word.size() > width) {
            out += "\n" + std::string(indent, ' ');
            column = indent;
            first = true;
        }
        if (!first) {
            out += ' ';
            ++column;
        }
        out += word;
        column += word.size();
        first = false;
    }
    return out + "\n";
}

std::string format_options_help()
{
    std::string out;
    for (const auto &spec : option_specs()) {
        std::string synopsis =
            std::string("  ") +
            (spec.name == std::string("help") ? "-h, --help" : std::string("--") + spec.name);
        if (spec.value_name)
            synopsis += std::string(" ") + spec.value_name;
        out += synopsis + "\n";
        out += wrap(std::string(spec.help) + ".", 6, 80);
        if (spec.default_text) {
            std::string where = "Default: " + spec.default_text(Config{}) + ".";
            if (spec.sources & kEnvironment)
                where += " Environment: " + env_name(spec) + ".";
            out += wrap(where, 6, 80);
        }
    }
    return out;
}

po::options_description make_description()
{
    // Every value is taken as a string and converted by the option table, so
    // that all validation messages are ours and name the option's source.
    po::options_description desc;
    for (const auto &spec : option_specs()) {
        const std::string names = spec.name == std::string("help") ? "help,h" : spec.name;
        const char *text = spec.help;
        if (!spec.value_name)
            desc.add_options()(names.c_str(),
                               po::value<std::string>()->zero_tokens()->implicit_value("true", ""),
                               text);
        else if (spec.repeatable)
            desc.add_options()(names.c_str(),
                               po::value<std::vector<std::string>>()->value_name(spec.value_name),
                               text);
        else
            desc.add_options()(names.c_str(), po::value<std::string>()->value_name(spec.value_name),
                               text);
    }
    return desc;
}

// Where a value came from, to name it the way the user wrote it.
struct Origin {
    Source source = kCommandLine;
    std::string file;
    int line = 0;
};

struct Setting {
    std::string key;
    std::string value;
    Origin origin;
};

std::string where(const OptionSpec &spec, const Origin &origin)
{
    switch (origin.source) {
    case kCommandLine:
        return std::string("--") + spec.name;
    case kConfigFile:
        return fmt::format("{} in config file \"{}\" line {}", spec.name, origin.file, origin.line);
    case kEnvironment:
        return env_name(spec);
    }
    return spec.name;
}

// Our own reader instead of po::parse_config_file: Boost cuts every line at
// '#', which would truncate passwords in connection strings, and it cannot
// say on which line an error is.
std::vector<Setting> parse_config_text(const std::string &path, const std::string &text)
{
    std::vector<Setting> settings;
    std::istringstream in(text);
    std::string raw;
    std::string section;
    int line_no = 0;
    auto fail = [&](const std::string &option, const std::string &why) {
        return ConfigError(option,
                           fmt::format("config file \"{}\" line {}: {}", path, line_no, why));
    };
    while (std::getline(in, raw)) {
        ++line_no;
        const std::string line = trim(raw);
        if (line.empty() || line[0] == '#' || line[0] == ';')
            continue;
        if (line[0] == '[') {
            if (line.back() != ']' || trim(line.substr(1, line.size() - 2)).empty())
                throw fail("--config", "expected [section]");
            section = to_lower(trim(line.substr(1, line.size() - 2)));
            continue;
        }
        const auto eq = line.find('=');
        if (eq == std::string::npos)
            throw fail("--config", "expected `name = value`");
        std::string key = to_lower(trim(line.substr(0, eq)));
        std::replace(key.begin(), key.end(), '_', '-');
        std::string value = trim(line.substr(eq + 1));
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
            value = value.substr(1, value.size() - 2);
        if (key.empty())
            throw fail("--config", "expected `name = value`");
        if (!section.empty())
            key = section + "." + key;

        const OptionSpec *spec = find_spec(key);
        if (!spec || !(spec->sources & kConfigFile))
            throw fail(key, fmt::format("unknown option \"{}\" (see --help)", key));
        if (!spec->repeatable) {
            for (const auto &earlier : settings)
                if (earlier.key == key)
                    throw fail(std::string("--") + key, fmt::format("{} is already set on line {}",
                                                                    key, earlier.origin.line));
        }
        settings.push_back({key, value, {kConfigFile, path, line_no}});
    }
    return settings;
}

po::parsed_options to_parsed_options(const std::vector<Setting> &settings,
                                     const po::options_description &desc)
{
    po::parsed_options parsed(&desc);
    for (const auto &s : settings) {
        po::option opt(s.key, {s.value});
        opt.original_tokens = {s.key};
        parsed.options.push_back(std::move(opt));
    }
    return parsed;
}

bool has_option(const po::parsed_options &parsed, const std::string &key)
{
    return std::any_of(parsed.options.begin(), parsed.options.end(),
                       [&](const po::option &o) { return o.string_key == key; });
}

// previous: on reload, the alert options in force; kept_secrets then gets
// the secret files whose previous secret was kept.
ParsedCommand parse(const std::vector<std::string> &args, const Environment &env,
                    const FileReader &read_file, const alerts::AlertOptions *previous,
                    std::vector<alerts::SecretFileProblem> *kept_secrets)
{
    const po::options_description desc = make_description();

    // 1. Command line. No abbreviations: a new option must never change what
    //    an existing command line means.
    const int style =
        po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    po::parsed_options cmdline(&desc);
    try {
        cmdline = po::command_line_parser(args).options(desc).style(style).run();
    } catch (const po::error_with_option_name &e) {
        throw ConfigError(e.get_option_name(), std::string(e.what()) + " (see --help)");
    } catch (const po::error &e) {
        throw ConfigError("", std::string(e.what()) + " (see --help)");
    }
    std::vector<Setting> cmdline_settings;
    for (const auto &opt : cmdline.options) {
        if (opt.string_key.empty()) {
            const std::string &token = opt.original_tokens.empty() ? "" : opt.original_tokens[0];
            // A connection string given without --dsn may hold a password.
            if (token.find('=') != std::string::npos)
                throw ConfigError("", "unexpected argument (a connection string must be given "
                                      "with --dsn)");
            throw ConfigError("", fmt::format("unexpected argument \"{}\" (see --help)", token));
        }
        if (opt.value.empty()) // a switch
            cmdline_settings.push_back({opt.string_key, "true", {kCommandLine, {}, 0}});
        for (const auto &v : opt.value)
            cmdline_settings.push_back({opt.string_key, v, {kCommandLine, {}, 0}});
    }
    if (has_option(cmdline, "help"))
        return {Action::help, Config{}};
    if (has_option(cmdline, "version"))
        return {Action::version, Config{}};

    // 2. Environment: every SCHEMAHOSTD_* variable must be one of ours, so
    //    that a typo is reported instead of silently ignored.
    std::vector<Setting> env_settings;
    for (const auto &[var, value] : env) {
        if (var.rfind(kEnvPrefix, 0) != 0)
            continue;
        const OptionSpec *spec = find_spec_by_env(var);
        if (!spec || !(spec->sources & kEnvironment))
            throw ConfigError(var,
                              fmt::format("unknown environment variable {} (see --help)", var));
        env_settings.push_back({spec->name, value, {kEnvironment, {}, 0}});
    }

    // 3. Config file, named on the command line or in the environment.
    std::vector<Setting> file_settings;
    std::optional<std::string> config_path;
    std::string config_named_by;
    for (const auto *settings : {&cmdline_settings, &env_settings}) {
        for (const auto &s : *settings) {
            if (!config_path && s.key == "config") {
                config_path = s.value;
                config_named_by = settings == &cmdline_settings ? "--config" : "SCHEMAHOSTD_CONFIG";
            }
        }
    }
    if (config_path) {
        std::string text;
        try {
            text = read_file(*config_path);
        } catch (const std::exception &e) {
            throw ConfigError("--config", fmt::format("cannot read {} file \"{}\": {}",
                                                      config_named_by, *config_path, e.what()));
        }
        file_settings = parse_config_text(*config_path, text);
    }

    // 4. Merge: Boost keeps the first source stored for each option, so
    //    storing in precedence order gives command line > file > environment.
    po::variables_map vm;
    try {
        po::store(cmdline, vm);
        po::store(to_parsed_options(file_settings, desc), vm);
        po::store(to_parsed_options(env_settings, desc), vm);
        po::notify(vm);
    } catch (const po::error_with_option_name &e) {
        throw ConfigError(e.get_option_name(), e.what());
    } catch (const po::error &e) {
        throw ConfigError("", e.what());
    }

    // 5. Convert and validate, naming each bad value where the user wrote it
    //    (the i-th value of an option is the i-th setting of the source that won).
    ParsedCommand result;
    for (const auto &spec : option_specs()) {
        if (!spec.apply || !vm.count(spec.name))
            continue;
        const std::vector<std::string> values =
            spec.repeatable ? vm[spec.name].as<std::vector<std::string>>()
                            : std::vector<std::string>{vm[spec.name].as<std::string>()};
        std::vector<Origin> origins;
        for (const auto *source : {&cmdline_settings, &file_settings, &env_settings}) {
            for (const auto &s : *source)
                if (s.key == spec.name)
                    origins.push_back(s.origin);
            if (!origins.empty())
                break;
        }
        for (std::size_t i = 0; i < values.size(); ++i) {
            try {
                spec.apply(result.config, values[i]);
            } catch (const InvalidValue &bad) {
                const std::string name = where(spec, i < origins.size() ? origins[i] : Origin{});
                throw ConfigError(std::string("--") + spec.name,
                                  spec.secret ? fmt::format("invalid {}: {}", name, bad.reason)
                                              : fmt::format("invalid value \"{}\" for {}: {}",
                                                            values[i], name, bad.reason));
            }
        }
    }
    if (auto problem = alerts::check_alert_options(result.config.alerts))
        throw ConfigError(problem->first,
                          fmt::format("invalid {}: {}", problem->first, problem->second));
    for (auto &problem : alerts::load_alert_secrets(result.config.alerts, read_file, previous)) {
        if (!problem.kept_previous || !kept_secrets)
            throw ConfigError(problem.option,
                              fmt::format("invalid {}: {}", problem.option, problem.message()));
        kept_secrets->push_back(std::move(problem));
    }
    return result;
}

} // namespace

ParsedCommand parse_config(const std::vector<std::string> &args, const Environment &env,
                           const FileReader &read_file)
{
    return parse(args, env, read_file, nullptr, nullptr);
}

ReloadedConfig reload_config(const std::vector<std::string> &args, const Environment &env,
                             const FileReader &read_file, const Config &previous)
{
    ReloadedConfig out;
    out.config = parse(args, env, read_file, &previous.alerts, &out.kept_secrets).config;
    return out;
}

std::string help_text()
{
    std::ostringstream out;
    out << "Usage: schemahostd [OPTIONS]\n"
           "\n"
           "Companion daemon of the schemahost PostgreSQL extension: connects to each\n"
           "database given with --dsn and works through it every --interval.\n"
           "\n"
        << "Options:\n"
        << format_options_help()
        << "\n"
           "Sources: every option except --help, --version and --config can be set in the\n"
           "config file (`name = value` lines; repeat `dsn = ...` for several databases),\n"
           "and every option except --help and --version in the environment as\n"
           "SCHEMAHOSTD_<NAME> (upper case, dashes as underscores). Precedence: command\n"
           "line > config file > environment > default. libpq's own variables (PGHOST,\n"
           "PGPASSWORD, ...), ~/.pgpass and pg_service.conf apply to every connection\n"
           "exactly as for psql.\n"
           "\n"
           "Signals: SIGHUP reloads the configuration (an invalid one is ignored and the\n"
           "previous one kept), reads the secret files again (one that cannot be read\n"
           "keeps its previous secret) and reopens the log file; SIGTERM and SIGINT stop\n"
           "after the current step.\n"
           "\n"
           "Exit status: 0 ok, 1 runtime failure (cannot connect, extension missing or\n"
           "incompatible), 2 bad configuration.\n";
    return out.str();
}

std::string version_text()
{
    return std::string("schemahostd ") + SCHEMAHOSTD_VERSION;
}

std::string read_file_contents(const std::string &path)
{
    // POSIX rather than ifstream: we want errno's reason, and a directory to
    // fail with EISDIR instead of reading as empty.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw std::runtime_error(std::strerror(errno));
    std::string text;
    char buf[8192];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            const int saved = errno;
            ::close(fd);
            throw std::runtime_error(std::strerror(saved));
        }
        if (n == 0)
            break;
        text.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return text;
}

Environment environment_from(const char *const *envp)
{
    Environment env;
    for (; envp && *envp; ++envp) {
        const std::string entry = *envp;
        const auto eq = entry.find('=');
        if (eq != std::string::npos)
            env.emplace(entry.substr(0, eq), entry.substr(eq + 1));
    }
    return env;
}

std::string format_seconds(std::chrono::milliseconds d)
{
    if (d.count() % 1000 == 0)
        return std::to_string(d.count() / 1000);
    std::string s = fmt::format("{:.3f}", static_cast<double>(d.count()) / 1000.0);
    while (s.back() == '0')
        s.pop_back();
    return s;
}

const char *to_string(LogFormat f)
{
    return f == LogFormat::json ? "json" : "text";
}

const char *to_string(LogLevel l)
{
    switch (l) {
    case LogLevel::trace:
        return "trace";
    case LogLevel::debug:
        return "debug";
    case LogLevel::info:
        return "info";
    case LogLevel::warn:
        return "warn";
    case LogLevel::error:
        return "error";
    case LogLevel::critical:
        return "critical";
    case LogLevel::off:
        return "off";
    }
    return "info";
}

} // namespace schemahostd
