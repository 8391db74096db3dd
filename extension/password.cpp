#include "password.hpp"

#include "error.hpp"
#include "pg.hpp"
#include "pg_guard.hpp"

#include <string.h>

namespace schemahost::password
{

int append_unbiased(std::string &out, const unsigned char *bytes, int n)
{
    constexpr int limit = (256 / alphabet_size) * alphabet_size;
    int added = 0;
    for (int i = 0; i < n && static_cast<int>(out.size()) < length; i++) {
        if (bytes[i] >= limit)
            continue;
        out.push_back(alphabet[bytes[i] % alphabet_size]);
        added++;
    }
    return added;
}

std::string generate()
{
    std::string out;
    out.reserve(length);
    unsigned char buf[64];
    // Each round keeps ~97% of the bytes; a handful of rounds always suffices.
    for (int round = 0; static_cast<int>(out.size()) < length; round++) {
        if (round > 100 || !pg_strong_random(buf, sizeof(buf)))
            throw Error("XX000", "could not generate a random password")
                .detail("pg_strong_random() failed.")
                .hint("Check the server's source of randomness (OpenSSL or /dev/urandom).");
        append_unbiased(out, buf, sizeof(buf));
    }
    explicit_bzero(buf, sizeof(buf));
    return out;
}

void set_role_password(const std::string &role, const std::string &password)
{
    const char *r = role.c_str();
    const char *pw = password.c_str();
    pg_call([r, pw] {
        char *secret = pg_be_scram_build_secret(pw);
        RoleSpec *spec = makeNode(RoleSpec);
        spec->roletype = ROLESPEC_CSTRING;
        spec->rolename = pstrdup(r);
        spec->location = -1;
        AlterRoleStmt *stmt = makeNode(AlterRoleStmt);
        stmt->role = spec;
        stmt->action = +1;
        stmt->options =
            list_make1(makeDefElem(pstrdup("password"), (Node *)makeString(secret), -1));
        ParseState *pstate = make_parsestate(nullptr);
        AlterRole(pstate, stmt);
        free_parsestate(pstate);
        CommandCounterIncrement();
    });
}

void wipe(std::string &s)
{
    if (!s.empty())
        explicit_bzero(&s[0], s.size());
}

} // namespace schemahost::password
