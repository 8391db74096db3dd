// A flat hash map from non-zero unsigned keys (OIDs and relfilenodes in an
// OidMap, relation file names packed into 64 bits in a FileKeyMap) to 32-bit
// values, for the full usage refresh. Pure C++: no PostgreSQL headers.
//
// Why not std::unordered_map: a full refresh looks up ~400,000 keys (every
// pg_class and pg_index row, every file of the database directory) in maps of
// 10,000-160,000 entries; the node-based map spent ~60 ms of a ~360 ms
// refresh chasing pointers. Open addressing with linear probing, each key
// next to its value, keeps a lookup to one cache line (two when a probe
// sequence crosses one); find() never allocates, so the directory scan's
// helper threads may call it, and prefetch() lets a caller start the memory
// access of several lookups before it needs the first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace schemahost
{

template <typename Key> class FlatMap
{
    static_assert(std::is_unsigned_v<Key> && sizeof(Key) <= 8);

  public:
    // Sized for `expected` keys at a load factor of at most 1/2.
    explicit FlatMap(std::size_t expected)
    {
        std::size_t capacity = 16;
        while (capacity < expected * 2)
            capacity *= 2;
        resize(capacity);
    }

    // Adds key -> value unless key is 0 (the empty marker: InvalidOid, a
    // mapped relation's relfilenode) or already present; the first value
    // stays. Returns whether it was added. Grows when half full.
    bool insert(Key key, std::uint32_t value)
    {
        if (key == 0)
            return false;
        if ((size_ + 1) * 2 > entries_.size())
            grow();
        std::size_t i = slot(key);
        while (entries_[i].key != 0) {
            if (entries_[i].key == key)
                return false;
            i = (i + 1) & mask_;
        }
        entries_[i] = Entry{key, value};
        size_++;
        return true;
    }

    // The value of key, or nullptr. Never allocates.
    const std::uint32_t *find(Key key) const noexcept
    {
        if (key == 0)
            return nullptr;
        for (std::size_t i = slot(key);; i = (i + 1) & mask_) {
            if (entries_[i].key == key)
                return &entries_[i].value;
            if (entries_[i].key == 0)
                return nullptr;
        }
    }

    // Starts loading where find(key) will look first.
    void prefetch(Key key) const noexcept { __builtin_prefetch(&entries_[slot(key)]); }

    std::uint32_t *find(Key key) noexcept
    {
        return const_cast<std::uint32_t *>(static_cast<const FlatMap &>(*this).find(key));
    }

    std::size_t size() const noexcept { return size_; }

  private:
    std::size_t slot(Key key) const noexcept
    {
        // Fibonacci hashing (the top bits of the product): consecutive OIDs
        // spread over the whole table.
        return static_cast<std::size_t>(static_cast<std::uint64_t>(key) * 0x9E3779B97F4A7C15ULL >>
                                        shift_);
    }

    struct Entry {
        Key key; // 0: empty
        std::uint32_t value;
    };

    void grow()
    {
        std::vector<Entry> old;
        old.swap(entries_);
        resize(old.size() * 2);
        for (const Entry &e : old)
            if (e.key != 0)
                insert(e.key, e.value);
    }

    void resize(std::size_t capacity) // a power of two, >= 16
    {
        entries_.assign(capacity, Entry{0, 0});
        mask_ = capacity - 1;
        shift_ = 64;
        for (std::size_t c = capacity; c > 1; c /= 2)
            shift_--;
        size_ = 0;
    }

    std::vector<Entry> entries_;
    std::size_t mask_ = 0;
    unsigned shift_ = 64;
    std::size_t size_ = 0;
};

using OidMap = FlatMap<std::uint32_t>;
using FileKeyMap = FlatMap<std::uint64_t>;

} // namespace schemahost
