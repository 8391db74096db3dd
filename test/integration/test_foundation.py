"""schemahostd --once against a real server: healthy, and each failure mode
gives one clear line and the documented exit code."""

import os
import re

import harness

# The version this build is: default_version of the control file.
with open(os.path.join(harness.ROOT, "sql", "schemahost.control")) as f:
    VERSION = re.search(r"^default_version\s*=\s*'([^']+)'", f.read(), re.M).group(1)


class OnceTest(harness.ClusterTestCase):
    def test_ok(self):
        r = self.daemon("--once", "--dsn", self.cluster.dsn())
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("ok", r.stdout)
        self.assertIn(VERSION, r.stdout)
        self.assertEqual(len(r.stdout.strip().splitlines()), 1, r.stdout)

    def test_pg_env_vars_work_like_psql(self):
        env = {"PGHOST": self.cluster.sock, "PGPORT": str(self.cluster.port),
               "PGUSER": "postgres", "PGDATABASE": "postgres"}
        r = self.daemon("--once", env=env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_server_down(self):
        port = harness.pgcluster.free_port()
        r = self.daemon("--once", "--dsn", f"host=127.0.0.1 port={port} user=postgres dbname=postgres")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)

    def test_extension_missing(self):
        self.psql("CREATE DATABASE noext")
        r = self.daemon("--once", "--dsn", self.cluster.dsn(dbname="noext"))
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("not installed", r.stderr)

    def test_version_mismatch(self):
        self.psql("CREATE DATABASE mismatch")
        self.psql("CREATE EXTENSION schemahost", dbname="mismatch")
        self.psql("UPDATE pg_extension SET extversion = '0.0.9' WHERE extname = 'schemahost'",
                  dbname="mismatch")
        r = self.daemon("--once", "--dsn", self.cluster.dsn(dbname="mismatch"))
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("ALTER EXTENSION", r.stderr)

    def test_authentication_failure(self):
        self.psql("CREATE ROLE someone LOGIN PASSWORD 'right-password'")
        dsn = f"host=127.0.0.1 port={self.cluster.port} user=someone password=wrong-password dbname=postgres"
        r = self.daemon("--once", "--dsn", dsn)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("authentication", r.stderr)
        self.assertNotIn("wrong-password", r.stderr + r.stdout)

    def test_bad_configuration_exits_2(self):
        for args, name in ((["--interval", "0"], "interval"),
                           (["--no-such-option"], "no-such-option"),
                           (["--dsn", "host=x = = bad"], "dsn")):
            r = self.daemon("--once", *args)
            self.assertEqual(r.returncode, 2, f"{args}: {r.stdout}{r.stderr}")
            self.assertIn(name, r.stderr)

    def test_help_and_version(self):
        r = self.daemon("--help")
        self.assertEqual(r.returncode, 0)
        for opt in ("--dsn", "--config", "--once", "--interval", "--log-format"):
            self.assertIn(opt, r.stdout)
        r = self.daemon("--version")
        self.assertEqual(r.returncode, 0)
        self.assertIn(VERSION, r.stdout)


class WithoutPreloadTest(harness.ClusterTestCase):
    """The SQL API works when the library is not preloaded."""

    preload = False

    def test_version_without_preload(self):
        out = self.psql("SELECT library_version = sql_version FROM schemahost_version()").stdout
        self.assertEqual(out.strip(), "t")
