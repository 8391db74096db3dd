// The connection URI handed to a project: postgresql://ROLE:PASSWORD@HOST:PORT/DBNAME
// with ?sslmode=... when configured. Pure C++.
#pragma once

#include <string>
#include <string_view>

namespace schemahost::uri
{

// RFC 3986 percent-encoding of everything but the unreserved characters.
std::string percent_encode(std::string_view s);

// An IPv6 literal goes in brackets; anything else is percent-encoded.
std::string encode_host(std::string_view host);

std::string build(std::string_view user, std::string_view password, std::string_view host, int port,
                  std::string_view dbname, std::string_view sslmode);

} // namespace schemahost::uri
