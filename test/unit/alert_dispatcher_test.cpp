// The dispatcher's decisions (what is claimed, sent, marked done or failed)
// with a fake store and a fake sender, and libcurl's timeouts against
// loopback sockets that refuse or never answer.
#include "alerts/alert_dispatcher.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <cstdio>
#include <fstream>
#include <map>
#include <stdexcept>

namespace schemahostd::alerts
{
namespace
{

class FakeStore : public DeliveryStore
{
  public:
    std::vector<Delivery> to_claim;
    int claimed_max = 0;
    int claimed_max_attempts = 0;
    std::vector<std::string> claimed_channels;
    std::vector<std::int64_t> done_ids;
    struct Failure {
        std::string error;
        int max_attempts;
        std::chrono::milliseconds base, cap;
    };
    std::map<std::int64_t, Failure> failures;

    std::vector<std::int64_t> claimed_exclude;
    int claims = 0;

    std::vector<Delivery> claim(int max_deliveries, const std::vector<std::string> &channels,
                                int max_attempts, const std::vector<std::int64_t> &exclude) override
    {
        ++claims;
        claimed_max = max_deliveries;
        claimed_channels = channels;
        claimed_max_attempts = max_attempts;
        claimed_exclude = exclude;
        // Like the database: what was handed out is not handed out again.
        std::vector<Delivery> out;
        out.swap(to_claim);
        return out;
    }
    void done(std::int64_t delivery) override { done_ids.push_back(delivery); }
    std::string failed(std::int64_t delivery, const std::string &error, int max_attempts,
                       std::chrono::milliseconds base, std::chrono::milliseconds cap) override
    {
        failures[delivery] = {error, max_attempts, base, cap};
        return max_attempts <= 1 ? "failed" : "pending";
    }
};

Delivery make(std::int64_t id, const std::string &channel, const std::string &project)
{
    Delivery d;
    d.id = id;
    d.event_id = "00000000-0000-0000-0000-00000000000" + std::to_string(id % 10);
    d.kind = "quota_over";
    d.project = project;
    d.payload = {{"used_bytes", 2000}, {"quota_bytes", 1000}, {"percent", 200}};
    d.occurred_at = "2026-01-01T00:00:00.000000Z";
    d.channel = channel;
    if (channel == "email")
        d.recipient = project + "@example.com";
    d.attempt = 1;
    return d;
}

AlertOptions both_channels()
{
    AlertOptions o;
    o.smtp_url = "smtp://127.0.0.1:25";
    o.smtp_from = "alerts@host.example";
    o.operator_email = "ops@host.example";
    o.webhook_url = "http://127.0.0.1:9/hook";
    o.max_attempts = 4;
    o.retry_base = std::chrono::milliseconds(1500);
    o.retry_max = std::chrono::milliseconds(60000);
    o.batch = 7;
    return o;
}

std::string temp_file(const std::string &contents)
{
    char path[] = "/tmp/alert-test-XXXXXX";
    const int fd = mkstemp(path);
    EXPECT_GE(fd, 0);
    close(fd);
    std::ofstream(path) << contents;
    return path;
}

TEST(AlertDispatcher, NothingConfiguredClaimsNothing)
{
    AlertDispatcher dispatcher{AlertOptions{}};
    FakeStore store;
    store.to_claim = {make(1, "email", "a")};
    const PassStats s = dispatcher.run_once(store);
    EXPECT_EQ(s.claimed, 0);
    EXPECT_TRUE(store.claimed_channels.empty()) << "claim must not even be called";
}

TEST(AlertDispatcher, ClaimsOnlyConfiguredChannelsWithBatchAndMaxAttempts)
{
    AlertOptions o = both_channels();
    o.smtp_url.clear();
    AlertDispatcher dispatcher{o};
    dispatcher.set_transport([](const Request &) { return SendResult{true, {}}; });
    FakeStore store;
    dispatcher.run_once(store);
    EXPECT_EQ(store.claimed_channels, std::vector<std::string>{"webhook"});
    EXPECT_EQ(store.claimed_max, 7);
    EXPECT_EQ(store.claimed_max_attempts, 4);
}

TEST(AlertDispatcher, MarksEachOutcomeIndependently)
{
    AlertDispatcher dispatcher{both_channels()};
    dispatcher.set_transport([](const Request &r) {
        const bool fail = r.kind == Request::Kind::http &&
                          r.http.body.find("\"project\":\"bad\"") != std::string::npos;
        return fail ? SendResult{false, "HTTP status 500"} : SendResult{true, {}};
    });
    FakeStore store;
    store.to_claim = {make(1, "email", "good"), make(2, "webhook", "good"),
                      make(3, "webhook", "bad"), make(4, "email", "other")};
    const PassStats s = dispatcher.run_once(store);
    EXPECT_EQ(s.claimed, 4);
    EXPECT_EQ(s.delivered, 3);
    EXPECT_EQ(s.retrying, 1);
    EXPECT_EQ(s.in_flight, 0) << "run_once waits by default";
    std::sort(store.done_ids.begin(), store.done_ids.end());
    EXPECT_EQ(store.done_ids, (std::vector<std::int64_t>{1, 2, 4}));
    ASSERT_EQ(store.failures.count(3), 1U);
    EXPECT_EQ(store.failures[3].error, "HTTP status 500");
    EXPECT_EQ(store.failures[3].max_attempts, 4);
    EXPECT_EQ(store.failures[3].base, std::chrono::milliseconds(1500));
    EXPECT_EQ(store.failures[3].cap, std::chrono::milliseconds(60000));
}

TEST(AlertDispatcher, BadRecipientFailsAtOnceWithoutSending)
{
    AlertDispatcher dispatcher{both_channels()};
    std::atomic<int> sent{0};
    dispatcher.set_transport([&](const Request &) {
        ++sent;
        return SendResult{true, {}};
    });
    FakeStore store;
    Delivery bad = make(5, "email", "p");
    bad.recipient = "x@y.z\r\nBcc: evil@example.com";
    bad.attempt = 2;
    store.to_claim = {bad, make(6, "email", "q")};
    const PassStats s = dispatcher.run_once(store);
    EXPECT_EQ(sent.load(), 1);
    EXPECT_EQ(s.failed, 0) << "the fake store says pending for max_attempts > 1";
    ASSERT_EQ(store.failures.count(5), 1U);
    EXPECT_EQ(store.failures[5].max_attempts, 2) << "max_attempts = this attempt: failed now";
    EXPECT_EQ(store.done_ids, std::vector<std::int64_t>{6});
}

TEST(AlertDispatcher, EmailRequestBccsTheOperatorAndCarriesNoSecret)
{
    AlertOptions o = both_channels();
    o.smtp_user = "mailer";
    const std::string pw_file = temp_file("hunter2-password\n");
    o.smtp_password_file = pw_file;
    ASSERT_TRUE(load_alert_secrets(o, nullptr).empty());
    AlertDispatcher dispatcher{o};
    const Request r = dispatcher.build_request(make(1, "email", "blog"), 1700000000);
    ASSERT_EQ(r.kind, Request::Kind::mail);
    EXPECT_EQ(r.mail.recipients,
              (std::vector<std::string>{"blog@example.com", "ops@host.example"}));
    EXPECT_EQ(r.mail.password, "hunter2-password") << "trailing newline stripped";
    EXPECT_EQ(r.mail.user, "mailer");
    EXPECT_EQ(r.mail.mail_from, "alerts@host.example");
    EXPECT_EQ(r.mail.message.find("hunter2"), std::string::npos);
    EXPECT_EQ(r.timeout, o.smtp_timeout);
    std::remove(pw_file.c_str());
}

TEST(AlertDispatcher, WebhookRequestIsSignedWhenASecretIsSet)
{
    AlertOptions o = both_channels();
    const std::string secret_file = temp_file("whsec-123\n");
    o.webhook_secret_file = secret_file;
    ASSERT_TRUE(load_alert_secrets(o, nullptr).empty());
    AlertDispatcher dispatcher{o};
    const Request r = dispatcher.build_request(make(2, "webhook", "blog"), 1700000000);
    ASSERT_EQ(r.kind, Request::Kind::http);
    EXPECT_EQ(r.http.url, "http://127.0.0.1:9/hook");
    const std::string expected_sig =
        "X-Schemahost-Signature: " + webhook_signature("whsec-123", 1700000000, r.http.body);
    EXPECT_NE(std::find(r.http.headers.begin(), r.http.headers.end(), expected_sig),
              r.http.headers.end());
    EXPECT_NE(std::find(r.http.headers.begin(), r.http.headers.end(),
                        "X-Schemahost-Event-Id: 00000000-0000-0000-0000-000000000002"),
              r.http.headers.end());
    EXPECT_EQ(r.http.body.find("whsec"), std::string::npos);
    EXPECT_EQ(r.timeout, o.webhook_timeout);

    AlertDispatcher unsigned_dispatcher{both_channels()};
    const Request u = unsigned_dispatcher.build_request(make(2, "webhook", "blog"), 1700000000);
    for (const auto &h : u.http.headers)
        EXPECT_EQ(h.find("X-Schemahost-Signature"), std::string::npos);
    std::remove(secret_file.c_str());
}

TEST(AlertDispatcher, UnreadableSecretFileNamesTheOption)
{
    AlertOptions o = both_channels();
    o.webhook_secret_file = "/nonexistent/secret";
    const auto problems = load_alert_secrets(o, nullptr);
    ASSERT_EQ(problems.size(), 1U);
    EXPECT_EQ(problems[0].option, "--webhook-secret-file");
    EXPECT_EQ(problems[0].path, "/nonexistent/secret");
    EXPECT_FALSE(problems[0].kept_previous);
    EXPECT_NE(problems[0].message().find("No such file"), std::string::npos)
        << problems[0].message();
    EXPECT_TRUE(o.webhook_secret.empty());
    // A dispatcher never sends unsigned when a secret file is set.
    try {
        AlertDispatcher d{o};
        FAIL() << "expected an error";
    } catch (const std::invalid_argument &e) {
        EXPECT_NE(std::string(e.what()).find("--webhook-secret-file"), std::string::npos)
            << e.what();
    }
    AlertDispatcher d{both_channels()};
    EXPECT_THROW(d.reconfigure(o), std::invalid_argument);
    const Request r = d.build_request(make(2, "webhook", "blog"), 1700000000);
    EXPECT_EQ(r.http.url, "http://127.0.0.1:9/hook") << "the old options stay in force";
}

// path -> contents, changed by the test between calls; other paths fail.
struct FakeSecretFiles {
    std::map<std::string, std::string> files;
    int reads = 0;
    SecretReader reader()
    {
        return [this](const std::string &path) -> std::string {
            ++reads;
            auto it = files.find(path);
            if (it == files.end())
                throw std::runtime_error("No such file or directory");
            if (it->second == "<denied>")
                throw std::runtime_error("Permission denied");
            return it->second;
        };
    }
};

AlertOptions with_secret_files()
{
    AlertOptions o = both_channels();
    o.smtp_user = "mailer";
    o.smtp_password_file = "/run/pw";
    o.webhook_secret_file = "/run/whsec";
    return o;
}

TEST(AlertSecrets, EveryCallReadsTheFilesAgainEvenAtTheSamePaths)
{
    FakeSecretFiles fs;
    fs.files = {{"/run/pw", "password-A\n"}, {"/run/whsec", "secret-A\r\n"}};
    AlertOptions first = with_secret_files();
    EXPECT_TRUE(load_alert_secrets(first, fs.reader()).empty());
    EXPECT_EQ(first.smtp_password, "password-A");
    EXPECT_EQ(first.webhook_secret, "secret-A");
    EXPECT_EQ(fs.reads, 2);

    fs.files = {{"/run/pw", "password-B\n"}, {"/run/whsec", "secret-B\n"}};
    AlertOptions second = with_secret_files();
    EXPECT_TRUE(load_alert_secrets(second, fs.reader(), &first).empty());
    EXPECT_EQ(fs.reads, 4);
    EXPECT_EQ(second.smtp_password, "password-B");
    EXPECT_EQ(second.webhook_secret, "secret-B");
    EXPECT_TRUE(first != second) << "a dispatcher's reconfigure() must see the change";
}

TEST(AlertSecrets, AnUnreadableFileKeepsThePreviousSecret)
{
    FakeSecretFiles fs;
    fs.files = {{"/run/pw", "password-A\n"}, {"/run/whsec", "secret-A\n"}};
    AlertOptions previous = with_secret_files();
    ASSERT_TRUE(load_alert_secrets(previous, fs.reader()).empty());

    for (const auto &[contents, reason] :
         {std::make_pair(std::string("<missing>"), std::string("No such file or directory")),
          std::make_pair(std::string("<denied>"), std::string("Permission denied")),
          std::make_pair(std::string("\n"), std::string("the file is empty")),
          std::make_pair(std::string(""), std::string("the file is empty"))}) {
        fs.files = {{"/run/pw", "password-B\n"}};
        if (contents != "<missing>")
            fs.files["/run/whsec"] = contents;
        AlertOptions o = with_secret_files();
        const auto problems = load_alert_secrets(o, fs.reader(), &previous);
        ASSERT_EQ(problems.size(), 1U) << reason;
        EXPECT_EQ(problems[0].option, "--webhook-secret-file");
        EXPECT_EQ(problems[0].path, "/run/whsec");
        EXPECT_EQ(problems[0].reason, reason);
        EXPECT_TRUE(problems[0].kept_previous);
        EXPECT_EQ(problems[0].message(), "cannot read \"/run/whsec\": " + reason);
        EXPECT_EQ(o.webhook_secret, "secret-A") << "never unsigned: the old secret stays";
        EXPECT_EQ(o.smtp_password, "password-B") << "the readable file is still read again";
    }

    // Both at once, the SMTP password too.
    fs.files.clear();
    AlertOptions o = with_secret_files();
    const auto problems = load_alert_secrets(o, fs.reader(), &previous);
    ASSERT_EQ(problems.size(), 2U);
    EXPECT_EQ(problems[0].option, "--smtp-password-file");
    EXPECT_TRUE(problems[0].kept_previous);
    EXPECT_EQ(o.smtp_password, "password-A");
    EXPECT_EQ(o.webhook_secret, "secret-A");
    for (const auto &p : problems)
        for (const char *secret : {"password-A", "secret-A"})
            EXPECT_EQ(p.message().find(secret), std::string::npos) << p.message();
}

TEST(AlertSecrets, WithoutAPreviousSecretAnUnreadableFileIsNotKept)
{
    FakeSecretFiles fs;
    fs.files = {{"/run/pw", "password-A\n"}};
    AlertOptions previous = both_channels(); // no secret files: unsigned, no AUTH
    AlertOptions o = with_secret_files();
    const auto problems = load_alert_secrets(o, fs.reader(), &previous);
    ASSERT_EQ(problems.size(), 1U);
    EXPECT_EQ(problems[0].option, "--webhook-secret-file");
    EXPECT_FALSE(problems[0].kept_previous) << "the caller must reject the configuration";
    EXPECT_TRUE(o.webhook_secret.empty());
    EXPECT_EQ(o.smtp_password, "password-A");
}

TEST(AlertSecrets, AnOptionRemovedOnReloadDropsItsSecret)
{
    FakeSecretFiles fs;
    fs.files = {{"/run/pw", "password-A\n"}, {"/run/whsec", "secret-A\n"}};
    AlertOptions previous = with_secret_files();
    ASSERT_TRUE(load_alert_secrets(previous, fs.reader()).empty());
    AlertOptions o = with_secret_files();
    o.webhook_secret_file.clear();
    o.webhook_secret = "stale";
    EXPECT_TRUE(load_alert_secrets(o, fs.reader(), &previous).empty());
    EXPECT_TRUE(o.webhook_secret.empty()) << "the operator asked for unsigned requests";
}

TEST(AlertSecrets, RealFilesAreReadAgainAfterARewrite)
{
    AlertOptions o = both_channels();
    const std::string path = temp_file("secret-A\n");
    o.webhook_secret_file = path;
    ASSERT_TRUE(load_alert_secrets(o, nullptr).empty());
    EXPECT_EQ(o.webhook_secret, "secret-A");
    std::ofstream(path, std::ios::trunc) << "secret-B\n";
    AlertOptions next = o;
    ASSERT_TRUE(load_alert_secrets(next, nullptr, &o).empty());
    EXPECT_EQ(next.webhook_secret, "secret-B");
    std::remove(path.c_str());
    AlertOptions gone = o;
    const auto problems = load_alert_secrets(gone, nullptr, &next);
    ASSERT_EQ(problems.size(), 1U);
    EXPECT_TRUE(problems[0].kept_previous);
    EXPECT_EQ(gone.webhook_secret, "secret-B");
}

TEST(AlertDispatcher, ReconfigureWithARotatedSecretSignsWithTheNewOne)
{
    FakeSecretFiles fs;
    fs.files = {{"/run/pw", "password-A\n"}, {"/run/whsec", "secret-A\n"}};
    AlertOptions a = with_secret_files();
    ASSERT_TRUE(load_alert_secrets(a, fs.reader()).empty());
    AlertDispatcher dispatcher{a};
    const Request ra = dispatcher.build_request(make(2, "webhook", "blog"), 1700000000);
    const std::string sig_a =
        "X-Schemahost-Signature: " + webhook_signature("secret-A", 1700000000, ra.http.body);
    EXPECT_NE(std::find(ra.http.headers.begin(), ra.http.headers.end(), sig_a),
              ra.http.headers.end());

    fs.files = {{"/run/pw", "password-B\n"}, {"/run/whsec", "secret-B\n"}};
    AlertOptions b = with_secret_files(); // the same paths
    ASSERT_TRUE(load_alert_secrets(b, fs.reader(), &a).empty());
    dispatcher.reconfigure(b);
    const Request rb = dispatcher.build_request(make(2, "webhook", "blog"), 1700000000);
    const std::string sig_b =
        "X-Schemahost-Signature: " + webhook_signature("secret-B", 1700000000, rb.http.body);
    EXPECT_NE(std::find(rb.http.headers.begin(), rb.http.headers.end(), sig_b),
              rb.http.headers.end());
    EXPECT_EQ(std::find(rb.http.headers.begin(), rb.http.headers.end(), sig_a),
              rb.http.headers.end());
    EXPECT_EQ(dispatcher.build_request(make(1, "email", "blog"), 1700000000).mail.password,
              "password-B");
}

TEST(AlertOptionsCheck, FindsEachProblem)
{
    EXPECT_FALSE(check_alert_options(AlertOptions{}));
    EXPECT_FALSE(check_alert_options(both_channels()));
    auto problem_of = [](auto mutate) {
        AlertOptions o = both_channels();
        mutate(o);
        auto p = check_alert_options(o);
        return p ? p->first : std::string("none");
    };
    EXPECT_EQ(problem_of([](AlertOptions &o) { o.smtp_url = "http://x"; }), "--smtp-url");
    EXPECT_EQ(problem_of([](AlertOptions &o) { o.smtp_url = "SMTPS://x"; }), "none");
    EXPECT_EQ(problem_of([](AlertOptions &o) { o.smtp_from.clear(); }), "--smtp-from");
    EXPECT_EQ(problem_of([](AlertOptions &o) { o.smtp_from = "A <a@b.c>"; }), "--smtp-from");
    EXPECT_EQ(problem_of([](AlertOptions &o) { o.operator_email = "ops"; }), "--operator-email");
    EXPECT_EQ(problem_of([](AlertOptions &o) { o.webhook_url = "ftp://x"; }), "--webhook-url");
    EXPECT_EQ(problem_of([](AlertOptions &o) { o.max_attempts = 0; }), "--max-attempts");
    EXPECT_EQ(problem_of([](AlertOptions &o) { o.retry_max = std::chrono::milliseconds(1); }),
              "--alert-retry-max");
    EXPECT_EQ(problem_of([](AlertOptions &o) { o.smtp_password_file = "/etc/hostname"; }),
              "--smtp-password-file");
}

TEST(AlertDispatcher, WithoutWaitingAHangingPeerOutlastsThePassAndIsNotClaimedTwice)
{
    AlertDispatcher dispatcher{both_channels()};
    std::mutex m;
    std::condition_variable cv;
    bool release = false;
    dispatcher.set_transport([&](const Request &r) {
        if (r.kind == Request::Kind::http &&
            r.http.body.find("\"project\":\"slow\"") != std::string::npos) {
            std::unique_lock<std::mutex> lock(m);
            cv.wait(lock, [&] { return release; });
        }
        return SendResult{true, {}};
    });
    FakeStore store;
    store.to_claim = {make(1, "webhook", "slow"), make(2, "webhook", "fast")};

    const PassStats first = dispatcher.run_once(store, false);
    EXPECT_EQ(first.claimed, 2);
    // The pass returned although "slow" hangs; "fast" finishes on its own.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    PassStats later;
    while (store.done_ids.empty() && std::chrono::steady_clock::now() < deadline) {
        later = dispatcher.run_once(store, false);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_EQ(store.done_ids, std::vector<std::int64_t>{2});
    EXPECT_EQ(dispatcher.in_flight(), 1U);
    EXPECT_EQ(later.in_flight, 1);
    EXPECT_EQ(store.claimed_exclude, std::vector<std::int64_t>{1})
        << "a delivery still being sent is not claimed again";
    EXPECT_EQ(store.claimed_max, 6) << "batch 7 minus the one in flight";

    {
        std::lock_guard<std::mutex> lock(m);
        release = true;
    }
    cv.notify_all();
    const PassStats last = dispatcher.run_once(store, true);
    EXPECT_EQ(last.delivered, 1);
    EXPECT_EQ(last.in_flight, 0);
    EXPECT_EQ(store.done_ids, (std::vector<std::int64_t>{2, 1}));
}

// A loopback socket that accepts TCP connections (through the backlog) but
// never says anything: a hanging peer.
class SilentListener
{
  public:
    SilentListener()
    {
        fd_ = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = 0;
        EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr *>(&addr), sizeof addr), 0);
        EXPECT_EQ(listen(fd_, 16), 0);
        socklen_t len = sizeof addr;
        getsockname(fd_, reinterpret_cast<sockaddr *>(&addr), &len);
        port_ = ntohs(addr.sin_port);
    }
    ~SilentListener() { close(fd_); }
    int port() const { return port_; }

  private:
    int fd_ = -1;
    int port_ = 0;
};

int closed_port()
{
    // Bind, read the port, close: nothing listens there afterwards.
    SilentListener l;
    return l.port();
}

TEST(AlertSender, HangingPeersTimeOutAndRefusingPeersFailAtOnce)
{
    SilentListener hanging;
    const int refused = closed_port();
    std::vector<Request> reqs(3);
    reqs[0].kind = Request::Kind::http;
    reqs[0].http.url = "http://127.0.0.1:" + std::to_string(hanging.port()) + "/hook";
    reqs[0].http.body = "{}";
    reqs[0].timeout = std::chrono::milliseconds(1500);
    reqs[1].kind = Request::Kind::mail;
    reqs[1].mail.url = "smtp://127.0.0.1:" + std::to_string(hanging.port());
    reqs[1].mail.mail_from = "a@b.c";
    reqs[1].mail.recipients = {"d@e.f"};
    reqs[1].mail.message = "Subject: x\r\n\r\nbody\r\n";
    reqs[1].timeout = std::chrono::milliseconds(1500);
    reqs[2].kind = Request::Kind::http;
    reqs[2].http.url = "http://127.0.0.1:" + std::to_string(refused) + "/hook";
    reqs[2].http.body = "{}";
    reqs[2].timeout = std::chrono::milliseconds(60000);

    std::vector<std::size_t> order;
    std::map<std::size_t, SendResult> results;
    const auto start = std::chrono::steady_clock::now();
    send_all(reqs, reqs.size(), [&](std::size_t i, const SendResult &r) {
        order.push_back(i);
        results[i] = r;
    });
    const auto elapsed = std::chrono::steady_clock::now() - start;
    ASSERT_EQ(results.size(), 3U);
    for (const auto &[i, r] : results)
        EXPECT_FALSE(r.ok) << i;
    EXPECT_NE(results[0].error.find("Timeout"), std::string::npos) << results[0].error;
    EXPECT_NE(results[1].error.find("Timeout"), std::string::npos) << results[1].error;
    EXPECT_NE(results[2].error.find("onnect"), std::string::npos) << results[2].error;
    EXPECT_EQ(order.front(), 2U) << "the refused request does not wait for the hanging ones";
    EXPECT_LT(elapsed, std::chrono::seconds(30)) << "timeouts bound the pass";
}

TEST(AlertSender, ParallelLimitStillSendsEverything)
{
    const int refused = closed_port();
    std::vector<Request> reqs(5);
    for (auto &r : reqs) {
        r.http.url = "http://127.0.0.1:" + std::to_string(refused) + "/";
        r.timeout = std::chrono::milliseconds(5000);
    }
    std::vector<std::size_t> seen;
    send_all(reqs, 2, [&](std::size_t i, const SendResult &r) {
        EXPECT_FALSE(r.ok);
        seen.push_back(i);
    });
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(seen, (std::vector<std::size_t>{0, 1, 2, 3, 4}));
}

} // namespace
} // namespace schemahostd::alerts
