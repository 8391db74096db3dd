"""Shared pieces of the benchmarks: a throwaway cluster (scripts/pgcluster.py)
and small psycopg2 helpers. Run by Debian's /usr/bin/python3."""

import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import pgcluster  # noqa: E402
import psycopg2  # noqa: E402


def cluster(name, preload=True, conf=None, keep=False):
    """A cluster in /tmp/schemahost-bench-NAME (kept between runs when keep)."""
    root = os.path.join(tempfile.gettempdir(), f"schemahost-bench-{name}")
    c = pgcluster.Cluster(root, preload=preload, conf=conf or {})
    if c.exists() and keep:
        c.load_meta()
    else:
        if c.exists():
            c.stop("immediate")
            c.remove()
        c.init()
    if not c.running():
        c.start()
    return c


def set_preload(c, on):
    """Restarts the server with or without the library preloaded."""
    conn = connect(c)
    with conn.cursor() as cur:
        if on:
            cur.execute("ALTER SYSTEM SET shared_preload_libraries = 'schemahost'")
        else:
            cur.execute("ALTER SYSTEM RESET shared_preload_libraries")
    conn.close()
    c.restart()


def connect(c, user="postgres", dbname="postgres", autocommit=True):
    conn = psycopg2.connect(host=c.sock, port=c.port, user=user, dbname=dbname)
    conn.autocommit = autocommit
    return conn


def timed(conn, sql, args=None):
    """Seconds to run sql to completion (rows fetched)."""
    with conn.cursor() as cur:
        t0 = time.perf_counter()
        cur.execute(sql, args)
        if cur.description:
            cur.fetchall()
        return time.perf_counter() - t0


def median(xs):
    return statistics.median(xs)


def psql_file(c, path, user="postgres", dbname="postgres"):
    subprocess.run([os.path.join(c.bin, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", path],
                   env=c.env(user, dbname), check=True, stdout=subprocess.DEVNULL)
