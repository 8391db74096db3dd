#include "text_util.hpp"

#include <cctype>

namespace schemahostd
{

std::string trim(std::string_view s)
{
    const auto first = s.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos)
        return {};
    const auto last = s.find_last_not_of(" \t\r\n");
    return std::string(s.substr(first, last - first + 1));
}

std::string to_lower(std::string_view s)
{
    std::string out;
    out.reserve(s.size());
    for (char c : s)
        out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string one_line(std::string_view text)
{
    // libpq's messages: "FATAL: ...\nserver closed the connection
    // unexpectedly\n\tThis probably means the server terminated abnormally\n
    // \tbefore or while processing the request." An indented line continues
    // the message above (lower case: mid-sentence); an unindented one is a
    // message of its own.
    std::string out;
    std::size_t start = 0;
    while (start <= text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string_view::npos)
            end = text.size();
        const std::string_view raw = text.substr(start, end - start);
        const bool indented = !raw.empty() && (raw[0] == '\t' || raw[0] == ' ');
        std::string line;
        bool pending_space = false;
        for (char c : raw) {
            if (std::isspace(static_cast<unsigned char>(c))) {
                pending_space = !line.empty();
                continue;
            }
            if (pending_space)
                line += ' ';
            pending_space = false;
            line += c;
        }
        if (!line.empty()) {
            if (!out.empty()) {
                const char last = out.back();
                const bool ends_sentence =
                    last == '.' || last == ':' || last == ';' || last == '?' || last == '!';
                const bool continues = std::islower(static_cast<unsigned char>(line[0])) != 0;
                if (ends_sentence || (indented && continues))
                    out += ' ';
                else
                    out += indented ? ". " : "; ";
            }
            out += line;
        }
        start = end + 1;
    }
    return out;
}

} // namespace schemahostd
