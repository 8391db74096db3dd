"""Shared pieces of the integration tests: a real PostgreSQL cluster per test
class (scripts/pgcluster.py) and the real schemahostd binary."""

import os
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import pgcluster  # noqa: E402

DAEMON = os.path.join(ROOT, "build", "daemon", "schemahostd")


def wait_for(cond, timeout=60.0, what="condition", interval=0.1):
    """Polls cond() until it returns something true, which it returns; fails
    the test after timeout seconds. Never assumes how fast the machine is."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def daemon_env(extra=None):
    """The environment for schemahostd: ours without libpq's PG* and the
    daemon's SCHEMAHOSTD_* variables (the tests pass what they mean) and
    without proxies (the alert peers are on loopback)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PG", "SCHEMAHOSTD_")) and "proxy" not in k.lower()}
    if extra:
        env.update(extra)
    return env


class ClusterTestCase(unittest.TestCase):
    """Starts one throwaway cluster for the class; removes it afterwards."""

    preload = True
    create_extension = True

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="schemahost-it-")
        os.chmod(cls.tmp, 0o755)
        cls.cluster = pgcluster.Cluster(cls.tmp, preload=cls.preload)
        try:
            cls.cluster.init()
            cls.cluster.start()
            if cls.create_extension:
                cls.cluster.psql("CREATE EXTENSION schemahost")
        except Exception:
            cls.cluster.stop("immediate")
            cls.cluster.remove()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop("immediate")
        cls.cluster.remove()

    def psql(self, sql, **kw):
        return self.cluster.psql(sql, **kw)

    def daemon(self, *args, timeout=60, env=None):
        """Runs schemahostd to completion; returns CompletedProcess."""
        return subprocess.run([DAEMON, *args], capture_output=True, text=True, timeout=timeout,
                              env=daemon_env(env))
