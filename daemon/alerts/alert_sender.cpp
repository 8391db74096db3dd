#include "alerts/alert_sender.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>

namespace schemahostd::alerts {

namespace {

struct EasyDeleter {
    void operator()(CURL *h) const noexcept { curl_easy_cleanup(h); }
};
struct MultiDeleter {
    void operator()(CURLM *h) const noexcept { curl_multi_cleanup(h); }
};
struct SlistDeleter {
    void operator()(curl_slist *l) const noexcept { curl_slist_free_all(l); }
};
using EasyPtr = std::unique_ptr<CURL, EasyDeleter>;
using MultiPtr = std::unique_ptr<CURLM, MultiDeleter>;
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
        throw std::runtime_error(fmt::format("curl: cannot set {}: {}", what, curl_easy_strerror(rc)));
}

// One request in flight. Owns everything curl points into.
class Transfer
{
  public:
    Transfer(const Request &request, std::size_t index) : request_(request), index_(index)
    {
        easy_.reset(curl_easy_init());
        if (!easy_)
            throw std::runtime_error("curl_easy_init failed");
        errbuf_[0] = '\0';
        CURL *h = easy_.get();
        check(curl_easy_setopt(h, CURLOPT_PRIVATE, this), "PRIVATE");
        check(curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf_), "ERRORBUFFER");
        check(curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L), "NOSIGNAL");
        check(curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count())),
              "TIMEOUT_MS");
        check(curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                               static_cast<long>(request.connect_timeout.count())),
              "CONNECTTIMEOUT_MS");
        check(curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &Transfer::discard), "WRITEFUNCTION");
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
        check(curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(m.message.size())),
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
        check(curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size())),
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
    std::size_t sent_ = 0;
    char errbuf_[CURL_ERROR_SIZE];
};

// Removes a transfer from the multi handle before it is destroyed.
struct Attached {
    CURLM *multi;
    std::unique_ptr<Transfer> transfer;
    Attached(CURLM *m, std::unique_ptr<Transfer> t) : multi(m), transfer(std::move(t)) {}
    Attached(const Attached &) = delete;
    Attached &operator=(const Attached &) = delete;
    ~Attached()
    {
        if (transfer)
            curl_multi_remove_handle(multi, transfer->handle());
    }
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

void send_all(const std::vector<Request> &requests, std::size_t parallel,
              const std::function<void(std::size_t, const SendResult &)> &on_done)
{
    if (requests.empty())
        return;
    curl_global_setup();
    parallel = std::max<std::size_t>(parallel, 1);
    MultiPtr multi(curl_multi_init());
    if (!multi)
        throw std::runtime_error("curl_multi_init failed");
    // Declared after multi: destroyed (and detached) before it.
    std::vector<std::unique_ptr<Attached>> active;
    std::size_t next = 0;

    while (next < requests.size() || !active.empty()) {
        while (active.size() < parallel && next < requests.size()) {
            const std::size_t i = next++;
            std::unique_ptr<Transfer> t;
            try {
                t = std::make_unique<Transfer>(requests[i], i);
            } catch (const std::runtime_error &e) {
                on_done(i, SendResult{false, e.what()});
                continue;
            }
            const CURLMcode mc = curl_multi_add_handle(multi.get(), t->handle());
            if (mc != CURLM_OK) {
                on_done(i, SendResult{false, curl_multi_strerror(mc)});
                continue;
            }
            active.push_back(std::make_unique<Attached>(multi.get(), std::move(t)));
        }
        int running = 0;
        const CURLMcode mc = curl_multi_perform(multi.get(), &running);
        if (mc != CURLM_OK)
            throw std::runtime_error(fmt::format("curl_multi_perform: {}", curl_multi_strerror(mc)));
        int queued = 0;
        while (CURLMsg *msg = curl_multi_info_read(multi.get(), &queued)) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            const auto it = std::find_if(active.begin(), active.end(), [&](const auto &a) {
                return a->transfer->handle() == msg->easy_handle;
            });
            if (it == active.end())
                continue;
            const SendResult result = (*it)->transfer->result(msg->data.result);
            const std::size_t index = (*it)->transfer->index();
            active.erase(it); // msg is invalid from here on
            on_done(index, result);
        }
        if (!active.empty()) {
            const CURLMcode pc = curl_multi_poll(multi.get(), nullptr, 0, 200, nullptr);
            if (pc != CURLM_OK)
                throw std::runtime_error(fmt::format("curl_multi_poll: {}", curl_multi_strerror(pc)));
        }
    }
}

} // namespace schemahostd::alerts
