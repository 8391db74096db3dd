#include "alerts/alert_dispatcher.hpp"

#include "logging.hpp"
#include "pg_conn.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <tuple>

namespace schemahostd::alerts
{

namespace
{

std::string interval_text(std::chrono::milliseconds d)
{
    return fmt::format("{} milliseconds", d.count());
}

std::string text_array(const std::vector<std::string> &items)
{
    // Channel names are fixed words: no quoting needed, but keep it safe.
    std::string out = "{";
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i)
            out += ',';
        out += '"';
        for (char c : items[i]) {
            if (c == '"' || c == '\\')
                out += '\\';
            out += c;
        }
        out += '"';
    }
    return out + "}";
}

bool starts_with(const std::string &s, const char *prefix)
{
    return s.rfind(prefix, 0) == 0;
}

std::string lower(std::string s)
{
    for (auto &c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

LogFields delivery_fields(const Delivery &d)
{
    return {{"event_id", d.event_id}, {"kind", d.kind},       {"project", d.project},
            {"channel", d.channel},   {"attempt", d.attempt}, {"delivery", d.id}};
}

} // namespace

// ---------------------------------------------------------------------------
// PgDeliveryStore

PgDeliveryStore::PgDeliveryStore(PgConnection &conn, std::string api_schema) : conn_(conn)
{
    if (!api_schema.empty())
        prefix_ = conn_.escape_identifier(api_schema) + ".";
}

std::string PgDeliveryStore::fn(const char *name) const
{
    return prefix_ + name;
}

std::vector<Delivery> PgDeliveryStore::claim(int max_deliveries,
                                             const std::vector<std::string> &channels,
                                             int max_attempts,
                                             const std::vector<std::int64_t> &exclude)
{
    std::string excluded = "{";
    for (std::size_t i = 0; i < exclude.size(); ++i)
        excluded += (i ? "," : "") + std::to_string(exclude[i]);
    excluded += "}";
    const std::string sql =
        fmt::format("SELECT delivery, event_id::text, kind, project, payload::text, "
                    "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
                    "floor(extract(epoch FROM occurred_at))::bigint, channel, recipient, attempt, "
                    "quota_bytes, state "
                    "FROM {}($1::integer, $2::text[], $3::integer, $4::bigint[])",
                    fn("schemahost_claim_deliveries"));
    PgResultPtr res = conn_.exec(sql, {std::to_string(max_deliveries), text_array(channels),
                                       std::to_string(max_attempts), excluded});
    std::vector<Delivery> out;
    const int rows = PQntuples(res.get());
    out.reserve(static_cast<std::size_t>(rows));
    for (int r = 0; r < rows; ++r) {
        auto v = [&](int col) { return pg_value(res.get(), r, col).value_or(""); };
        Delivery d;
        d.id = std::stoll(v(0));
        d.event_id = v(1);
        d.kind = v(2);
        d.project = v(3);
        d.payload = nlohmann::json::parse(v(4), nullptr, false);
        if (d.payload.is_discarded())
            d.payload = nlohmann::json::object();
        d.occurred_at = v(5);
        d.occurred_epoch = std::stoll(v(6));
        d.channel = v(7);
        d.recipient = v(8);
        d.attempt = std::stoi(v(9));
        if (auto q = pg_value(res.get(), r, 10))
            d.project_quota_bytes = std::stoll(*q);
        d.project_state = v(11);
        out.push_back(std::move(d));
    }
    return out;
}

void PgDeliveryStore::done(std::int64_t delivery)
{
    conn_.exec(fmt::format("SELECT {}($1::bigint)", fn("schemahost_delivery_done")),
               {std::to_string(delivery)});
}

std::string PgDeliveryStore::failed(std::int64_t delivery, const std::string &error,
                                    int max_attempts, std::chrono::milliseconds retry_base,
                                    std::chrono::milliseconds retry_max)
{
    PgResultPtr res = conn_.exec(
        fmt::format("SELECT {}($1::bigint, $2::text, $3::integer, $4::interval, $5::interval)",
                    fn("schemahost_delivery_failed")),
        {std::to_string(delivery), error, std::to_string(max_attempts), interval_text(retry_base),
         interval_text(retry_max)});
    return pg_value(res.get(), 0, 0).value_or("unknown");
}

// ---------------------------------------------------------------------------
// Options and secrets

std::string read_secret_file(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw std::runtime_error(std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    std::string s = text.str();
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
        s.pop_back();
    if (s.empty())
        throw std::runtime_error("the file is empty");
    return s;
}

std::optional<std::pair<std::string, std::string>> check_alert_options(const AlertOptions &o)
{
    if (!o.smtp_url.empty()) {
        const std::string u = lower(o.smtp_url);
        if (!starts_with(u, "smtp://") && !starts_with(u, "smtps://"))
            return std::make_pair(std::string("--smtp-url"),
                                  std::string("must start with smtp:// or smtps://"));
        if (o.smtp_from.empty())
            return std::make_pair(std::string("--smtp-from"),
                                  std::string("is required with --smtp-url"));
    }
    if (!o.smtp_from.empty() && !is_plain_address(o.smtp_from))
        return std::make_pair(std::string("--smtp-from"),
                              std::string("must be a plain address like alerts@example.com"));
    if (!o.operator_email.empty() && !is_plain_address(o.operator_email))
        return std::make_pair(std::string("--operator-email"),
                              std::string("must be a plain address like ops@example.com"));
    if (!o.smtp_password_file.empty() && o.smtp_user.empty())
        return std::make_pair(std::string("--smtp-password-file"),
                              std::string("needs --smtp-user"));
    if (!o.webhook_url.empty()) {
        const std::string u = lower(o.webhook_url);
        if (!starts_with(u, "http://") && !starts_with(u, "https://"))
            return std::make_pair(std::string("--webhook-url"),
                                  std::string("must start with http:// or https://"));
    }
    if (o.max_attempts < 1)
        return std::make_pair(std::string("--max-attempts"), std::string("must be at least 1"));
    if (o.batch < 1)
        return std::make_pair(std::string("--alert-batch"), std::string("must be at least 1"));
    if (o.retry_max < o.retry_base)
        return std::make_pair(std::string("--alert-retry-max"),
                              std::string("must be at least --alert-retry-base"));
    return std::nullopt;
}

std::vector<SecretFileProblem> load_alert_secrets(AlertOptions &o, const SecretReader &read_file,
                                                  const AlertOptions *previous)
{
    std::vector<SecretFileProblem> problems;
    for (const auto &[option, path, secret, previous_secret] :
         {std::make_tuple("--smtp-password-file", &o.smtp_password_file, &o.smtp_password,
                          previous ? &previous->smtp_password : nullptr),
          std::make_tuple("--webhook-secret-file", &o.webhook_secret_file, &o.webhook_secret,
                          previous ? &previous->webhook_secret : nullptr)}) {
        secret->clear();
        if (path->empty())
            continue;
        std::string reason;
        try {
            std::string v = read_file ? read_file(*path) : read_secret_file(*path);
            while (!v.empty() && (v.back() == '\n' || v.back() == '\r'))
                v.pop_back();
            if (v.empty())
                reason = "the file is empty";
            else
                *secret = std::move(v);
        } catch (const std::exception &e) {
            // The reason only: an exception never carries the contents.
            reason = e.what();
        }
        if (reason.empty())
            continue;
        SecretFileProblem problem{option, *path, reason, false};
        if (previous_secret && !previous_secret->empty()) {
            *secret = *previous_secret;
            problem.kept_previous = true;
        }
        problems.push_back(std::move(problem));
    }
    return problems;
}

// ---------------------------------------------------------------------------
// AlertDispatcher

namespace
{

// A secret file without its secret would send unauthenticated or unsigned.
void require_secrets(const AlertOptions &o)
{
    if (!o.smtp_password_file.empty() && o.smtp_password.empty())
        throw std::invalid_argument(fmt::format(
            "--smtp-password-file: the password of \"{}\" is not loaded", o.smtp_password_file));
    if (!o.webhook_secret_file.empty() && o.webhook_secret.empty())
        throw std::invalid_argument(fmt::format(
            "--webhook-secret-file: the secret of \"{}\" is not loaded", o.webhook_secret_file));
}

} // namespace

namespace
{

// Sender threads of all dispatchers together: with --discover there is one
// dispatcher per database, each with up to --alert-batch requests in flight.
// Beyond this many, no more deliveries are claimed until some finish.
constexpr int kMaxSenderThreads = 200;
std::atomic<int> g_sender_threads{0};

} // namespace

// One request in flight. The thread writes `result` under the dispatcher's
// mutex and never touches anything else of the dispatcher.
struct AlertDispatcher::Job {
    Delivery delivery;
    Request request;
    std::optional<SendResult> result;
    std::thread thread;
};

AlertDispatcher::AlertDispatcher(AlertOptions options) : options_(std::move(options))
{
    // curl_global_init is not safe to race with the first curl_easy_init of
    // the sender threads: run it here, on the daemon's main thread.
    curl_global_setup();
    require_secrets(options_);
    transport_ = [this](const Request &r) { return perform_request(r, &stopping_); };
}

AlertDispatcher::~AlertDispatcher()
{
    stopping_ = true;
    for (auto &[id, job] : jobs_)
        if (job->thread.joinable())
            job->thread.join();
}

void AlertDispatcher::reconfigure(const AlertOptions &options)
{
    if (options == options_)
        return;
    require_secrets(options);
    options_ = options;
}

std::size_t AlertDispatcher::in_flight() const
{
    std::lock_guard<std::mutex> lock(mutex_);
    return jobs_.size();
}

std::vector<std::string> AlertDispatcher::channels() const
{
    std::vector<std::string> out;
    if (options_.email_enabled())
        out.emplace_back("email");
    if (options_.webhook_enabled())
        out.emplace_back("webhook");
    return out;
}

Request AlertDispatcher::build_request(const Delivery &d, std::int64_t now) const
{
    Request req;
    req.connect_timeout = options_.connect_timeout;
    if (d.channel == "email") {
        const Email email = format_email(d, {options_.smtp_from, options_.operator_email});
        req.kind = Request::Kind::mail;
        req.timeout = options_.smtp_timeout;
        req.mail.url = options_.smtp_url;
        req.mail.user = options_.smtp_user;
        req.mail.password = options_.smtp_password;
        req.mail.mail_from = options_.smtp_from;
        req.mail.recipients.push_back(d.recipient);
        if (!options_.operator_email.empty() && options_.operator_email != d.recipient)
            req.mail.recipients.push_back(options_.operator_email); // Bcc: not in the headers
        req.mail.message = email.text;
    } else if (d.channel == "webhook") {
        req.kind = Request::Kind::http;
        req.timeout = options_.webhook_timeout;
        req.http.url = options_.webhook_url;
        req.http.body = webhook_body(d);
        req.http.headers = {
            "Content-Type: application/json",
            fmt::format("User-Agent: schemahostd/{}", SCHEMAHOSTD_VERSION),
            fmt::format("X-Schemahost-Event-Id: {}", d.event_id),
            fmt::format("X-Schemahost-Event-Type: {}", d.kind),
        };
        if (!options_.webhook_secret.empty())
            req.http.headers.push_back(
                fmt::format("X-Schemahost-Signature: {}",
                            webhook_signature(options_.webhook_secret, now, req.http.body)));
        for (auto &h : req.http.headers)
            for (auto &c : h)
                if (static_cast<unsigned char>(c) < 0x20)
                    c = ' ';
    } else {
        throw std::invalid_argument(fmt::format("unknown channel \"{}\"", d.channel));
    }
    return req;
}

PassStats AlertDispatcher::run_once(PgConnection &conn, const std::string &api_schema, bool wait)
{
    PgDeliveryStore store(conn, api_schema);
    return run_once(store, wait);
}

void AlertDispatcher::record_failure(DeliveryStore &store, const Delivery &d,
                                     const std::string &error, int max_attempts, PassStats &stats)
{
    const std::string status =
        store.failed(d.id, error, max_attempts, options_.retry_base, options_.retry_max);
    LogFields fields = delivery_fields(d);
    fields["error"] = error;
    fields["status"] = status;
    if (status == "failed") {
        ++stats.failed;
        log_error("alert delivery failed for good", fields);
    } else {
        ++stats.retrying;
        log_warn("alert delivery failed, will retry", fields);
    }
}

void AlertDispatcher::harvest(DeliveryStore &store, PassStats &stats, bool wait)
{
    for (;;) {
        std::vector<std::unique_ptr<Job>> done;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            auto any_finished = [&] {
                for (const auto &[id, job] : jobs_)
                    if (job->result)
                        return true;
                return false;
            };
            if (wait && !jobs_.empty())
                finished_.wait(lock, any_finished);
            for (auto it = jobs_.begin(); it != jobs_.end();) {
                if (it->second->result) {
                    done.push_back(std::move(it->second));
                    it = jobs_.erase(it);
                } else {
                    ++it;
                }
            }
        }
        if (done.empty())
            return;
        // A job leaves jobs_ only once recorded or here: if recording throws
        // (connection lost), the remaining ones are sent again later.
        for (auto &job : done)
            if (job->thread.joinable())
                job->thread.join(); // finished: returns at once
        for (auto &job : done) {
            const Delivery &d = job->delivery;
            if (job->result->ok) {
                store.done(d.id);
                ++stats.delivered;
                log_info("alert delivered", delivery_fields(d));
            } else {
                record_failure(store, d, job->result->error, options_.max_attempts, stats);
            }
        }
        if (!wait)
            return;
    }
}

PassStats AlertDispatcher::run_once(DeliveryStore &store, bool wait)
{
    PassStats stats;
    // First what finished since the last pass, then new work.
    harvest(store, stats, false);

    const std::vector<std::string> chans = channels();
    std::vector<std::int64_t> busy;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        for (const auto &[id, job] : jobs_)
            busy.push_back(id);
    }
    const int room = std::min(options_.batch - static_cast<int>(busy.size()),
                              kMaxSenderThreads - g_sender_threads.load());
    if (!chans.empty() && room > 0) {
        const auto now = static_cast<std::int64_t>(std::time(nullptr));
        for (Delivery &d : store.claim(room, chans, options_.max_attempts, busy)) {
            ++stats.claimed;
            auto job = std::make_unique<Job>();
            try {
                job->request = build_request(d, now);
            } catch (const std::invalid_argument &e) {
                // Sending again would not help: give up at once.
                record_failure(store, d, e.what(), d.attempt, stats);
                continue;
            }
            job->delivery = std::move(d);
            Job *raw = job.get();
            std::lock_guard<std::mutex> lock(mutex_);
            auto &slot = jobs_[raw->delivery.id];
            slot = std::move(job);
            // The thread touches only its own Job (request: read-only; result:
            // under mutex_) and transport_, which is set before any thread starts.
            ++g_sender_threads;
            try {
                raw->thread = std::thread([this, raw] {
                    SendResult r = transport_(raw->request);
                    std::lock_guard<std::mutex> guard(mutex_);
                    raw->result = std::move(r);
                    --g_sender_threads;
                    finished_.notify_all();
                });
            } catch (const std::system_error &e) {
                --g_sender_threads;
                raw->result =
                    SendResult{false, fmt::format("cannot start a sender thread: {}", e.what())};
            }
        }
    }

    harvest(store, stats, wait);
    stats.in_flight = static_cast<int>(in_flight());
    return stats;
}

namespace
{

// One dispatcher per database (host, port, name) for the life of the
// process, so that requests can outlast a pass. Only the daemon's main thread
// uses it; the mutex is for safety.
struct Registry {
    std::mutex mutex;
    std::map<std::string, std::unique_ptr<AlertDispatcher>> dispatchers;
};

Registry &registry()
{
    static Registry r;
    return r;
}

} // namespace

PassStats deliver_alerts(PgConnection &conn, const AlertOptions &options,
                         const std::string &api_schema, bool wait)
{
    const char *host = PQhost(conn.get());
    const char *port = PQport(conn.get());
    const char *db = PQdb(conn.get());
    const std::string key =
        fmt::format("{}:{}/{}", host ? host : "", port ? port : "", db ? db : "");

    Registry &reg = registry();
    std::lock_guard<std::mutex> lock(reg.mutex);
    auto it = reg.dispatchers.find(key);
    if (!options.enabled() && it == reg.dispatchers.end())
        return {};
    try {
        if (it == reg.dispatchers.end())
            it = reg.dispatchers.emplace(key, std::make_unique<AlertDispatcher>(options)).first;
        else
            it->second->reconfigure(options);
        return it->second->run_once(conn, api_schema, wait);
    } catch (const PgError &) {
        throw;
    } catch (const std::exception &e) {
        log_error("alert delivery failed", {{"error", e.what()}});
        return {};
    }
}

std::size_t shutdown_alerts()
{
    Registry &reg = registry();
    std::lock_guard<std::mutex> lock(reg.mutex);
    std::size_t aborted = 0;
    for (const auto &[key, dispatcher] : reg.dispatchers)
        aborted += dispatcher->in_flight();
    reg.dispatchers.clear(); // each destructor aborts its requests and joins their threads
    return aborted;
}

} // namespace schemahostd::alerts
