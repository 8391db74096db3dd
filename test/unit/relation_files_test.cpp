// relation_files.cpp: parsing relation file names and summing a database
// directory's files by relfilenode or stat()ing them by name, on one thread
// and on several.
#include "relation_files.hpp"

#include "error.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

using schemahost::OidMap;
using schemahost::parse_relation_file;
using schemahost::sum_relation_files;

namespace
{

class TempDir
{
  public:
    TempDir()
    {
        char tmpl[] = "/tmp/schemahost-relfiles-XXXXXX";
        const char *p = mkdtemp(tmpl);
        if (p == nullptr)
            throw std::runtime_error("mkdtemp failed");
        path_ = p;
    }
    ~TempDir() { [[maybe_unused]] int rc = std::system(("rm -rf '" + path_ + "'").c_str()); }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;

    const std::string &path() const { return path_; }

    void file(const std::string &name, std::size_t bytes) const
    {
        std::ofstream out(path_ + "/" + name, std::ios::binary);
        out << std::string(bytes, 'x');
    }

    void remove(const std::string &name) const
    {
        ASSERT_EQ(::unlink((path_ + "/" + name).c_str()), 0);
    }

  private:
    std::string path_;
};

} // namespace

TEST(ParseRelationFile, AcceptsEveryForkAndSegment)
{
    const struct {
        const char *name;
        std::uint32_t relfilenode;
    } good[] = {{"16384", 16384},
                {"16384_fsm", 16384},
                {"16384_vm", 16384},
                {"16384_init", 16384},
                {"16384.1", 16384},
                {"16384_fsm.12", 16384},
                {"4294967295", 4294967295u},
                {"1", 1}};
    for (const auto &g : good) {
        std::uint32_t rfn = 0;
        EXPECT_TRUE(parse_relation_file(g.name, &rfn)) << g.name;
        EXPECT_EQ(rfn, g.relfilenode) << g.name;
    }
}

TEST(ParseRelationFile, RejectsEverythingElse)
{
    // Temporary relations, PostgreSQL's own files, overflowing numbers and
    // malformed suffixes are not permanent relation files.
    const char *bad[] = {"t3_16384",
                         "pg_internal.init",
                         "PG_VERSION",
                         "pg_filenode.map",
                         "4294967296",
                         "16384.",
                         "16384_",
                         "16384_fsmx",
                         "16384_foo",
                         "16384.1a",
                         "",
                         "16384 ",
                         ".16384",
                         "0",
                         "16384.268435456"};
    for (const char *b : bad) {
        std::uint32_t rfn = 0;
        EXPECT_FALSE(parse_relation_file(b, &rfn)) << '"' << b << '"';
    }
}

TEST(ParseRelationFile, KeysTellForksAndSegmentsApart)
{
    // The key of a watched listing's entry: one per file name.
    const char *names[] = {"16384",   "16384_fsm",   "16384_vm", "16384_init",
                           "16384.1", "16384_fsm.1", "16385",    "16384.268435455"};
    std::vector<std::uint64_t> keys;
    for (const char *n : names) {
        std::uint32_t rfn = 0;
        std::uint64_t key = 0;
        ASSERT_TRUE(parse_relation_file(n, &rfn, &key)) << n;
        EXPECT_NE(key, 0u) << n;
        for (std::uint64_t k : keys)
            EXPECT_NE(k, key) << n;
        keys.push_back(key);
    }
}

TEST(SumRelationFiles, SumsWantedFilesIntoTheirSlots)
{
    TempDir dir;
    dir.file("100", 8192);
    dir.file("100_fsm", 24576);
    dir.file("100_vm", 8192);
    dir.file("100.1", 1000);
    dir.file("200", 16384);
    dir.file("200_init", 0);
    dir.file("300", 999);     // not wanted
    dir.file("t3_100", 5000); // a temporary relation, never counted
    dir.file("PG_VERSION", 3);

    OidMap wanted(4);
    wanted.insert(100, 0);
    wanted.insert(200, 1);
    wanted.insert(500, 1); // no file at all
    std::vector<std::int64_t> bytes(2, 0);
    // Few relations: the helpers are not worth starting, whatever is asked.
    EXPECT_EQ(sum_relation_files(dir.path(), wanted, bytes, 4).threads, 1u);
    EXPECT_EQ(bytes[0], 8192 + 24576 + 8192 + 1000);
    EXPECT_EQ(bytes[1], 16384);
}

namespace
{

// Whether this kernel lets us watch a directory at all (CONFIG_INOTIFY_USER,
// fs.inotify.max_user_instances): where it does not, the tests of a watched
// listing are skipped (the refresh then reads the directory every time,
// which the other tests cover); where it does, a listing that does not
// watch is a failure.
bool inotify_available()
{
    int fd = inotify_init1(IN_CLOEXEC);
    if (fd < 0)
        return false;
    ::close(fd);
    return true;
}

#define SKIP_WITHOUT_INOTIFY()                                                                     \
    do {                                                                                           \
        if (!inotify_available())                                                                  \
            GTEST_SKIP() << "inotify is not available here";                                       \
    } while (0)

std::vector<std::int64_t> sums(const TempDir &dir, const OidMap &wanted, std::size_t slots,
                               schemahost::DirectoryListing *listing, bool *reused)
{
    std::vector<std::int64_t> bytes(slots, 0);
    schemahost::SumResult r = sum_relation_files(dir.path(), wanted, bytes, 2, listing);
    *reused = r.listing_reused;
    return bytes;
}

} // namespace

TEST(DirectoryListing, FollowsTheDirectoryThroughItsWatch)
{
    SKIP_WITHOUT_INOTIFY();
    TempDir dir;
    dir.file("100", 10);
    dir.file("100_fsm", 20);
    dir.file("200", 30);
    dir.file("PG_VERSION", 3);
    OidMap wanted(4);
    wanted.insert(100, 0);
    wanted.insert(200, 1);
    wanted.insert(300, 1);
    schemahost::DirectoryListing listing;
    listing.may_watch = true;
    bool reused = true;

    EXPECT_EQ(sums(dir, wanted, 2, &listing, &reused), (std::vector<std::int64_t>{30, 30}));
    EXPECT_FALSE(reused); // the first pass reads the directory
    ASSERT_TRUE(listing.watching());
    EXPECT_EQ(listing.files(), 3u);

    // Sizes changed, a file created, one removed, one removed and created
    // again (counted once), a temporary relation's file (never counted).
    dir.file("100", 1000);
    dir.file("300", 7);
    dir.file("300_vm", 8);
    dir.remove("100_fsm");
    dir.remove("200");
    dir.file("200", 5);
    dir.file("t3_100", 99);
    EXPECT_EQ(sums(dir, wanted, 2, &listing, &reused), (std::vector<std::int64_t>{1000, 20}));
    EXPECT_TRUE(reused);
    EXPECT_EQ(listing.files(), 4u); // 100, 200, 300, 300_vm

    // Nothing changed: the same again; what the watch says is applied once.
    EXPECT_EQ(sums(dir, wanted, 2, &listing, &reused), (std::vector<std::int64_t>{1000, 20}));
    EXPECT_TRUE(reused);

    // Another map (the projects changed): the listing serves it too.
    OidMap other(2);
    other.insert(300, 0);
    EXPECT_EQ(sums(dir, other, 1, &listing, &reused), (std::vector<std::int64_t>{15}));
    EXPECT_TRUE(reused);
}

namespace
{

// One relation file, "100" (10 bytes, slot 0), after a first full pass.
struct OneFileListing {
    TempDir dir;
    OidMap wanted{2};
    schemahost::DirectoryListing listing;
    bool reused = true;

    explicit OneFileListing(bool may_watch)
    {
        dir.file("100", 10);
        wanted.insert(100, 0);
        listing.may_watch = may_watch;
        sums(dir, wanted, 1, &listing, &reused);
    }
    std::vector<std::int64_t> pass() { return sums(dir, wanted, 1, &listing, &reused); }
};

} // namespace

TEST(DirectoryListing, ReadsAgainWhenTheDirectoryIsReplaced)
{
    SKIP_WITHOUT_INOTIFY();
    OneFileListing l(true);
    ASSERT_TRUE(l.listing.watching());
    // Same path, another directory (ALTER DATABASE SET TABLESPACE and back).
    std::string moved = l.dir.path() + ".old";
    ASSERT_EQ(::rename(l.dir.path().c_str(), moved.c_str()), 0);
    ASSERT_EQ(::mkdir(l.dir.path().c_str(), 0700), 0);
    l.dir.file("100", 77);
    EXPECT_EQ(l.pass(), (std::vector<std::int64_t>{77}));
    EXPECT_FALSE(l.reused);
    EXPECT_TRUE(l.listing.watching()); // watching the new one
    [[maybe_unused]] int rc = std::system(("rm -rf '" + moved + "'").c_str());
}

TEST(DirectoryListing, ReadsAgainWhenTheWatchLostEvents)
{
    SKIP_WITHOUT_INOTIFY();
    // More changes than the watch's queue holds (fs.inotify.max_queued_events,
    // 16,384 by default): the kernel drops the rest and says so.
    std::size_t queue = 16384;
    if (std::ifstream in("/proc/sys/fs/inotify/max_queued_events"); in)
        in >> queue;
    if (queue > 100000)
        GTEST_SKIP() << "fs.inotify.max_queued_events is " << queue;
    TempDir dir;
    OidMap wanted(queue + 64);
    wanted.insert(100, 0);
    dir.file("100", 1);
    schemahost::DirectoryListing listing;
    listing.may_watch = true;
    bool reused = true;
    sums(dir, wanted, 1, &listing, &reused);
    ASSERT_TRUE(listing.watching());
    std::int64_t expected = 1;
    for (std::uint32_t i = 0; i < queue + 10; i++) {
        dir.file(std::to_string(1000 + i), 1);
        wanted.insert(1000 + i, 0);
        expected += 1;
    }
    EXPECT_EQ(sums(dir, wanted, 1, &listing, &reused), (std::vector<std::int64_t>{expected}));
    EXPECT_FALSE(reused);
    EXPECT_TRUE(listing.watching());
    EXPECT_EQ(listing.files(), queue + 11);
}

TEST(DirectoryListing, ReadsAgainWhenAQuarterWasRemoved)
{
    SKIP_WITHOUT_INOTIFY();
    TempDir dir;
    OidMap wanted(8);
    for (int i = 1; i <= 8; i++) {
        dir.file(std::to_string(i), 1);
        wanted.insert(static_cast<std::uint32_t>(i), 0);
    }
    schemahost::DirectoryListing listing;
    listing.may_watch = true;
    bool reused = true;
    sums(dir, wanted, 1, &listing, &reused);
    dir.remove("1");
    dir.remove("2"); // 2 of 8: still kept up
    EXPECT_EQ(sums(dir, wanted, 1, &listing, &reused), (std::vector<std::int64_t>{6}));
    EXPECT_TRUE(reused);
    dir.remove("3"); // 3 of 8: read anew, and the new listing has no removed names
    EXPECT_EQ(sums(dir, wanted, 1, &listing, &reused), (std::vector<std::int64_t>{5}));
    EXPECT_FALSE(reused);
    EXPECT_EQ(listing.files(), 5u);
    EXPECT_EQ(sums(dir, wanted, 1, &listing, &reused), (std::vector<std::int64_t>{5}));
    EXPECT_TRUE(reused);
}

TEST(DirectoryListing, KeepsNothingWithoutLeaveToWatch)
{
    OneFileListing l(false); // no descriptor to spare
    EXPECT_FALSE(l.listing.watching());
    EXPECT_EQ(l.listing.files(), 0u);
    l.dir.file("100", 20);
    EXPECT_EQ(l.pass(), (std::vector<std::int64_t>{20}));
    EXPECT_FALSE(l.reused);
}

TEST(DirectoryListing, AnErrorLeavesItEmpty)
{
    SKIP_WITHOUT_INOTIFY();
    OneFileListing l(true);
    ASSERT_TRUE(l.listing.watching());
    std::vector<std::int64_t> bytes(1, 0);
    EXPECT_THROW(sum_relation_files(l.dir.path() + "/missing", l.wanted, bytes, 1, &l.listing),
                 schemahost::Error);
    EXPECT_FALSE(l.listing.watching());
    EXPECT_EQ(l.listing.files(), 0u);
}

TEST(SumRelationFiles, ThreadsGiveTheSameSumsAsOneThread)
{
    // Enough wanted relations for the helper threads to start (8,192).
    TempDir dir;
    constexpr std::uint32_t kRelations = 9000;
    constexpr std::uint32_t kSchemas = 7;
    OidMap wanted(kRelations);
    std::vector<std::int64_t> expected(kSchemas, 0);
    for (std::uint32_t i = 0; i < kRelations; i++) {
        std::uint32_t rfn = 20000 + i;
        std::uint32_t slot = i % kSchemas;
        wanted.insert(rfn, slot);
        std::size_t size = (i % 13) * 10;
        dir.file(std::to_string(rfn), size);
        expected[slot] += static_cast<std::int64_t>(size);
        if (i % 3 == 0) {
            dir.file(std::to_string(rfn) + "_fsm", 7);
            expected[slot] += 7;
        }
    }
    dir.file("19999", 12345); // not wanted
    for (int threads : {1, 2, 4, 8, 100}) {
        std::vector<std::int64_t> bytes(kSchemas, 0);
        unsigned ran = sum_relation_files(dir.path(), wanted, bytes, threads).threads;
        EXPECT_EQ(bytes, expected) << threads << " threads";
        // Helpers really ran (up to the maximum of 8), or this tests one thread only.
        EXPECT_EQ(ran, static_cast<unsigned>(threads < 8 ? threads : 8)) << threads << " threads";
    }
}

TEST(SumRelationFiles, AMissingDirectoryIsAnErrorNamingIt)
{
    OidMap wanted(1);
    std::vector<std::int64_t> bytes;
    try {
        sum_relation_files("/nonexistent/schemahost/base/1", wanted, bytes, 4);
        FAIL() << "no error";
    } catch (const schemahost::Error &e) {
        EXPECT_EQ(e.sqlstate(), "58030");
        EXPECT_NE(std::string(e.what()).find("/nonexistent/schemahost/base/1"), std::string::npos);
        EXPECT_NE(e.detail().find("No such file"), std::string::npos);
    }
}

TEST(ForkBytes, FollowsSegmentsOnlyAfterAFullOne)
{
    // With 10-byte segments: 700 is full, so 700.1 is read; 700.1 is full
    // too, so 700.2; 700.2 is short, so 700.3 is never looked at.
    TempDir dir;
    dir.file("700", 10);
    dir.file("700.1", 10);
    dir.file("700.2", 3);
    dir.file("700.3", 1000); // not reached
    dir.file("701", 5);
    dir.file("701.1", 1000); // not reached: 701 is not full
    schemahost::DirFd fd(dir.path());
    ASSERT_GE(fd.get(), 0);
    EXPECT_EQ(schemahost::fork_bytes(fd.get(), "700", 10), 23);
    EXPECT_EQ(schemahost::fork_bytes(fd.get(), "701", 10), 5);
    EXPECT_EQ(schemahost::fork_bytes(fd.get(), "702", 10), 0); // no such fork
    // By path relative to the working directory, as for other tablespaces.
    EXPECT_EQ(schemahost::fork_bytes(AT_FDCWD, dir.path() + "/700", 10), 23);
}

TEST(ForkBytes, LaterSegmentsStartFromAKnownFirstSize)
{
    // The incremental refresh stats first segments together, then asks for
    // the rest of each fork given its first segment's size.
    TempDir dir;
    dir.file("800.1", 10);
    dir.file("800.2", 4);
    schemahost::DirFd fd(dir.path());
    ASSERT_GE(fd.get(), 0);
    EXPECT_EQ(schemahost::later_segments_bytes(fd.get(), "800", 10, 10), 14);
    EXPECT_EQ(schemahost::later_segments_bytes(fd.get(), "800", 9, 10), 0);  // not full: no probe
    EXPECT_EQ(schemahost::later_segments_bytes(fd.get(), "801", 10, 10), 0); // no "801.1"
}

TEST(StatNames, SizesInOrderOnOneThreadAndOnSeveral)
{
    // 2,000 names (above the 512 from which helpers start), every third
    // without a file.
    TempDir dir;
    std::vector<std::string> names;
    std::vector<std::int64_t> expected;
    for (int i = 0; i < 2000; i++) {
        names.push_back(std::to_string(30000 + i) + (i % 2 ? "_fsm" : ""));
        std::int64_t size = i % 3 == 0 ? 0 : (i % 17) * 3;
        if (i % 3 != 0)
            dir.file(names.back(), static_cast<std::size_t>(size));
        expected.push_back(size);
    }
    schemahost::DirFd fd(dir.path());
    ASSERT_GE(fd.get(), 0);
    for (int threads : {1, 2, 4, 8, 100}) {
        std::vector<std::int64_t> bytes{123}; // replaced, not appended to
        unsigned ran = schemahost::stat_names(fd.get(), names, bytes, threads);
        EXPECT_EQ(bytes, expected) << threads << " threads";
        EXPECT_EQ(ran, static_cast<unsigned>(threads < 8 ? threads : 8)) << threads << " threads";
    }
    // 600 names are three batches of 256: no more than three threads.
    std::vector<std::string> some(names.begin(), names.begin() + 600);
    std::vector<std::int64_t> bytes600;
    EXPECT_EQ(schemahost::stat_names(fd.get(), some, bytes600, 8), 3u);
    EXPECT_EQ(bytes600, std::vector<std::int64_t>(expected.begin(), expected.begin() + 600));
    // Few names: one thread, whatever is asked.
    std::vector<std::string> few(names.begin(), names.begin() + 100);
    std::vector<std::int64_t> bytes;
    EXPECT_EQ(schemahost::stat_names(fd.get(), few, bytes, 4), 1u);
    EXPECT_EQ(bytes, std::vector<std::int64_t>(expected.begin(), expected.begin() + 100));
    // No names at all.
    EXPECT_EQ(schemahost::stat_names(fd.get(), {}, bytes, 4), 1u);
    EXPECT_TRUE(bytes.empty());
}

TEST(DirFd, IsMinusOneForAMissingDirectory)
{
    schemahost::DirFd fd("/nonexistent/schemahost");
    EXPECT_EQ(fd.get(), -1);
}
