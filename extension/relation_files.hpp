// The relation files of a database directory, summed by relfilenode: the
// file-system half of a full usage refresh. Pure C++: no PostgreSQL headers,
// so nothing here can ereport or longjmp, which is what makes its helper
// threads safe (CONTRIBUTING.md, "Threads in the backend").
#pragma once

#include "oid_map.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace schemahost
{

// Parses a permanent relation file name, "<relfilenode>[_fsm|_vm|_init][.<segment>]".
// Temporary relations ("t3_1234"), pg_internal.init, PG_VERSION and anything
// else return false.
bool parse_relation_file(const char *name, std::uint32_t *relfilenode) noexcept;

// Adds the size of every permanent relation file in `dir` whose relfilenode
// is a key of `wanted` to bytes[value] (bytes has a slot for every value).
// One pass over the directory, one fstatat() per matching file that exists;
// a file removed meanwhile counts 0. The fstatat() calls start while the
// directory is still being read and are spread over up to `threads` threads,
// the caller's included.
// Throws schemahost::Error when the directory cannot be read.
void sum_relation_files(const std::string &dir, const OidMap &wanted,
                        std::vector<std::int64_t> &bytes, int threads);

} // namespace schemahost
