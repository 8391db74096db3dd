// The relation files of a database directory, summed by relfilenode (the
// file-system half of a full usage refresh), or stat()ed by name (of an
// incremental one). Pure C++: no PostgreSQL headers,
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

// Bytes of one fork: `first` is the path of its first segment, relative to
// dirfd (AT_FDCWD: the working directory, which is the data directory in a
// backend); further segments are "<first>.1", "<first>.2" ... md.c keeps every
// segment but the last exactly segment_bytes long, so segment N+1 is only
// probed after a full one. A missing first segment (no such fork, or the
// relation was just dropped) is 0 bytes.
std::int64_t fork_bytes(int dirfd, const std::string &first, std::int64_t segment_bytes);

// The bytes of the segments after the first, "<first>.1" on, of a fork whose
// first segment has first_bytes (nothing to probe unless that one is full).
std::int64_t later_segments_bytes(int dirfd, const std::string &first, std::int64_t first_bytes,
                                  std::int64_t segment_bytes);

// A directory opened for fstatat()-relative lookups (one path component per
// lookup instead of three); get() is -1 when it could not be opened.
class DirFd
{
  public:
    explicit DirFd(const std::string &path);
    ~DirFd();
    DirFd(const DirFd &) = delete;
    DirFd &operator=(const DirFd &) = delete;
    int get() const { return fd_; }

  private:
    int fd_;
};

// Adds the size of every permanent relation file in `dir` whose relfilenode
// is a key of `wanted` to bytes[value] (bytes has a slot for every value).
// One pass over the directory, one fstatat() per matching file that exists;
// a file removed meanwhile counts 0. The fstatat() calls start while the
// directory is still being read and are spread over up to `threads` threads,
// the caller's included.
// Returns the number of threads that took part, the caller's included.
// Throws schemahost::Error when the directory cannot be read.
unsigned sum_relation_files(const std::string &dir, const OidMap &wanted,
                            std::vector<std::int64_t> &bytes, int threads);

// Replaces bytes with the size of each of names, relative to dirfd (a valid
// descriptor unless names is empty); a name that cannot be stat()ed (no such
// fork) is 0 bytes. From 512 names on (an incremental refresh of 100
// projects probes ~3,500 forks) they are spread over up to `threads`
// threads, the caller's included: below that a helper costs about what it
// saves. Returns the number of threads that took part.
unsigned stat_names(int dirfd, const std::vector<std::string> &names,
                    std::vector<std::int64_t> &bytes, int threads);

} // namespace schemahost
