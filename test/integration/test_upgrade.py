"""Versions and upgrade scripts against a real server: a database that
installed the released 0.1.0 reaches the current version with ALTER EXTENSION
schemahost UPDATE and keeps its projects; until then the library refuses to
pretend the versions match; a new installation reaches the same version
through PostgreSQL's update path and ends up with the same objects."""

import os
import re

import psycopg2
import psycopg2.errors

import harness

OLDEST = "0.1.0"  # the first released version: sql/0.1.0/

with open(os.path.join(harness.ROOT, "sql", "schemahost.control")) as f:
    VERSION = re.search(r"^default_version\s*=\s*'([^']+)'", f.read(), re.M).group(1)


def connect(cluster, dbname, user="postgres"):
    conn = psycopg2.connect(host=cluster.sock, port=cluster.port, user=user, dbname=dbname)
    conn.autocommit = True
    return conn


def rows(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall() if cur.description else None


def one(conn, sql, args=None):
    r = rows(conn, sql, args)
    return r[0][0] if r else None


# What an installation consists of, to compare an upgraded database with a
# fresh one: the extension's member objects, every function's definition
# (bodies, settings, privileges) and the columns of its tables.
SNAPSHOT = {
    "members": """
        SELECT pg_describe_object(d.classid, d.objid, d.objsubid)
          FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
         WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
           AND e.extname = 'schemahost'
         ORDER BY 1""",
    "functions": """
        SELECT p.oid::regprocedure::text, pg_get_functiondef(p.oid), coalesce(p.proacl::text, '')
          FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
          JOIN pg_extension e ON e.oid = d.refobjid
         WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
           AND e.extname = 'schemahost' AND p.prokind <> 'a'
         ORDER BY 1""",
    "columns": """
        SELECT c.oid::regclass::text, a.attname, format_type(a.atttypid, a.atttypmod),
               a.attnotnull, coalesce(pg_get_expr(ad.adbin, ad.adrelid), ''),
               coalesce(c.relacl::text, '')
          FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
          LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
          JOIN pg_depend d ON d.objid = c.oid AND d.classid = 'pg_class'::regclass
          JOIN pg_extension e ON e.oid = d.refobjid
         WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
           AND e.extname = 'schemahost' AND a.attnum > 0 AND NOT a.attisdropped
         ORDER BY 1, a.attnum""",
}


class UpgradeTest(harness.ClusterTestCase):
    create_extension = False

    def test_the_current_version_is_not_the_oldest(self):
        # Otherwise the tests below would not exercise any upgrade.
        self.assertNotEqual(VERSION, OLDEST)

    def test_plain_create_extension_installs_the_current_version(self):
        self.psql("CREATE DATABASE fresh_install")
        conn = connect(self.cluster, "fresh_install")
        try:
            rows(conn, "CREATE EXTENSION schemahost")
            self.assertEqual(
                one(conn, "SELECT extversion FROM pg_extension WHERE extname = 'schemahost'"), VERSION)
            self.assertEqual(rows(conn, "SELECT library_version, sql_version FROM schemahost_version()"),
                             [(VERSION, VERSION)])
            paths = {(s, t): p for s, t, p in rows(
                conn, "SELECT source, target, path FROM pg_extension_update_paths('schemahost')")}
            self.assertEqual(paths.get(("0.1.0", "0.1.1")), "0.1.0--0.1.1", paths)
            self.assertIsNotNone(paths.get((OLDEST, VERSION)), paths)
            self.assertTrue(paths[(OLDEST, VERSION)].startswith(OLDEST + "--"), paths)
            self.assertTrue(paths[(OLDEST, VERSION)].endswith("--" + VERSION), paths)
        finally:
            conn.close()

    def test_update_from_the_oldest_release_keeps_projects(self):
        self.psql("CREATE DATABASE from_oldest")
        conn = connect(self.cluster, "from_oldest")
        tenant = None
        try:
            rows(conn, f"CREATE EXTENSION schemahost VERSION '{OLDEST}'")
            self.assertEqual(
                one(conn, "SELECT extversion FROM pg_extension WHERE extname = 'schemahost'"), OLDEST)
            rows(conn, "SELECT create_project_schema('upgraded_blog', 'owner@example.com', '100 MB')")
            # Two events in the outbox (before the tenant connects: a
            # suspension ends its sessions).
            rows(conn, "SELECT suspend_project('upgraded_blog')")
            rows(conn, "SELECT resume_project('upgraded_blog')")
            events = rows(conn, "SELECT event_id, project, kind FROM schemahost.event ORDER BY id")
            self.assertEqual([e[2] for e in events], ["suspended", "resumed"])
            tenant = connect(self.cluster, "from_oldest", user="upgraded_blog")
            rows(tenant, "CREATE TABLE posts (id serial PRIMARY KEY, body text)")
            rows(tenant, "INSERT INTO posts (body) SELECT repeat('x', 200) FROM generate_series(1, 500)")
            before = rows(conn, """SELECT name, schema_oid, role_oid, state, owner_email,
                                          storage_quota_bytes, created_at
                                     FROM schemahost.project ORDER BY name""")
            self.assertEqual([r[0] for r in before], ["upgraded_blog"])

            # The library is already the new one: it refuses to answer until
            # the SQL is updated, and says how.
            with self.assertRaises(psycopg2.Error) as cm:
                rows(conn, "SELECT * FROM schemahost_version()")
            err = cm.exception
            self.assertEqual(err.pgcode, "55000", err.pgerror)
            self.assertIn(f"library version {VERSION} does not match the installed SQL version {OLDEST}",
                          err.diag.message_primary)
            self.assertIn("ALTER EXTENSION schemahost UPDATE", err.diag.message_hint or "")
            # So does the daemon (which goes through schemahost_version()).
            r = self.daemon("--once", "--dsn", self.cluster.dsn(dbname="from_oldest"))
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn("ALTER EXTENSION", r.stderr)

            rows(conn, "ALTER EXTENSION schemahost UPDATE")
            self.assertEqual(
                one(conn, "SELECT extversion FROM pg_extension WHERE extname = 'schemahost'"), VERSION)
            self.assertEqual(rows(conn, "SELECT library_version, sql_version FROM schemahost_version()"),
                             [(VERSION, VERSION)])

            # The project, its registry row and its data are untouched.
            self.assertEqual(rows(conn, """SELECT name, schema_oid, role_oid, state, owner_email,
                                                  storage_quota_bytes, created_at
                                             FROM schemahost.project ORDER BY name"""), before)
            self.assertEqual(one(tenant, "SELECT count(*) FROM posts"), 500)
            self.assertEqual(rows(conn, "SELECT event_id, project, kind FROM schemahost.event ORDER BY id"),
                             events)

            # The API works on the upgraded installation.
            rows(conn, "SELECT set_project_quota('upgraded_blog', storage_quota => '50 MB')")
            self.assertEqual(one(conn, "SELECT storage_quota_bytes FROM projects WHERE name = 'upgraded_blog'"),
                             50 * 1024 * 1024)
            measured = dict(rows(conn, "SELECT project, used_bytes FROM schemahost_refresh_usage(full => true)"))
            self.assertGreater(measured.get("upgraded_blog", 0), 100_000, measured)
            self.assertEqual(one(conn, "SELECT state FROM project_usage WHERE name = 'upgraded_blog'"), "ok")
            rows(conn, "SELECT create_project_schema('after_upgrade')")
            self.assertEqual([r[0] for r in rows(conn, "SELECT name FROM projects ORDER BY name")],
                             ["after_upgrade", "upgraded_blog"])
            r = self.daemon("--once", "--dsn", self.cluster.dsn(dbname="from_oldest"))
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn(f"schemahost {VERSION} (library {VERSION})", r.stdout)

            # Cleanup: the roles are cluster-wide.
            tenant.close()
            tenant = None
            rows(conn, "SELECT drop_project_schema('upgraded_blog', purge => true)")
            rows(conn, "SELECT drop_project_schema('after_upgrade', purge => true)")
        finally:
            if tenant is not None:
                tenant.close()
            conn.close()

    def test_upgraded_database_matches_a_fresh_install(self):
        self.psql("CREATE DATABASE snap_fresh")
        self.psql("CREATE DATABASE snap_upgraded")
        fresh = connect(self.cluster, "snap_fresh")
        upgraded = connect(self.cluster, "snap_upgraded")
        try:
            rows(fresh, "CREATE EXTENSION schemahost")
            rows(upgraded, f"CREATE EXTENSION schemahost VERSION '{OLDEST}'")
            rows(upgraded, "ALTER EXTENSION schemahost UPDATE")
            for what, sql in SNAPSHOT.items():
                a = rows(fresh, sql)
                b = rows(upgraded, sql)
                self.assertTrue(a, f"no {what} found")
                self.assertEqual(b, a, f"{what} differ between an upgraded and a fresh installation")
        finally:
            fresh.close()
            upgraded.close()
