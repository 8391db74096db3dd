// Small string helpers shared by the config parser and the libpq wrappers.
#pragma once

#include <string>
#include <string_view>

namespace schemahostd
{

std::string trim(std::string_view s);
std::string to_lower(std::string_view s);
// Collapses a multi-line message (libpq's are) into one line: runs of blanks
// become one space, and lines are joined as sentences.
std::string one_line(std::string_view text);

} // namespace schemahostd
