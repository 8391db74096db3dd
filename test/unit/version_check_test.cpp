#include "version_check.hpp"

#include <gtest/gtest.h>

using schemahostd::check_compatibility;
using schemahostd::parse_version;

TEST(VersionCheck, ParsesMajorMinor)
{
    ASSERT_TRUE(parse_version("0.1.0"));
    EXPECT_EQ(parse_version("0.1.0")->major, 0);
    EXPECT_EQ(parse_version("0.1.0")->minor, 1);
    EXPECT_EQ(parse_version("12.34")->minor, 34);
    EXPECT_EQ(parse_version("1.2.3-dev")->minor, 2);
    EXPECT_EQ(parse_version("1.2beta1")->minor, 2);
    EXPECT_FALSE(parse_version(""));
    EXPECT_FALSE(parse_version("1"));
    EXPECT_FALSE(parse_version("1."));
    EXPECT_FALSE(parse_version("v1.2"));
    EXPECT_FALSE(parse_version(".1"));
    EXPECT_FALSE(parse_version("99999999999.1"));
}

TEST(VersionCheck, SameMajorMinorIsCompatible)
{
    EXPECT_TRUE(check_compatibility("0.1.0", "0.1.0", "db").ok);
    EXPECT_TRUE(check_compatibility("0.1.0", "0.1.7", "db").ok);
    EXPECT_TRUE(check_compatibility("1.4.2", "1.4", "db").ok);
}

TEST(VersionCheck, DifferentMinorIsNotAndSaysWhatToDo)
{
    const auto older_extension = check_compatibility("0.2.0", "0.1.0", "app");
    EXPECT_FALSE(older_extension.ok);
    EXPECT_NE(older_extension.message.find("0.2.0"), std::string::npos);
    EXPECT_NE(older_extension.message.find("0.1.0"), std::string::npos);
    EXPECT_NE(older_extension.message.find("\"app\""), std::string::npos);
    EXPECT_NE(older_extension.message.find("ALTER EXTENSION schemahost UPDATE"), std::string::npos);

    const auto newer_extension = check_compatibility("0.1.0", "0.2.3", "app");
    EXPECT_FALSE(newer_extension.ok);
    EXPECT_NE(newer_extension.message.find("0.2.3"), std::string::npos);
    EXPECT_NE(newer_extension.message.find("upgrade schemahostd to 0.2.x"), std::string::npos);
}

TEST(VersionCheck, DifferentMajorIsNot)
{
    EXPECT_FALSE(check_compatibility("1.1.0", "2.1.0", "db").ok);
    EXPECT_FALSE(check_compatibility("2.1.0", "1.1.0", "db").ok);
}

TEST(VersionCheck, UnparsableIsNot)
{
    const auto c = check_compatibility("0.1.0", "banana", "db");
    EXPECT_FALSE(c.ok);
    EXPECT_NE(c.message.find("banana"), std::string::npos);
}

TEST(VersionCheck, DaemonVersionComesFromTheControlFile)
{
    ASSERT_TRUE(parse_version(schemahostd::kDaemonVersion));
    EXPECT_TRUE(
        check_compatibility(schemahostd::kDaemonVersion, schemahostd::kDaemonVersion, "db").ok);
}
