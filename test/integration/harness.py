"""Shared pieces of the integration tests: a real PostgreSQL cluster per test
class (scripts/pgcluster.py) and the real schemahostd binary."""

import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import pgcluster  # noqa: E402

DAEMON = os.path.join(ROOT, "build", "daemon", "schemahostd")


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
        e = dict(os.environ)
        for k in list(e):
            if k.startswith("SCHEMAHOSTD_") or k.startswith("PG"):
                del e[k]
        if env:
            e.update(env)
        return subprocess.run([DAEMON, *args], capture_output=True, text=True, timeout=timeout,
                              env=e)
