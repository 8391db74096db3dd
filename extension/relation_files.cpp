// The sizes of a database directory's relation files: all of them for a full
// refresh, the forks of the written projects' relations for an incremental
// one.
//
// Where a full refresh's time goes (10,000 projects, 220,000 files,
// docs/benchmarks.md):
// readdir() ~75 ms, one fstatat() ~1.8 us per file (~400 ms on one core:
// dentry lookup and the inode's attributes, all in the kernel). So the
// fstatat() calls are spread over a few threads, and they start on the first
// names while the caller is still reading the directory.
//
// Threads: the rules of CONTRIBUTING.md ("Threads in the backend") hold by
// construction here. This file includes no PostgreSQL header, so neither the
// helpers nor the caller's thread can call PostgreSQL between the first
// pthread_create() and the last pthread_join(); nothing in that window
// throws (an error is remembered and thrown after the join); the helpers
// allocate nothing; they are created with every signal blocked.
#include "relation_files.hpp"

#include "error.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace schemahost
{

bool parse_relation_file(const char *name, std::uint32_t *relfilenode) noexcept
{
    const char *p = name;
    if (*p < '0' || *p > '9')
        return false;
    std::uint64_t v = 0;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + static_cast<std::uint64_t>(*p - '0');
        if (v > 0xFFFFFFFFULL)
            return false;
        p++;
    }
    if (*p == '_') {
        if (std::strncmp(p, "_fsm", 4) == 0)
            p += 4;
        else if (std::strncmp(p, "_vm", 3) == 0)
            p += 3;
        else if (std::strncmp(p, "_init", 5) == 0)
            p += 5;
        else
            return false;
    }
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p != '\0')
        return false;
    *relfilenode = static_cast<std::uint32_t>(v);
    return true;
}

std::int64_t fork_bytes(int dirfd, const std::string &first, std::int64_t segment_bytes)
{
    struct stat st;
    if (fstatat(dirfd, first.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        return 0;
    return st.st_size + later_segments_bytes(dirfd, first, st.st_size, segment_bytes);
}

std::int64_t later_segments_bytes(int dirfd, const std::string &first, std::int64_t first_bytes,
                                  std::int64_t segment_bytes)
{
    std::int64_t total = 0;
    struct stat st;
    st.st_size = first_bytes;
    for (int seg = 1; st.st_size >= segment_bytes; seg++) {
        std::string path = first + "." + std::to_string(seg);
        if (fstatat(dirfd, path.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
            break;
        total += st.st_size;
    }
    return total;
}

DirFd::DirFd(const std::string &path) : fd_(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC))
{
}

DirFd::~DirFd()
{
    if (fd_ >= 0)
        close(fd_);
}

namespace
{

// "4294967295_init.99999" is 21 characters; a longer name is not one of ours.
constexpr std::size_t kNameMax = 24;
constexpr std::size_t kBlock = 4096;      // entries per storage block
constexpr std::size_t kMaxBlocks = 32768; // 134 million files
constexpr std::size_t kClaim = 256;       // entries a thread takes at a time
constexpr std::size_t kPublishEvery = 64; // entries the reader batches per publication
constexpr unsigned kMaxThreads = 8;       // the maximum of schemahost.refresh_threads
// Below this many wanted relations the helpers cost more than they save.
constexpr std::size_t kThreadsFrom = 8192;
// Below this many names to stat (~1.5 us each, a few hundred of them ~0.5
// ms) the helpers, started and joined in ~50 us each and sharing two cores,
// save little; measured at 100 projects (~3,500 names) in docs/benchmarks.md.
constexpr std::size_t kNamesThreadsFrom = 512;

struct FileEntry {
    char name[kNameMax];
    std::uint32_t slot;
    std::int64_t bytes;
};

// The work shared by the reading thread and the helpers. Blocks are
// malloc()ed by the reader only; entries [0, published) are complete and
// never written again by the reader.
struct Scan {
    int dirfd = -1;
    std::unique_ptr<FileEntry *[]> blocks { new FileEntry *[kMaxBlocks]() };
    std::atomic<std::size_t> published{0};
    std::atomic<std::size_t> next{0}; // first entry nobody has claimed
    std::atomic<bool> done{false};    // set after the last publication

    FileEntry &at(std::size_t i) const noexcept { return blocks[i / kBlock][i % kBlock]; }

    ~Scan()
    {
        for (std::size_t b = 0; b < kMaxBlocks && blocks[b]; b++)
            std::free(blocks[b]);
    }
};

// Claims up to kClaim published entries within one block. Waits for the
// reader while it is still reading; false once everything is claimed.
bool claim(Scan &s, std::size_t *begin, std::size_t *end) noexcept
{
    for (;;) {
        std::size_t n = s.next.load(std::memory_order_relaxed);
        bool done = s.done.load(std::memory_order_acquire); // before published: then it is final
        std::size_t p = s.published.load(std::memory_order_acquire);
        if (n < p) {
            std::size_t e = std::min({n + kClaim, p, (n / kBlock + 1) * kBlock});
            if (s.next.compare_exchange_weak(n, e, std::memory_order_acq_rel)) {
                *begin = n;
                *end = e;
                return true;
            }
            continue;
        }
        if (done)
            return false;
        struct timespec pause = {0, 50 * 1000};
        nanosleep(&pause, nullptr);
    }
}

void stat_claimed(Scan &s) noexcept
{
    std::size_t begin, end;
    while (claim(s, &begin, &end)) {
        for (std::size_t i = begin; i < end; i++) {
            FileEntry &f = s.at(i);
            struct stat st;
            if (fstatat(s.dirfd, f.name, &st, AT_SYMLINK_NOFOLLOW) == 0)
                f.bytes = st.st_size; // else removed meanwhile: 0
        }
    }
}

void *stat_helper(void *arg) noexcept
{
    stat_claimed(*static_cast<Scan *>(arg));
    return nullptr;
}

unsigned thread_count(int asked) noexcept
{
    return asked <= 1 ? 1 : std::min(static_cast<unsigned>(asked), kMaxThreads);
}

// want - 1 (at most kMaxThreads - 1) helper threads running fn(arg),
// started with every signal blocked; join() waits for them. Nothing here
// throws, and the helpers allocate nothing (pthread_create() itself
// mallocs in the caller's thread). A helper that cannot start is not an
// error: the caller's thread does its share.
class Helpers
{
  public:
    Helpers(unsigned want, void *(*fn)(void *), void *arg) noexcept
    {
        want = std::min(want, kMaxThreads);
        if (want <= 1)
            return;
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        for (unsigned i = 1; i < want; i++)
            if (pthread_create(&threads_[started_], nullptr, fn, arg) == 0)
                started_++;
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
    }
    ~Helpers() { join(); }
    Helpers(const Helpers &) = delete;
    Helpers &operator=(const Helpers &) = delete;

    // The number of threads that took part, the caller's included.
    unsigned join() noexcept
    {
        for (; joined_ < started_; joined_++)
            pthread_join(threads_[joined_], nullptr);
        return started_ + 1;
    }

  private:
    pthread_t threads_[kMaxThreads];
    unsigned started_ = 0;
    unsigned joined_ = 0;
};

// The names of stat_names(), claimed kClaim at a time by every thread.
struct NameScan {
    int dirfd;
    const std::string *names;
    std::int64_t *bytes;
    std::size_t count;
    std::atomic<std::size_t> next{0};
};

void stat_names_claimed(NameScan &s) noexcept
{
    for (;;) {
        std::size_t begin = s.next.fetch_add(kClaim, std::memory_order_relaxed);
        if (begin >= s.count)
            return;
        std::size_t end = std::min(begin + kClaim, s.count);
        for (std::size_t i = begin; i < end; i++) {
            struct stat st;
            s.bytes[i] = fstatat(s.dirfd, s.names[i].c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0
                             ? st.st_size
                             : 0;
        }
    }
}

void *stat_names_helper(void *arg) noexcept
{
    stat_names_claimed(*static_cast<NameScan *>(arg));
    return nullptr;
}

class Dir
{
  public:
    explicit Dir(const std::string &path) : dir_(opendir(path.c_str())) {}
    ~Dir()
    {
        if (dir_)
            closedir(dir_);
    }
    Dir(const Dir &) = delete;
    Dir &operator=(const Dir &) = delete;
    DIR *get() const { return dir_; }

  private:
    DIR *dir_;
};

enum class ReadResult { ok, read_error, out_of_memory };

// The reader: every wanted relation file into the scan, published in
// batches so the helpers can start on them.
ReadResult read_directory(DIR *dir, const OidMap &wanted, Scan &s, int *err) noexcept
{
    ReadResult result = ReadResult::ok;
    std::size_t count = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(dir);
        if (!de) {
            if (errno != 0) {
                *err = errno;
                result = ReadResult::read_error;
            }
            break;
        }
        std::uint32_t relfilenode;
        if (!parse_relation_file(de->d_name, &relfilenode))
            continue;
        const std::uint32_t *slot = wanted.find(relfilenode);
        std::size_t len = std::strlen(de->d_name);
        if (!slot || len >= kNameMax)
            continue;
        if (count % kBlock == 0) {
            std::size_t b = count / kBlock;
            if (b < kMaxBlocks)
                s.blocks[b] = static_cast<FileEntry *>(std::malloc(kBlock * sizeof(FileEntry)));
            if (b >= kMaxBlocks || !s.blocks[b]) {
                result = ReadResult::out_of_memory;
                break;
            }
        }
        FileEntry &f = s.at(count);
        std::memcpy(f.name, de->d_name, len + 1);
        f.slot = *slot;
        f.bytes = 0;
        count++;
        if (count % kPublishEvery == 0)
            s.published.store(count, std::memory_order_release);
    }
    s.published.store(count, std::memory_order_release);
    s.done.store(true, std::memory_order_release);
    return result;
}

} // namespace

unsigned sum_relation_files(const std::string &dir_path, const OidMap &wanted,
                            std::vector<std::int64_t> &bytes, int threads)
{
    Dir dir(dir_path);
    if (!dir.get()) {
        int err = errno;
        throw Error("58030", "could not open directory \"" + dir_path + "\"")
            .detail(std::strerror(err));
    }
    Scan s;
    s.dirfd = dirfd(dir.get());

    unsigned want = wanted.size() < kThreadsFrom ? 1 : thread_count(threads);

    // From here to the last join: no exception, no PostgreSQL (see the top).
    Helpers helpers(want, stat_helper, &s);
    int err = 0;
    ReadResult result = read_directory(dir.get(), wanted, s, &err);
    stat_claimed(s); // the reader helps with what is left
    unsigned ran = helpers.join();

    if (result == ReadResult::read_error)
        throw Error("58030", "could not read directory \"" + dir_path + "\"")
            .detail(std::strerror(err));
    if (result == ReadResult::out_of_memory)
        throw std::bad_alloc();
    std::size_t n = s.published.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < n; i++) {
        const FileEntry &f = s.at(i);
        if (f.slot < bytes.size())
            bytes[f.slot] += f.bytes;
    }
    return ran;
}

unsigned stat_names(int dirfd, const std::vector<std::string> &names,
                    std::vector<std::int64_t> &bytes, int threads)
{
    bytes.assign(names.size(), 0);
    NameScan s;
    s.dirfd = dirfd;
    s.names = names.data();
    s.bytes = bytes.data();
    s.count = names.size();
    // No more threads than batches of kClaim names to share.
    std::size_t batches = (names.size() + kClaim - 1) / kClaim;
    unsigned want = 1;
    if (names.size() >= kNamesThreadsFrom)
        want = static_cast<unsigned>(std::min<std::size_t>(thread_count(threads), batches));
    // From here to the join: no exception, no PostgreSQL (see the top).
    Helpers helpers(want, stat_names_helper, &s);
    stat_names_claimed(s);
    return helpers.join();
}

} // namespace schemahost
