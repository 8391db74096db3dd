// Project names: one name is the schema, the login role and the registry key,
// so it must be valid, unquoted and unambiguous as all three. Pure C++: the
// keyword test needs the server and is passed in by the caller.
#pragma once

#include <cstddef>
#include <string>

namespace schemahost::names
{

// NAMEDATALEN - 1: Postgres silently truncates longer identifiers (with only a
// NOTICE). The design derives no suffix from the name, so the whole limit is
// available; names.cpp asserts that this matches the server's NAMEDATALEN.
constexpr std::size_t max_bytes = 63;

// Throws schemahost::Error (22023 empty, 42622 too long, 42602 bad characters,
// 42939 reserved) when `name` cannot be a project name. `is_keyword` says
// whether the server would have to quote it (an SQL keyword); it is consulted
// only once the characters are known to be valid.
template <typename KeywordTest>
void check_project_name(const std::string &name, KeywordTest &&is_keyword);

// The parts without the keyword test, exposed for the template below.
void check_syntax(const std::string &name);
void check_reserved(const std::string &name);
void reject_keyword(const std::string &name);

template <typename KeywordTest>
void check_project_name(const std::string &name, KeywordTest &&is_keyword)
{
    check_syntax(name);
    check_reserved(name);
    if (is_keyword(name))
        reject_keyword(name);
}

} // namespace schemahost::names
