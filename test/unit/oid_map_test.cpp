// OidMap (extension/oid_map.hpp): the flat map of the full usage refresh.
#include "oid_map.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <unordered_map>

using schemahost::OidMap;

TEST(OidMap, FindsWhatWasInsertedAndNothingElse)
{
    OidMap m(4);
    EXPECT_TRUE(m.insert(16384, 7));
    EXPECT_TRUE(m.insert(16385, 8));
    ASSERT_NE(m.find(16384), nullptr);
    EXPECT_EQ(*m.find(16384), 7u);
    EXPECT_EQ(*m.find(16385), 8u);
    EXPECT_EQ(m.find(16386), nullptr);
    EXPECT_EQ(m.size(), 2u);
}

TEST(OidMap, ZeroIsNeverAKey)
{
    // 0 is InvalidOid and the relfilenode of mapped relations.
    OidMap m(4);
    EXPECT_FALSE(m.insert(0, 1));
    EXPECT_EQ(m.find(0), nullptr);
    EXPECT_EQ(m.size(), 0u);
}

TEST(OidMap, TheFirstValueOfAKeyStays)
{
    OidMap m(4);
    EXPECT_TRUE(m.insert(42, 1));
    EXPECT_FALSE(m.insert(42, 2));
    EXPECT_EQ(*m.find(42), 1u);
    EXPECT_EQ(m.size(), 1u);
}

TEST(OidMap, GrowsPastItsExpectedSizeAndAgreesWithStdMap)
{
    OidMap m(1);
    std::unordered_map<std::uint32_t, std::uint32_t> ref;
    // Consecutive OIDs (as relfilenodes are), some far apart, and the largest.
    for (std::uint32_t i = 0; i < 50000; i++) {
        std::uint32_t key = i % 2 ? 16384 + i : 0xFFFFFFFFu - i * 977u;
        bool added = ref.emplace(key, i).second;
        EXPECT_EQ(m.insert(key, i), added) << key;
    }
    EXPECT_EQ(m.size(), ref.size());
    for (const auto &[key, value] : ref) {
        const std::uint32_t *v = m.find(key);
        ASSERT_NE(v, nullptr) << key;
        EXPECT_EQ(*v, value) << key;
    }
    for (std::uint32_t key = 1; key < 16384; key++)
        EXPECT_EQ(m.find(key), nullptr) << key;
}

TEST(OidMap, AValueCanBeChangedInPlace)
{
    OidMap m(4);
    m.insert(7, 1);
    std::uint32_t *v = m.find(7);
    ASSERT_NE(v, nullptr);
    *v = 9;
    EXPECT_EQ(*static_cast<const OidMap &>(m).find(7), 9u);
    EXPECT_EQ(m.find(8), nullptr);
}
