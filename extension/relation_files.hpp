// The relation files of a database directory, summed by relfilenode (the
// file-system half of a full usage refresh), or stat()ed by name (of an
// incremental one). Pure C++: no PostgreSQL headers,
// so nothing here can ereport or longjmp, which is what makes its helper
// threads safe (CONTRIBUTING.md, "Threads in the backend").
#pragma once

#include "oid_map.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace schemahost
{

// Parses a permanent relation file name, "<relfilenode>[_fsm|_vm|_init][.<segment>]".
// Temporary relations ("t3_1234"), pg_internal.init, PG_VERSION and anything
// else return false. `key`, when given, gets relfilenode, fork and segment
// packed into one non-zero number (segments above 2^28 - 1, which md.c never
// reaches, are not relation files).
bool parse_relation_file(const char *name, std::uint32_t *relfilenode,
                         std::uint64_t *key = nullptr) noexcept;

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

// The relation files of a database directory as a full refresh last read
// them, kept by the caller between refreshes, with an inotify(7) watch on
// the directory set before it was read. The next full refresh of the same
// directory applies the names created and removed since, as the watch
// reports them, instead of reading the directory again (~70 ms of 220,000
// entries, docs/benchmarks.md); it reads it again when the watch lost
// events (its queue overflowed: fs.inotify.max_queued_events), the
// directory was replaced, or a quarter of the names kept were removed.
// Without a watch (may_watch false, or inotify unavailable) nothing is kept
// and every full refresh reads the directory.
class DirectoryListing
{
  public:
    DirectoryListing();
    ~DirectoryListing();
    DirectoryListing(const DirectoryListing &) = delete;
    DirectoryListing &operator=(const DirectoryListing &) = delete;

    // Whether a refresh may open an inotify descriptor for this listing (in
    // a backend: one PostgreSQL has accounted for, AcquireExternalFD()).
    bool may_watch = false;
    // Whether the listing holds a descriptor now (and so a listing).
    bool watching() const noexcept;
    // Relation files held, removed ones not counted.
    std::size_t files() const noexcept;
    // Forgets the listing and closes the watch.
    void clear() noexcept;

    struct State;
    std::unique_ptr<State> state;
};

struct SumResult {
    unsigned threads;    // that took part, the caller's included
    std::size_t files;   // relation files of the directory, wanted or not
    bool listing_reused; // the names came from `listing`, not from readdir()
};

// Adds the size of every permanent relation file in `dir` whose relfilenode
// is a key of `wanted` to bytes[value] (bytes has a slot for every value).
// One pass over the directory (or over `listing`, when its watch says what
// changed since: see DirectoryListing), one fstatat() per matching file that
// exists; a file removed meanwhile counts 0. The fstatat() calls start while
// the directory is still being read and are spread over up to `threads`
// threads, the caller's included. `listing` (may be null) keeps what this
// pass used when it can watch the directory, and is emptied otherwise (also
// when this throws).
// Throws schemahost::Error when the directory cannot be read.
SumResult sum_relation_files(const std::string &dir, const OidMap &wanted,
                             std::vector<std::int64_t> &bytes, int threads,
                             DirectoryListing *listing = nullptr);

// Replaces bytes with the size of each of names, relative to dirfd (a valid
// descriptor unless names is empty); a name that cannot be stat()ed (no such
// fork) is 0 bytes. From 512 names on (an incremental refresh of 100
// projects probes ~3,500 forks) they are spread over up to `threads`
// threads, the caller's included: below that a helper costs about what it
// saves. Returns the number of threads that took part.
unsigned stat_names(int dirfd, const std::vector<std::string> &names,
                    std::vector<std::int64_t> &bytes, int threads);

} // namespace schemahost
