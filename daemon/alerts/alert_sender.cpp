#include "alerts/alert_sender.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace schemahostd::alerts
{

namespace
{

struct EasyDeleter {
    void operator()(CURL *h) const noexcept { curl_easy_cleanup(h); }
};
struct SlistDeleter {
    void operator()(curl_slist *l) const noexcept { curl_slist_free_all(l); }
};
using EasyPtr = std::unique_ptr<CURL, EasyDeleter>;
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

std::string one_line(std::string_view s)
{
    std::string out;
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
            if (!out.empty() && out.back() != ' ')
                out += ' ';
        } else {
            out += c;
        }
    }
    while (!out.empty() && out.back() == ' ')
        out.pop_back();
    return out;
}

SlistPtr make_list(const std::vector<std::string> &items)
{
    SlistPtr list;
    for (const auto &item : items) {
        curl_slist *appended = curl_slist_append(list.get(), item.c_str());
        if (!appended)
            throw std::bad_alloc();
        (void)list.release();
        list.reset(appended);
    }
    return list;
}

void check(CURLcode rc, const char *what)
{
    if (rc != CURLE_OK)
        throw std::runtime_error(
            fmt::format("curl: cannot set {}: {}", what, curl_easy_strerror(rc)));
}

// One request in flight. Owns everything curl points into.
class Transfer
{
  public:
    Transfer(const Request &request, std::size_t index, const std::atomic<bool> *abort = nullptr)
        : request_(request), index_(index), abort_(abort)
    {
        easy_.reset(curl_easy_init());
        if (!easy_)
            throw std::runtime_error("curl_easy_init failed");
        errbuf_[0] = '\0';
        CURL *h = easy_.get();
        check(curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf_), "ERRORBUFFER");
        check(curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L), "NOSIGNAL");
        check(curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count())),
              "TIMEOUT_MS");
        check(curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                               static_cast<long>(request.connect_timeout.count())),
              "CONNECTTIMEOUT_MS");
        check(curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &Transfer::discard), "WRITEFUNCTION");
        if (abort_) {
            check(curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &Transfer::progress),
                  "XFERINFOFUNCTION");
            check(curl_easy_setopt(h, CURLOPT_XFERINFODATA, this), "XFERINFODATA");
            check(curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L), "NOPROGRESS");
        }
        // One connection per request: a transfer must never wait for another
        // one's connection, which may belong to a hanging peer.
        check(curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L), "FRESH_CONNECT");
        check(curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L), "FORBID_REUSE");
        if (request.kind == Request::Kind::mail)
            setup_mail(h, request.mail);
        else
            setup_http(h, request.http);
    }

    CURL *handle() const { return easy_.get(); }
    std::size_t index() const { return index_; }

    SendResult result(CURLcode rc) const
    {
        SendResult r;
        if (rc != CURLE_OK) {
            r.error = errbuf_[0] ? fmt::format("{}: {}", curl_easy_strerror(rc), one_line(errbuf_))
                                 : std::string(curl_easy_strerror(rc));
            return r;
        }
        if (request_.kind == Request::Kind::http) {
            long status = 0;
            curl_easy_getinfo(easy_.get(), CURLINFO_RESPONSE_CODE, &status);
            if (status < 200 || status > 299) {
                r.error = fmt::format("HTTP status {}", status);
                return r;
            }
        }
        r.ok = true;
        return r;
    }

  private:
    static size_t discard(char *, size_t size, size_t nmemb, void *) { return size * nmemb; }

    static int progress(void *self, curl_off_t, curl_off_t, curl_off_t, curl_off_t)
    {
        return static_cast<Transfer *>(self)->abort_->load() ? 1 : 0;
    }

    static size_t read_body(char *buffer, size_t size, size_t nitems, void *userdata)
    {
        auto *self = static_cast<Transfer *>(userdata);
        const std::string &msg = self->request_.mail.message;
        const size_t room = size * nitems;
        const size_t n = std::min(room, msg.size() - self->sent_);
        std::memcpy(buffer, msg.data() + self->sent_, n);
        self->sent_ += n;
        return n;
    }

    void setup_mail(CURL *h, const MailRequest &m)
    {
        check(curl_easy_setopt(h, CURLOPT_URL, m.url.c_str()), "URL");
        check(curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps"), "PROTOCOLS_STR");
        // libcurl waits for the reply to the end of DATA outside the transfer
        // timeout, bounded only by this one (whole seconds in libcurl 7.88).
        const long response_s =
            std::max(1L, static_cast<long>((request_.timeout.count() + 999) / 1000));
        check(curl_easy_setopt(h, CURLOPT_SERVER_RESPONSE_TIMEOUT, response_s),
              "SERVER_RESPONSE_TIMEOUT");
        // STARTTLS when the server offers it; smtps:// is TLS from the start.
        check(curl_easy_setopt(h, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_TRY)), "USE_SSL");
        if (!m.user.empty()) {
            check(curl_easy_setopt(h, CURLOPT_USERNAME, m.user.c_str()), "USERNAME");
            check(curl_easy_setopt(h, CURLOPT_PASSWORD, m.password.c_str()), "PASSWORD");
        }
        const std::string from = "<" + m.mail_from + ">";
        check(curl_easy_setopt(h, CURLOPT_MAIL_FROM, from.c_str()), "MAIL_FROM");
        std::vector<std::string> rcpts;
        for (const auto &r : m.recipients)
            rcpts.push_back("<" + r + ">");
        list_ = make_list(rcpts);
        check(curl_easy_setopt(h, CURLOPT_MAIL_RCPT, list_.get()), "MAIL_RCPT");
        check(curl_easy_setopt(h, CURLOPT_UPLOAD, 1L), "UPLOAD");
        check(curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
                               static_cast<curl_off_t>(m.message.size())),
              "INFILESIZE");
        check(curl_easy_setopt(h, CURLOPT_READFUNCTION, &Transfer::read_body), "READFUNCTION");
        check(curl_easy_setopt(h, CURLOPT_READDATA, this), "READDATA");
    }

    void setup_http(CURL *h, const HttpRequest &r)
    {
        check(curl_easy_setopt(h, CURLOPT_URL, r.url.c_str()), "URL");
        check(curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https"), "PROTOCOLS_STR");
        check(curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L), "FOLLOWLOCATION");
        check(curl_easy_setopt(h, CURLOPT_POST, 1L), "POST");
        check(curl_easy_setopt(h, CURLOPT_POSTFIELDS, r.body.c_str()), "POSTFIELDS");
        check(curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                               static_cast<curl_off_t>(r.body.size())),
              "POSTFIELDSIZE");
        std::vector<std::string> headers = r.headers;
        headers.emplace_back("Expect:"); // no 100-continue round trip
        list_ = make_list(headers);
        check(curl_easy_setopt(h, CURLOPT_HTTPHEADER, list_.get()), "HTTPHEADER");
    }

    const Request &request_;
    std::size_t index_;
    EasyPtr easy_;
    SlistPtr list_;
    const std::atomic<bool> *abort_;
    std::size_t sent_ = 0;
    char errbuf_[CURL_ERROR_SIZE];
};

} // namespace

void curl_global_setup()
{
    static std::once_flag once;
    std::call_once(once, [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            throw std::runtime_error("curl_global_init failed");
    });
}

SendResult perform_request(const Request &request, const std::atomic<bool> *abort)
{
    try {
        Transfer t(request, 0, abort);
        return t.result(curl_easy_perform(t.handle()));
    } catch (const std::exception &e) {
        return SendResult{false, e.what()};
    } catch (...) {
        return SendResult{false, "unknown error"};
    }
}

void send_all(const std::vector<Request> &requests, std::size_t parallel,
              const std::function<void(std::size_t, const SendResult &)> &on_done)
{
    if (requests.empty())
        return;
    curl_global_setup();
    parallel = std::max<std::size_t>(parallel, 1);

    std::mutex mutex;
    std::condition_variable ready;
    std::deque<std::pair<std::size_t, SendResult>> results;
    auto post = [&](std::size_t i, SendResult r) {
        {
            std::lock_guard<std::mutex> lock(mutex);
            results.emplace_back(i, std::move(r));
        }
        ready.notify_one();
    };
    auto work = [&](std::size_t i) { post(i, perform_request(requests[i])); };
    std::vector<std::thread> threads;
    threads.reserve(requests.size());
    // Declared after everything the threads use, so that they are joined
    // before any of it is destroyed, also when on_done throws. Each thread
    // ends within its request's timeouts.
    struct Joiner {
        std::vector<std::thread> &threads;
        ~Joiner()
        {
            for (auto &t : threads)
                if (t.joinable())
                    t.join();
        }
    } joiner{threads};

    std::size_t next = 0;
    std::size_t running = 0;
    std::size_t finished = 0;
    while (finished < requests.size()) {
        while (running < parallel && next < requests.size()) {
            const std::size_t i = next++;
            try {
                threads.emplace_back(work, i);
            } catch (const std::system_error &e) {
                post(i,
                     SendResult{false, fmt::format("cannot start a sender thread: {}", e.what())});
            }
            ++running;
        }
        std::pair<std::size_t, SendResult> item;
        {
            std::unique_lock<std::mutex> lock(mutex);
            ready.wait(lock, [&] { return !results.empty(); });
            item = std::move(results.front());
            results.pop_front();
        }
        --running;
        ++finished;
        on_done(item.first, item.second);
    }
}

} // namespace schemahostd::alerts
