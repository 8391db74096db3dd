// Sending through libcurl: SMTP (smtp:// with STARTTLS when offered,
// smtps://) and HTTP POST. Each request runs on a thread of its own with its
// own timeouts, so that a slow or hanging peer delays only its own requests.
// (Not curl's multi interface: libcurl's SMTP waits for the reply to the end
// of DATA in a blocking loop, which would stall every other transfer of the
// multi handle -- curl issue #8555.)
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace schemahostd::alerts
{

struct MailRequest {
    std::string url; // smtp://host:port or smtps://host:port
    std::string user;
    std::string password; // empty with user empty: no AUTH
    std::string mail_from;
    std::vector<std::string> recipients; // envelope recipients (To and Bcc)
    std::string message;                 // the whole RFC 5322 message, CRLF lines
};

struct HttpRequest {
    std::string url;
    std::vector<std::string> headers; // "Name: value"
    std::string body;                 // POSTed as is
};

struct Request {
    enum class Kind { mail, http } kind = Kind::http;
    MailRequest mail;
    HttpRequest http;
    std::chrono::milliseconds timeout{10000};
    std::chrono::milliseconds connect_timeout{5000};
};

struct SendResult {
    bool ok = false;
    std::string error; // one line, without credentials
};

// Sends one request and waits for the outcome (at most about its timeouts;
// SMTP: up to twice). Thread-safe once curl_global_setup() has run.
// abort (optional): once it turns true, the request stops within about a
// second and fails with "aborted".
SendResult perform_request(const Request &request, const std::atomic<bool> *abort = nullptr);

// Calls curl_global_init once; safe to call many times from one thread.
void curl_global_setup();

// Sends every request, at most `parallel` at a time, and calls on_done(index,
// result) in the calling thread as each one finishes. HTTP: any 2xx is ok.
// An exception thrown by on_done stops starting requests; those in flight
// finish (within their timeouts) before it propagates.
void send_all(const std::vector<Request> &requests, std::size_t parallel,
              const std::function<void(std::size_t, const SendResult &)> &on_done);

} // namespace schemahostd::alerts
