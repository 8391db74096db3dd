// The settings of alert delivery (issue 6). Part of the daemon's Config; the
// options that set them are in config.cpp (--smtp-*, --operator-email,
// --webhook-*, --alert-*). The member initialisers are the defaults.
#pragma once

#include <chrono>
#include <string>

namespace schemahostd::alerts
{

struct AlertOptions {
    // Email: smtp://host[:port] (STARTTLS when the server offers it) or
    // smtps://host[:port]. Empty: no email is sent; email deliveries wait.
    std::string smtp_url;
    std::string smtp_user;          // empty: no AUTH
    std::string smtp_password_file; // the password is read from this file, never from options
    std::string smtp_from;          // envelope and From: address; required with smtp_url
    std::string operator_email;     // Bcc of every email, and the contact named in it
    // Webhook: http(s):// URL receiving one JSON POST per event. Empty: no
    // webhook is sent; webhook deliveries wait.
    std::string webhook_url;
    std::string webhook_secret_file; // with it, requests carry X-Schemahost-Signature
    // The secrets themselves, read from the two files above by
    // load_alert_secrets() (parse_config() does it at startup and on every
    // reload, so that a rotated file takes effect on SIGHUP). Never logged.
    std::string smtp_password;
    std::string webhook_secret;

    int max_attempts = 10;                       // attempts per delivery before it is marked failed
    std::chrono::milliseconds retry_base{30000}; // delay after the first failed attempt
    std::chrono::milliseconds retry_max{3600000};     // the delay doubles up to this
    std::chrono::milliseconds smtp_timeout{30000};    // whole SMTP transaction
    std::chrono::milliseconds webhook_timeout{10000}; // whole HTTP request
    std::chrono::milliseconds connect_timeout{5000};  // TCP + TLS connect, both channels
    int batch = 20; // deliveries sent concurrently per pass, at most

    bool email_enabled() const { return !smtp_url.empty(); }
    bool webhook_enabled() const { return !webhook_url.empty(); }
    bool enabled() const { return email_enabled() || webhook_enabled(); }

    bool operator==(const AlertOptions &o) const
    {
        return smtp_url == o.smtp_url && smtp_user == o.smtp_user &&
               smtp_password_file == o.smtp_password_file && smtp_from == o.smtp_from &&
               operator_email == o.operator_email && webhook_url == o.webhook_url &&
               webhook_secret_file == o.webhook_secret_file && smtp_password == o.smtp_password &&
               webhook_secret == o.webhook_secret && max_attempts == o.max_attempts &&
               retry_base == o.retry_base && retry_max == o.retry_max &&
               smtp_timeout == o.smtp_timeout && webhook_timeout == o.webhook_timeout &&
               connect_timeout == o.connect_timeout && batch == o.batch;
    }
    bool operator!=(const AlertOptions &o) const { return !(*this == o); }
};

// A secret file (--smtp-password-file, --webhook-secret-file) that could not
// be read. Holds the path and the reason, never the file's contents.
struct SecretFileProblem {
    std::string option; // "--smtp-password-file" or "--webhook-secret-file"
    std::string path;
    std::string reason; // e.g. "No such file or directory", "the file is empty"
    // On reload: the secret read before stays in use.
    bool kept_previous = false;

    std::string message() const { return "cannot read \"" + path + "\": " + reason; }
};

} // namespace schemahostd::alerts
