"""Two real sessions racing on one project name: exactly one wins, the other
gets a clean error, and nothing half-made is left. The first session holds its
transaction open until the second is seen waiting (pg_stat_activity), so the
overlap is certain rather than left to timing."""

import threading
import time

import psycopg2

import harness


def connect(cluster):
    conn = psycopg2.connect(host=cluster.sock, port=cluster.port, user="postgres", dbname="postgres")
    conn.autocommit = True
    return conn


class RaceTest(harness.ClusterTestCase):
    def setUp(self):
        self.a = connect(self.cluster)
        self.b = connect(self.cluster)
        self.watch = connect(self.cluster)
        for c in (self.a, self.b, self.watch):
            self.addCleanup(c.close)

    def one(self, sql, args=None):
        with self.watch.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchone()[0]

    def in_background(self, conn, sql):
        """Runs sql on conn in a thread; returns (thread, outcome dict)."""
        outcome = {}

        def run():
            try:
                with conn.cursor() as cur:
                    cur.execute(sql)
                outcome["ok"] = True
            except psycopg2.Error as e:
                outcome["error"] = e

        t = threading.Thread(target=run)
        t.start()
        return t, outcome

    def wait_until_blocked(self, conn, deadline=60):
        pid = conn.get_backend_pid()
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if self.one("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s", (pid,)):
                return
            time.sleep(0.05)
        self.fail(f"backend {pid} never waited for the lock")

    def race(self, first_sql, second_sql, commit_first=True):
        """first_sql runs in an open transaction on a; second_sql on b must
        wait for it; then a commits (or rolls back). Returns b's outcome."""
        self.a.autocommit = False
        with self.a.cursor() as cur:
            cur.execute(first_sql)
        t, outcome = self.in_background(self.b, second_sql)
        try:
            self.wait_until_blocked(self.b)
        finally:
            if commit_first:
                self.a.commit()
            else:
                self.a.rollback()
            self.a.autocommit = True
            t.join(120)
        self.assertFalse(t.is_alive())
        return outcome

    def counts(self, name):
        return (self.one("SELECT count(*) FROM pg_roles WHERE rolname = %s", (name,)),
                self.one("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (name,)),
                self.one("SELECT count(*) FROM schemahost.project WHERE name = %s", (name,)))

    def test_create_vs_create(self):
        out = self.race("SELECT create_project_schema('twin')", "SELECT create_project_schema('twin')")
        self.assertIn("error", out)
        self.assertEqual(out["error"].pgcode, "42710")
        self.assertIn('project "twin" already exists', str(out["error"]))
        self.assertEqual(self.counts("twin"), (1, 1, 1))

    def test_create_vs_create_first_rolls_back(self):
        out = self.race("SELECT create_project_schema('second_wins')",
                        "SELECT create_project_schema('second_wins')", commit_first=False)
        self.assertEqual(out, {"ok": True})
        self.assertEqual(self.counts("second_wins"), (1, 1, 1))

    def test_create_vs_plain_create_role(self):
        # A role created outside the API (no advisory lock) at the same time.
        out = self.race("CREATE ROLE outsider", "SELECT create_project_schema('outsider')")
        self.assertEqual(out["error"].pgcode, "42710", str(out.get("error")))
        self.assertEqual(self.counts("outsider"), (1, 0, 0))

    def test_create_vs_drop(self):
        out = self.race("SELECT create_project_schema('cd')", "SELECT drop_project_schema('cd', purge => true)")
        self.assertEqual(out, {"ok": True})
        self.assertEqual(self.counts("cd"), (0, 0, 0))

    def test_drop_vs_create(self):
        with self.watch.cursor() as cur:
            cur.execute("SELECT create_project_schema('dc')")
        out = self.race("SELECT drop_project_schema('dc', purge => true)", "SELECT create_project_schema('dc')")
        self.assertEqual(out, {"ok": True})  # the name was free again once the purge committed
        self.assertEqual(self.counts("dc"), (1, 1, 1))

    def test_drop_vs_drop(self):
        with self.watch.cursor() as cur:
            cur.execute("SELECT create_project_schema('dd')")
        out = self.race("SELECT drop_project_schema('dd')", "SELECT drop_project_schema('dd')")
        self.assertEqual(out["error"].pgcode, "55000")
        self.assertIn("already dropped", str(out["error"]))
        self.assertEqual(self.one("SELECT state FROM schemahost.project WHERE name = 'dd'"), "dropped")
        self.assertEqual(self.one("SELECT count(*) FROM schemahost.event WHERE project = 'dd' AND kind = 'dropped'"), 1)

    def test_purge_vs_purge(self):
        with self.watch.cursor() as cur:
            cur.execute("SELECT create_project_schema('pp')")
        out = self.race("SELECT drop_project_schema('pp', purge => true)",
                        "SELECT drop_project_schema('pp', purge => true)")
        self.assertEqual(out["error"].pgcode, "42704")
        self.assertEqual(self.counts("pp"), (0, 0, 0))
        self.assertEqual(self.one("SELECT count(*) FROM schemahost.event WHERE project = 'pp' AND kind = 'purged'"), 1)

    def test_many_free_running_creates(self):
        # No forced ordering: two sessions create the same ten names as fast as
        # they can; every name has exactly one winner.
        names = [f"free_{i}" for i in range(10)]
        results = {"a": [], "b": []}

        def worker(conn, key):
            for n in names:
                try:
                    with conn.cursor() as cur:
                        cur.execute("SELECT create_project_schema(%s)", (n,))
                    results[key].append((n, "ok"))
                except psycopg2.Error as e:
                    results[key].append((n, e.pgcode))

        ta = threading.Thread(target=worker, args=(self.a, "a"))
        tb = threading.Thread(target=worker, args=(self.b, "b"))
        ta.start(); tb.start(); ta.join(300); tb.join(300)
        for n in names:
            outcomes = sorted([o for (m, o) in results["a"] + results["b"] if m == n])
            self.assertEqual(outcomes, ["42710", "ok"], n)
            self.assertEqual(self.counts(n), (1, 1, 1))

    def test_create_vs_create_other_names(self):
        # Different names still share one catalog row (the database's ACL,
        # which GRANT CONNECT updates): the second must wait, then succeed,
        # not fail with "tuple concurrently updated".
        out = self.race("SELECT create_project_schema('left_one')",
                        "SELECT create_project_schema('right_one')")
        self.assertEqual(out, {"ok": True}, str(out.get("error")))
        self.assertEqual(self.counts("left_one"), (1, 1, 1))
        self.assertEqual(self.counts("right_one"), (1, 1, 1))

    def test_purge_vs_create_other_name(self):
        # DROP OWNED in a purge updates the same ACL row as a create's GRANT.
        with self.watch.cursor() as cur:
            cur.execute("SELECT create_project_schema('going')")
        out = self.race("SELECT drop_project_schema('going', purge => true)",
                        "SELECT create_project_schema('coming')")
        self.assertEqual(out, {"ok": True}, str(out.get("error")))
        self.assertEqual(self.counts("going"), (0, 0, 0))
        self.assertEqual(self.counts("coming"), (1, 1, 1))

    def test_many_free_running_creates_of_distinct_names(self):
        errors = []

        def worker(conn, prefix):
            for i in range(15):
                try:
                    with conn.cursor() as cur:
                        cur.execute("SELECT create_project_schema(%s)", (f"{prefix}_{i}",))
                except psycopg2.Error as e:
                    errors.append(f"{prefix}_{i}: {e.pgcode} {e}")

        ta = threading.Thread(target=worker, args=(self.a, "da"))
        tb = threading.Thread(target=worker, args=(self.b, "db"))
        ta.start(); tb.start(); ta.join(300); tb.join(300)
        self.assertEqual(errors, [])
        self.assertEqual(self.one("SELECT count(*) FROM schemahost.project WHERE name ~ '^d[ab]_'"), 30)
