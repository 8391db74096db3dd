// The sizes of a database directory's relation files: all of them for a full
// refresh, the forks of the written projects' relations for an incremental
// one.
//
// Where a full refresh's time goes (10,000 projects, 220,000 files,
// docs/benchmarks.md):
// readdir() ~70 ms, one fstatat() ~1.6 us per file (~350 ms on one core:
// dentry lookup and the inode's attributes, all in the kernel). So the
// fstatat() calls are spread over a few threads, they start on the first
// names while the caller is still reading the directory, and the caller may
// keep the names with an inotify watch (DirectoryListing) so that the next
// full refresh does not read the directory at all.
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
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

namespace schemahost
{

bool parse_relation_file(const char *name, std::uint32_t *relfilenode, std::uint64_t *key) noexcept
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
    std::uint64_t fork = 0; // main
    if (*p == '_') {
        if (std::strncmp(p, "_fsm", 4) == 0) {
            p += 4;
            fork = 1;
        } else if (std::strncmp(p, "_vm", 3) == 0) {
            p += 3;
            fork = 2;
        } else if (std::strncmp(p, "_init", 5) == 0) {
            p += 5;
            fork = 3;
        } else {
            return false;
        }
    }
    std::uint64_t segment = 0;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return false;
        while (*p >= '0' && *p <= '9') {
            segment = segment * 10 + static_cast<std::uint64_t>(*p - '0');
            if (segment >= (1u << 28))
                return false;
            p++;
        }
    }
    if (*p != '\0' || v == 0) // 0 is no relfilenode (InvalidOid)
        return false;
    *relfilenode = static_cast<std::uint32_t>(v);
    if (key)
        *key = v << 32 | fork << 28 | segment; // never 0
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

constexpr std::uint32_t kNoSlot = UINT32_MAX;

// Every relation file the directory holds, wanted or not: a listing kept
// for the next refresh must serve whatever that one wants.
struct FileEntry {
    char name[kNameMax];
    std::uint32_t relfilenode;
    std::uint32_t slot; // in the caller's bytes, or kNoSlot: not wanted
    std::int64_t bytes;

    // len < kNameMax, checked by the caller.
    void set(const char *file_name, std::size_t len, std::uint32_t file_relfilenode) noexcept
    {
        std::memcpy(name, file_name, len + 1);
        relfilenode = file_relfilenode;
        slot = kNoSlot;
        bytes = 0;
    }
};

// The work shared by the reading thread and the helpers. Blocks are
// malloc()ed by the reader only; entries [0, published) are complete and
// their names never written again by the reader (the helpers set slot and
// bytes).
struct Scan {
    int dirfd = -1;
    const OidMap *wanted = nullptr;
    std::unique_ptr<FileEntry *[]> blocks { new FileEntry *[kMaxBlocks]() };
    std::atomic<std::size_t> published{0};
    std::atomic<std::size_t> next{0}; // first entry nobody has claimed
    std::atomic<bool> done{false};    // set after the last publication

    FileEntry &at(std::size_t i) const noexcept { return blocks[i / kBlock][i % kBlock]; }

    // Entry i, its block allocated first if i starts one; null when out of
    // memory (or of blocks). Only the thread that fills entries calls it.
    FileEntry *make(std::size_t i) noexcept
    {
        std::size_t b = i / kBlock;
        if (b >= kMaxBlocks)
            return nullptr;
        if (!blocks[b])
            blocks[b] = static_cast<FileEntry *>(std::malloc(kBlock * sizeof(FileEntry)));
        return blocks[b] ? &blocks[b][i % kBlock] : nullptr;
    }

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
        // The lookups first, all together: each is a cache miss in a map of
        // 100,000s of entries, and so many independent ones overlap, where
        // one between two system calls would wait alone (measured: ~25 ms
        // of CPU in a full refresh of 220,000 files).
        for (std::size_t i = begin; i < end; i++)
            s.wanted->prefetch(s.at(i).relfilenode);
        for (std::size_t i = begin; i < end; i++) {
            FileEntry &f = s.at(i);
            const std::uint32_t *slot = s.wanted->find(f.relfilenode); // never allocates
            f.slot = slot ? *slot : kNoSlot;
            f.bytes = 0; // also when removed meanwhile
        }
        for (std::size_t i = begin; i < end; i++) {
            FileEntry &f = s.at(i);
            struct stat st;
            if (f.slot != kNoSlot && fstatat(s.dirfd, f.name, &st, AT_SYMLINK_NOFOLLOW) == 0)
                f.bytes = st.st_size;
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

// The reader: every relation file into the scan, published in batches so
// the helpers can start on them.
ReadResult read_directory(DIR *dir, Scan &s, int *err) noexcept
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
        std::size_t len = std::strlen(de->d_name);
        if (len >= kNameMax)
            continue;
        FileEntry *f = s.make(count);
        if (!f) {
            result = ReadResult::out_of_memory;
            break;
        }
        f->set(de->d_name, len, relfilenode);
        count++;
        if (count % kPublishEvery == 0)
            s.published.store(count, std::memory_order_release);
    }
    s.published.store(count, std::memory_order_release);
    s.done.store(true, std::memory_order_release);
    return result;
}

} // namespace

// A kept listing: the entries of the last pass (removed names have
// relfilenode 0, which no map finds) and the watch that tells what changed
// in the directory since it was set, just before the directory was read.
struct DirectoryListing::State {
    std::string path;
    dev_t dev = 0;
    ino_t ino = 0;
    int notify_fd = -1;
    std::unique_ptr<Scan> scan;
    std::unique_ptr<FileKeyMap> index; // name key -> entry; built on the first change
    std::size_t removed = 0;           // entries with relfilenode 0

    State() = default;
    State(const State &) = delete;
    State &operator=(const State &) = delete;
    ~State()
    {
        if (notify_fd >= 0)
            close(notify_fd);
    }
};

DirectoryListing::DirectoryListing() = default;
DirectoryListing::~DirectoryListing() = default;

bool DirectoryListing::watching() const noexcept
{
    return state && state->notify_fd >= 0;
}

void DirectoryListing::clear() noexcept
{
    state.reset();
}

std::size_t DirectoryListing::files() const noexcept
{
    return state ? state->scan->published.load(std::memory_order_relaxed) - state->removed : 0;
}

namespace
{

constexpr std::uint32_t kWatchMask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                                     IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

// Every entry by its name's key, for the changes to find theirs. A name
// the read returned twice (deleted and created again while it ran, which
// the watch reported, hence this index) is kept once.
bool build_index(DirectoryListing::State &st) noexcept
{
    Scan &s = *st.scan;
    std::size_t n = s.published.load(std::memory_order_relaxed);
    try {
        st.index = std::make_unique<FileKeyMap>(n + 1024);
        for (std::size_t i = 0; i < n; i++) {
            FileEntry &f = s.at(i);
            std::uint32_t rfn;
            std::uint64_t key;
            if (f.relfilenode == 0 || !parse_relation_file(f.name, &rfn, &key))
                continue;
            if (!st.index->insert(key, static_cast<std::uint32_t>(i))) {
                f.relfilenode = 0;
                st.removed++;
            }
        }
    } catch (const std::bad_alloc &) {
        return false;
    }
    return true;
}

// One name created in the directory: a new entry, or a removed one again
// (an entry already there: the read found it after the watch was set).
bool listing_add(DirectoryListing::State &st, const char *name) noexcept
{
    std::uint32_t rfn;
    std::uint64_t key;
    std::size_t len = std::strlen(name);
    if (!parse_relation_file(name, &rfn, &key) || len >= kNameMax)
        return true; // not a relation file: never listed
    Scan &s = *st.scan;
    std::size_t at;
    if (const std::uint32_t *i = st.index->find(key)) {
        at = *i;
        if (s.at(at).relfilenode != 0)
            return true;
        st.removed--;
    } else {
        at = s.published.load(std::memory_order_relaxed);
        if (at >= UINT32_MAX || !s.make(at))
            return false;
        try {
            st.index->insert(key, static_cast<std::uint32_t>(at));
        } catch (const std::bad_alloc &) {
            return false;
        }
        s.published.store(at + 1, std::memory_order_relaxed);
    }
    s.at(at).set(name, len, rfn);
    return true;
}

void listing_remove(DirectoryListing::State &st, const char *name) noexcept
{
    std::uint32_t rfn;
    std::uint64_t key;
    if (!parse_relation_file(name, &rfn, &key))
        return;
    const std::uint32_t *i = st.index->find(key);
    if (i && st.scan->at(*i).relfilenode != 0) {
        st.scan->at(*i).relfilenode = 0;
        st.removed++;
    }
}

// Applies what the watch reported since the last pass. False when the
// listing cannot be trusted or kept up any more: events were lost, the
// directory went away, too much was removed, or memory ran out.
bool apply_changes(DirectoryListing::State &st) noexcept
{
    alignas(struct inotify_event) char buf[16384];
    for (;;) {
        ssize_t n = read(st.notify_fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0)
            return false;
        for (ssize_t off = 0; off < n;) {
            const struct inotify_event *e =
                reinterpret_cast<const struct inotify_event *>(buf + off);
            off += static_cast<ssize_t>(sizeof(struct inotify_event) + e->len);
            if (e->mask & (IN_Q_OVERFLOW | IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT))
                return false;
            if ((e->mask & IN_ISDIR) || e->len == 0)
                continue;
            if (!st.index && !build_index(st))
                return false;
            if (e->mask & (IN_CREATE | IN_MOVED_TO)) {
                if (!listing_add(st, e->name))
                    return false;
            } else if (e->mask & (IN_DELETE | IN_MOVED_FROM)) {
                listing_remove(st, e->name);
            }
        }
    }
    // Removed names stay as entries the passes skip: read anew (and so
    // compactly) once they are a quarter.
    return st.removed * 4 <= st.scan->published.load(std::memory_order_relaxed);
}

// A watch on the directory at `path`, set before it is read; -1 when
// inotify is unavailable (or out of instances: fs.inotify.max_user_instances).
int watch_directory(const std::string &path) noexcept
{
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd >= 0 && inotify_add_watch(fd, path.c_str(), kWatchMask) < 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

} // namespace

SumResult sum_relation_files(const std::string &dir_path, const OidMap &wanted,
                             std::vector<std::int64_t> &bytes, int threads,
                             DirectoryListing *listing)
{
    // Taken out of the listing: put back only after a pass that succeeded
    // (an exception leaves the listing empty and closes the watch).
    std::unique_ptr<DirectoryListing::State> st;
    if (listing)
        st = std::move(listing->state);

    Dir dir(dir_path);
    if (!dir.get()) {
        int err = errno;
        throw Error("58030", "could not open directory \"" + dir_path + "\"")
            .detail(std::strerror(err));
    }
    struct stat id;
    bool identified = fstat(dirfd(dir.get()), &id) == 0;
    bool reused = st && identified && st->path == dir_path && st->dev == id.st_dev &&
                  st->ino == id.st_ino && apply_changes(*st);
    if (!reused) {
        st.reset(); // closes the old watch
        if (listing && listing->may_watch && identified) {
            int fd = watch_directory(dir_path);
            if (fd >= 0) {
                st = std::make_unique<DirectoryListing::State>();
                st->notify_fd = fd;
                st->path = dir_path;
                st->dev = id.st_dev;
                st->ino = id.st_ino;
            }
        }
    }

    std::unique_ptr<Scan> s;
    if (reused) {
        s = std::move(st->scan);
        s->next.store(0, std::memory_order_relaxed);
    } else {
        s = std::make_unique<Scan>();
    }
    s->dirfd = dirfd(dir.get());
    s->wanted = &wanted;

    unsigned want = wanted.size() < kThreadsFrom ? 1 : thread_count(threads);

    // From here to the last join: no exception, no PostgreSQL (see the top).
    ReadResult result = ReadResult::ok;
    int err = 0;
    unsigned ran;
    {
        Helpers helpers(want, stat_helper, s.get());
        if (!reused)
            result = read_directory(dir.get(), *s, &err);
        stat_claimed(*s); // the reader helps with what is left
        ran = helpers.join();
    }

    if (result == ReadResult::read_error)
        throw Error("58030", "could not read directory \"" + dir_path + "\"")
            .detail(std::strerror(err));
    if (result == ReadResult::out_of_memory)
        throw std::bad_alloc();
    std::size_t n = s->published.load(std::memory_order_relaxed);
    std::size_t files = 0;
    for (std::size_t i = 0; i < n; i++) {
        const FileEntry &f = s->at(i);
        files += f.relfilenode != 0;
        if (f.slot < bytes.size())
            bytes[f.slot] += f.bytes;
    }

    if (st) {
        st->scan = std::move(s);
        listing->state = std::move(st);
    }
    return SumResult{ran, files, reused};
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
