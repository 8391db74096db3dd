// Tenant passwords: generated from the server's strong random source and
// handed to Postgres only as a SCRAM-SHA-256 verifier, never as SQL text.
#pragma once

#include <string>

namespace schemahost::password
{

// Characters a generated password is made of: URI-safe, so the connection URI
// needs no escaping and copy-paste never breaks.
constexpr const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
constexpr int alphabet_size = sizeof(alphabet) - 1;
// 32 characters of 62: about 190 bits.
constexpr int length = 32;

// Maps random bytes to password characters without modulo bias: bytes at or
// above the largest multiple of alphabet_size are skipped. Returns how many
// characters were appended to `out` (stops at `length`).
int append_unbiased(std::string &out, const unsigned char *bytes, int n);

// A fresh password from pg_strong_random().
std::string generate();

// Sets the role's password to the SCRAM verifier of `password` by building the
// ALTER ROLE parse node and calling AlterRole() directly: no statement text
// carries the password or its verifier, so neither log_statement nor
// pg_stat_statements can record it.
void set_role_password(const std::string &role, const std::string &password);

// Overwrites the characters of s before it is released.
void wipe(std::string &s);

} // namespace schemahost::password
