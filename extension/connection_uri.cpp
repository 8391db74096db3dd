#include "connection_uri.hpp"

namespace schemahost::uri
{

std::string percent_encode(std::string_view s)
{
    static const char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (unsigned char c : s) {
        bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                          (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
        if (unreserved) {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 0xF]);
        }
    }
    return out;
}

std::string encode_host(std::string_view host)
{
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        return std::string(host);
    if (host.find(':') != std::string_view::npos)
        return "[" + std::string(host) + "]";
    return percent_encode(host);
}

std::string build(std::string_view user, std::string_view password, std::string_view host, int port,
                  std::string_view dbname, std::string_view sslmode)
{
    std::string out = "postgresql://";
    out += percent_encode(user);
    out += ':';
    out += percent_encode(password);
    out += '@';
    out += encode_host(host);
    out += ':';
    out += std::to_string(port);
    out += '/';
    out += percent_encode(dbname);
    if (!sslmode.empty()) {
        out += "?sslmode=";
        out += percent_encode(sslmode);
    }
    return out;
}

} // namespace schemahost::uri
