// A flat hash map from non-zero 32-bit keys (OIDs, relfilenodes) to 32-bit
// values, for the full usage refresh. Pure C++: no PostgreSQL headers.
//
// Why not std::unordered_map: a full refresh looks up ~400,000 keys (every
// pg_class and pg_index row, every file of the database directory) in maps of
// 10,000-160,000 entries; the node-based map spent ~60 ms of a ~360 ms
// refresh chasing pointers. Open addressing with linear probing keeps a
// lookup to one or two cache lines, and find() never allocates, so the
// directory scan's helper threads may call it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace schemahost
{

class OidMap
{
  public:
    // Sized for `expected` keys at a load factor of at most 1/2.
    explicit OidMap(std::size_t expected)
    {
        std::size_t capacity = 16;
        while (capacity < expected * 2)
            capacity *= 2;
        resize(capacity);
    }

    // Adds key -> value unless key is 0 (the empty marker: InvalidOid, a
    // mapped relation's relfilenode) or already present; the first value
    // stays. Returns whether it was added. Grows when half full.
    bool insert(std::uint32_t key, std::uint32_t value)
    {
        if (key == 0)
            return false;
        if ((size_ + 1) * 2 > keys_.size())
            grow();
        std::size_t i = slot(key);
        while (keys_[i] != 0) {
            if (keys_[i] == key)
                return false;
            i = (i + 1) & mask_;
        }
        keys_[i] = key;
        values_[i] = value;
        size_++;
        return true;
    }

    // The value of key, or nullptr. Never allocates.
    const std::uint32_t *find(std::uint32_t key) const noexcept
    {
        if (key == 0)
            return nullptr;
        for (std::size_t i = slot(key);; i = (i + 1) & mask_) {
            if (keys_[i] == key)
                return &values_[i];
            if (keys_[i] == 0)
                return nullptr;
        }
    }

    std::uint32_t *find(std::uint32_t key) noexcept
    {
        return const_cast<std::uint32_t *>(static_cast<const OidMap &>(*this).find(key));
    }

    std::size_t size() const noexcept { return size_; }

  private:
    std::size_t slot(std::uint32_t key) const noexcept
    {
        // Fibonacci hashing (the top bits of the product): consecutive OIDs
        // spread over the whole table.
        return static_cast<std::size_t>(static_cast<std::uint64_t>(key) * 0x9E3779B97F4A7C15ULL >>
                                        shift_);
    }

    void grow()
    {
        std::vector<std::uint32_t> keys;
        std::vector<std::uint32_t> values;
        keys.swap(keys_);
        values.swap(values_);
        resize(keys.size() * 2);
        for (std::size_t i = 0; i < keys.size(); i++)
            if (keys[i] != 0)
                insert(keys[i], values[i]);
    }

    void resize(std::size_t capacity) // a power of two, >= 16
    {
        keys_.assign(capacity, 0);
        values_.assign(capacity, 0);
        mask_ = capacity - 1;
        shift_ = 64;
        for (std::size_t c = capacity; c > 1; c /= 2)
            shift_--;
        size_ = 0;
    }

    std::vector<std::uint32_t> keys_;
    std::vector<std::uint32_t> values_;
    std::size_t mask_ = 0;
    unsigned shift_ = 64;
    std::size_t size_ = 0;
};

} // namespace schemahost
