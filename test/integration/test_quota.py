"""Storage quotas against a real server: the block survives a restart, reaches
sessions that were open before the project went over, cancels writes already
running, never waits for a tenant's locks, cannot be evaded by the tenant, and
the SQL API works without the preload (enforcement off)."""

import ctypes
import os
import shutil
import tempfile
import threading
import time

import psycopg2
import psycopg2.errors

import harness

DEADLINE = 30  # seconds; conditions are polled, never assumed

# A 1 kB value that does not compress, for row g; with SLOWLY, at most one
# row per millisecond: a write that grows by ~1 MB/s until something stops it.
SLOW_ROW = "(SELECT string_agg(md5(g::text || '/' || i::text), '') FROM generate_series(1, 32) i)"
SLOWLY = "WHERE pg_sleep(0.001) IS NOT NULL"


def connect(cluster, user="postgres", autocommit=True):
    conn = psycopg2.connect(host=cluster.sock, port=cluster.port, user=user, dbname="postgres")
    conn.autocommit = autocommit
    return conn


def one(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchone()[0] if cur.description else None


def execute(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)


def inotify_available():
    """Whether this kernel lets a process watch a directory (CONFIG_INOTIFY_USER)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(0o2000000)  # IN_CLOEXEC
    if fd < 0:
        return False
    os.close(fd)
    return True


def wait_for(predicate, what, deadline=DEADLINE):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class QuotaTest(harness.ClusterTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = connect(cls.cluster)

    @classmethod
    def tearDownClass(cls):
        cls.admin.close()
        super().tearDownClass()

    def make_project(self, name, rows=2000):
        execute(self.admin, "SELECT create_project_schema(%s, storage_quota => '100 MB')", (name,))
        t = connect(self.cluster, name)
        # Autovacuum off: tests compare exact sizes, and a vacuum between the
        # expected size and the refresh would add visibility-map and FSM files.
        execute(t, "CREATE TABLE t (id serial PRIMARY KEY, v text) "
                   "WITH (autovacuum_enabled = off, toast.autovacuum_enabled = off)")
        execute(t, "INSERT INTO t (v) SELECT repeat('x', 100) FROM generate_series(1, %s)", (rows,))
        return t

    def make_over(self, name):
        execute(self.admin, "SELECT * FROM schemahost_refresh_usage()")
        execute(self.admin, "SELECT set_project_quota(%s, storage_quota => '8 kB')", (name,))
        self.assertEqual(one(self.admin, "SELECT state FROM project_usage WHERE name = %s", (name,)),
                         "over")

    def assert_refused(self, conn, sql, project):
        with self.assertRaises(psycopg2.Error) as cm:
            execute(conn, sql)
        self.assertEqual(cm.exception.pgcode, "53100", cm.exception.pgerror)
        self.assertIn(f'project "{project}" is over its storage quota', cm.exception.pgerror)

    def test_open_sessions_are_blocked_and_released(self):
        t = self.make_project("q_open")
        other = connect(self.cluster, "q_open")  # opened before the project goes over
        execute(other, "SELECT 1")
        self.make_over("q_open")
        self.assert_refused(other, "INSERT INTO t (v) VALUES ('late')", "q_open")
        self.assert_refused(t, "UPDATE t SET v = 'y' WHERE id = 1", "q_open")
        # Freeing space and a refresh release the project by themselves.
        execute(self.admin, "SELECT set_project_quota('q_open', storage_quota => '100 kB')")
        self.assertEqual(one(self.admin, "SELECT state FROM project_usage WHERE name = 'q_open'"),
                         "over")
        execute(t, "TRUNCATE t")
        execute(self.admin, "SELECT * FROM schemahost_refresh_usage()")
        self.assertEqual(one(self.admin, "SELECT state FROM project_usage WHERE name = 'q_open'"),
                         "ok")
        execute(other, "INSERT INTO t (v) VALUES ('again')")
        t.close()
        other.close()

    def test_vacuum_full_is_measured(self):
        t = self.make_project("q_vf", rows=5000)
        execute(t, "DELETE FROM t WHERE id % 2 = 0")
        execute(t, "VACUUM FULL t")
        used = one(self.admin, "SELECT used_bytes FROM schemahost_refresh_usage() WHERE project = 'q_vf'")
        expected = one(self.admin, "SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c "
                                   "WHERE c.relnamespace = 'q_vf'::regnamespace AND c.relkind IN ('r','m','S')")
        self.assertEqual(used, expected)
        t.close()

    def test_refresh_never_waits_for_tenant_locks(self):
        t = self.make_project("q_lock")
        locker = connect(self.cluster, "q_lock", autocommit=False)
        execute(locker, "LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
        execute(locker, "ALTER TABLE t ADD COLUMN extra integer")
        execute(t, "SELECT 1")
        execute(self.admin, "SET lock_timeout = '3s'")
        try:
            # The tenant's write marks the project; measuring it must not wait.
            execute(self.admin, "SELECT * FROM schemahost.quota_sync('q_lock')")
            n = one(self.admin, "SELECT count(*) FROM schemahost_refresh_usage(full => true) "
                                "WHERE project = 'q_lock'")
            self.assertEqual(n, 1)
            # And an open refresh transaction does not block the tenant's DDL.
            locker.rollback()
            refresher = connect(self.cluster, autocommit=False)
            execute(refresher, "SELECT * FROM schemahost_refresh_usage(full => true)")
            execute(t, "SET lock_timeout = '3s'")
            execute(t, "ALTER TABLE t ADD COLUMN extra2 integer")
            execute(t, "VACUUM FULL t")
            refresher.rollback()
            refresher.close()
        finally:
            execute(self.admin, "RESET lock_timeout")
            locker.close()
            t.close()

    def test_running_write_is_cancelled_when_over(self):
        t = self.make_project("q_cancel")
        writer = connect(self.cluster, "q_cancel", autocommit=False)
        execute(writer, "INSERT INTO t (v) VALUES ('holds an xid')")
        errors = []

        def long_statement():
            try:
                execute(writer, "SELECT pg_sleep(60)")
            except psycopg2.Error as e:
                errors.append(e)

        th = threading.Thread(target=long_statement)
        th.start()
        wait_for(lambda: one(self.admin, "SELECT count(*) FROM pg_stat_activity WHERE usename = 'q_cancel' "
                                         "AND state = 'active' AND backend_xid IS NOT NULL") == 1,
                 "the writer to be running")
        self.make_over("q_cancel")
        th.join(DEADLINE)
        self.assertFalse(th.is_alive(), "the running write was not cancelled")
        self.assertEqual(len(errors), 1)
        self.assertEqual(errors[0].pgcode, "57014")
        writer.rollback()
        self.assert_refused(writer, "INSERT INTO t (v) VALUES ('after')", "q_cancel")
        writer.close()
        t.close()

    def test_tenant_cannot_evade(self):
        t = self.make_project("q_evade")
        self.make_over("q_evade")
        for sql, code in (("SET ROLE postgres", "42501"),
                          ("SET SESSION AUTHORIZATION postgres", "42501"),
                          ("SET schemahost.release_percent = 50", "42501"),
                          ("SET session_replication_role = replica", "42501"),
                          ("ALTER ROLE q_evade SET schemahost.release_percent = 50", "42501"),
                          ("SELECT public.set_project_quota('q_evade', storage_quota => '1 GB')", "42501"),
                          ("SELECT public.schemahost_refresh_usage()", "42501"),
                          ("CREATE TEMP TABLE tt (a integer)", "42501"),
                          ("SELECT lo_create(0)", "42501")):
            with self.subTest(sql=sql):
                with self.assertRaises(psycopg2.Error) as cm:
                    execute(t, sql)
                self.assertEqual(cm.exception.pgcode, code, cm.exception.pgerror)
        # Creating elsewhere: refused (no privilege there, and over anyway).
        for sql in ("CREATE TABLE public.elsewhere (a integer)",
                    "SET search_path = public; CREATE TABLE elsewhere (a integer)"):
            with self.subTest(sql=sql):
                with self.assertRaises(psycopg2.Error) as cm:
                    execute(t, sql)
                self.assertIn(cm.exception.pgcode, ("42501", "53100"), cm.exception.pgerror)
        execute(t, "RESET search_path")
        self.assert_refused(t, "INSERT INTO t (v) VALUES ('still blocked')", "q_evade")
        t.close()

    def test_block_survives_restart(self):
        t = self.make_project("q_restart")
        self.make_over("q_restart")
        t.close()
        self.admin.close()
        self.cluster.restart()
        type(self).admin = connect(self.cluster)
        # The very first statement after the restart, before any refresh.
        t = connect(self.cluster, "q_restart")
        self.assert_refused(t, "INSERT INTO t (v) VALUES ('first write')", "q_restart")
        self.assertEqual(one(self.admin, "SELECT state FROM schemahost.quota_shared_state() "
                                         "WHERE project = 'q_restart'"), "over")
        # Temp tables stay refused right after the restart too (roles reloaded).
        with self.assertRaises(psycopg2.Error) as cm:
            execute(t, "CREATE TEMP TABLE tt (a integer)")
        self.assertEqual(cm.exception.pgcode, "42501")
        # The first refresh after the restart is a full one and keeps the state.
        execute(self.admin, "SELECT * FROM schemahost_refresh_usage()")
        self.assert_refused(t, "INSERT INTO t (v) VALUES ('second write')", "q_restart")
        t.close()


    def test_rolled_back_quota_change_leaves_no_trace(self):
        t = self.make_project("q_rollback")
        execute(self.admin, "SELECT * FROM schemahost_refresh_usage()")
        op = connect(self.cluster, autocommit=False)
        execute(op, "SELECT set_project_quota('q_rollback', storage_quota => '8 kB')")
        self.assertEqual(one(op, "SELECT state FROM schemahost.quota_shared_state() "
                                 "WHERE project = 'q_rollback'"), "over")
        op.rollback()
        self.assertEqual(one(self.admin, "SELECT state FROM schemahost.quota_shared_state() "
                                         "WHERE project = 'q_rollback'"), "ok")
        execute(t, "INSERT INTO t (v) VALUES ('after rollback')")
        # A committed change to another project writes the state file; the
        # rolled-back block must not be in it.
        other = self.make_project("q_rollback2", rows=10)
        self.make_over("q_rollback2")
        t.close()
        other.close()
        op.close()
        self.admin.close()
        self.cluster.restart()
        type(self).admin = connect(self.cluster)
        t = connect(self.cluster, "q_rollback")
        execute(t, "INSERT INTO t (v) VALUES ('after restart')")
        other = connect(self.cluster, "q_rollback2")
        self.assert_refused(other, "INSERT INTO t (v) VALUES ('x')", "q_rollback2")
        t.close()
        other.close()

    def test_refreshes_with_helper_threads(self):
        # Enough relations (at least 8,192, relation_files.cpp kThreadsFrom)
        # for the full refresh to start its fstatat helper threads, and far
        # more than the 512 forks from which an incremental measurement does:
        # each table has a main fork, a TOAST table and a TOAST index.
        # Batches of 500 tables keep the locks per transaction well under the
        # lock table's size.
        execute(self.admin, "SELECT create_project_schema('q_threads', storage_quota => '1 GB')")
        for first in range(0, 3000, 500):
            execute(self.admin, "DO $$ BEGIN FOR i IN %s .. %s LOOP "
                                "EXECUTE format('CREATE TABLE q_threads.t%%s (v text)', i); END LOOP; END $$"
                    % (first, first + 499))
        execute(self.admin, "INSERT INTO q_threads.t7 SELECT repeat('y', 100) FROM generate_series(1, 5000)")
        expected = one(self.admin, "SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c "
                                   "WHERE c.relnamespace = 'q_threads'::regnamespace AND c.relkind = 'r'")
        for threads in (4, 1):
            with self.subTest(threads=threads):
                execute(self.admin, f"SET schemahost.refresh_threads = {threads}")
                used = one(self.admin, "SELECT used_bytes FROM schemahost_refresh_usage(full => true) "
                                       "WHERE project = 'q_threads'")
                self.assertEqual(used, expected)
                # The incremental measurement of the same project (~24,000 forks to probe).
                used = one(self.admin, "SELECT bytes FROM schemahost._usage_measure("
                                       "ARRAY['q_threads'::regnamespace::oid], false)")
                self.assertEqual(used, expected)
        execute(self.admin, "RESET schemahost.refresh_threads")
        for first in range(0, 3000, 500):  # one DROP SCHEMA would need too many locks
            execute(self.admin, "DO $$ BEGIN FOR i IN %s .. %s LOOP "
                                "EXECUTE format('DROP TABLE q_threads.t%%s', i); END LOOP; END $$"
                    % (first, first + 499))
        execute(self.admin, "SELECT drop_project_schema('q_threads', purge => true)")

    def test_full_refreshes_follow_the_directory_through_their_watch(self):
        # A connection's first full refresh reads the database directory and
        # keeps the list with an inotify watch; the next ones apply what the
        # watch reports (files created, rewritten, dropped) instead. Each
        # must still match pg_total_relation_size exactly.
        if not inotify_available():
            self.skipTest("inotify is not available here (every full refresh reads the directory)")
        self.addCleanup(execute, self.admin, "SELECT drop_project_schema('q_watch', purge => true)")
        t = self.make_project("q_watch", rows=3000)
        self.addCleanup(t.close)
        r = connect(self.cluster)
        self.addCleanup(r.close)
        execute(r, "SET client_min_messages = debug1")

        def full_refresh():
            del r.notices[:]
            used = one(r, "SELECT used_bytes FROM schemahost_refresh_usage(full => true) "
                          "WHERE project = 'q_watch'")
            listed = [n for n in r.notices if "full usage refresh of" in n]
            self.assertEqual(len(listed), 1, r.notices)
            expected = one(self.admin, "SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c "
                                       "WHERE c.relnamespace = 'q_watch'::regnamespace "
                                       "AND c.relkind IN ('r', 'S', 'm')")
            self.assertEqual(used, expected)
            return listed[0]

        self.assertIn("listed by reading the directory", full_refresh())
        self.assertIn("listed by the previous one and its watch", full_refresh())
        steps = [
            "CREATE TABLE t2 (id serial PRIMARY KEY, v text) WITH (autovacuum_enabled = off)",
            "INSERT INTO t2 (v) SELECT md5(g::text) FROM generate_series(1, 5000) g",
            "CREATE MATERIALIZED VIEW m AS SELECT * FROM t2",
            "TRUNCATE t",  # new files for t, its TOAST table and indexes
            "INSERT INTO t (v) SELECT repeat('z', 300) FROM generate_series(1, 1000)",
            "VACUUM FULL t2",
            "VACUUM t",  # creates the visibility map and free space map
            "DROP MATERIALIZED VIEW m",
        ]
        for sql in steps:
            with self.subTest(sql=sql):
                execute(t, sql)
                self.assertIn("listed by the previous one and its watch", full_refresh())
        execute(self.admin, "CHECKPOINT")  # unlinks what the drops left until now
        self.assertIn("listed by the previous one and its watch", full_refresh())
        # Turned off: the directory is read every time, with the same result.
        execute(r, "SET schemahost.refresh_watch = off")
        self.assertIn("listed by reading the directory", full_refresh())
        self.assertIn("listed by reading the directory", full_refresh())
        execute(r, "RESET schemahost.refresh_watch")
        self.assertIn("listed by reading the directory", full_refresh())
        self.assertIn("listed by the previous one and its watch", full_refresh())

    def test_relations_in_another_tablespace_are_measured(self):
        # An operator moved a project's table (with its TOAST table) and its
        # primary key to another tablespace: both refreshes find their files
        # under pg_tblspc/ instead of the database directory.
        location = tempfile.mkdtemp(prefix="schemahost-ts-")
        self.addCleanup(shutil.rmtree, location, True)
        shutil.chown(location, "postgres", "postgres")
        execute(self.admin, "CREATE TABLESPACE q_space LOCATION %s", (location,))
        self.addCleanup(execute, self.admin, "DROP TABLESPACE IF EXISTS q_space")
        self.addCleanup(execute, self.admin, "SELECT drop_project_schema('q_ts', purge => true)")
        t = self.make_project("q_ts", rows=3000)
        self.addCleanup(t.close)
        execute(self.admin, "ALTER TABLE q_ts.t SET TABLESPACE q_space")
        execute(self.admin, "ALTER INDEX q_ts.t_pkey SET TABLESPACE q_space")
        # md5 text does not compress: these values go to the TOAST table.
        execute(t, "INSERT INTO t (v) SELECT string_agg(md5(g::text || '/' || i::text), '') "
                   "FROM generate_series(1, 200) g, generate_series(1, 100) i GROUP BY g")
        self.assertGreater(one(self.admin, "SELECT pg_relation_size(reltoastrelid) FROM pg_class "
                                           "WHERE oid = 'q_ts.t'::regclass"), 0)
        expected = one(self.admin, "SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c "
                                   "WHERE c.relnamespace = 'q_ts'::regnamespace AND c.relkind IN ('r', 'S')")
        self.assertGreater(one(self.admin, "SELECT count(*) FROM pg_class WHERE reltablespace = "
                                           "(SELECT oid FROM pg_tablespace WHERE spcname = 'q_space')"), 2)
        incremental = one(self.admin, "SELECT used_bytes FROM schemahost_refresh_usage() "
                                      "WHERE project = 'q_ts'")
        full = one(self.admin, "SELECT used_bytes FROM schemahost_refresh_usage(full => true) "
                               "WHERE project = 'q_ts'")
        self.assertEqual(incremental, expected)
        self.assertEqual(full, expected)

    def test_a_long_write_is_measured_while_it_runs(self):
        # One INSERT that keeps writing (~1 MB/s) across many refreshes: its
        # project must be measured on each of them, go over while it runs,
        # and have the statement cancelled. (0.1.0 measured it once, at the
        # refresh that cleared its written flag, and let it finish.)
        t = self.small_project_with_table("q_long")
        # 20 MB if nothing stops it, at least 20 s; the cancel ends it.
        self.assert_stopped_when_over(t, "q_long", f"INSERT INTO t SELECT g, {SLOW_ROW} "
                                                   f"FROM generate_series(1, 20000) g {SLOWLY}")

    def test_a_read_cancelled_while_over_keeps_its_own_message(self):
        # The quota's wording is for sessions the refresh cancels (an open
        # write); a read of an over project that someone cancels is PostgreSQL's
        # own "due to user request".
        t = self.make_project("q_readcancel", rows=10)
        self.addCleanup(execute, self.admin, "SELECT drop_project_schema('q_readcancel', purge => true)")
        self.addCleanup(t.close)
        self.make_over("q_readcancel")
        pid = one(t, "SELECT pg_backend_pid()")

        def cancel_when_sleeping():
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if one(self.admin, "SELECT coalesce(bool_or(pg_cancel_backend(pid)), false) "
                                   "FROM pg_stat_activity WHERE pid = %s AND wait_event = 'PgSleep'",
                       (pid,)):
                    return
                time.sleep(0.05)

        canceller = threading.Thread(target=cancel_when_sleeping)
        canceller.start()
        try:
            with self.assertRaises(psycopg2.errors.QueryCanceled) as cm:
                execute(t, "SELECT pg_sleep(10)")
        finally:
            canceller.join()
        self.assertEqual(cm.exception.diag.message_primary, "canceling statement due to user request")

    def assert_stopped_when_over(self, conn, project, sql, error=psycopg2.errors.QueryCanceled):
        """Runs sql, a long write, while refreshes run every 0.3 s: the refresh
        that finds the project over must end it (raising error) and leave the
        project over."""
        stop = self.refresher()
        try:
            with self.assertRaises(error) as cm:
                execute(conn, sql)
        finally:
            stop()
        self.assertEqual(one(self.admin, "SELECT state FROM project_usage WHERE name = %s", (project,)),
                         "over")
        if isinstance(cm.exception, psycopg2.errors.QueryCanceled):
            # The cancel says why (cancel_message.cpp), not "due to user request".
            diag = cm.exception.diag
            self.assertEqual(diag.message_primary,
                             f'canceling statement because project "{project}" is over its storage quota')
            self.assertIn("rolled back", diag.message_detail)
            self.assertIn("TRUNCATE or DROP", diag.message_hint)

    def small_project_with_table(self, name):
        """A project with a 2 MB quota and an empty table t; returns the
        tenant's connection. Dropped at the end of the test."""
        execute(self.admin, "SELECT create_project_schema(%s, storage_quota => '2 MB')", (name,))
        self.addCleanup(execute, self.admin, "SELECT drop_project_schema(%s, purge => true)", (name,))
        t = connect(self.cluster, name)
        self.addCleanup(t.close)
        execute(t, "CREATE TABLE t (id integer, v text) "
                   "WITH (autovacuum_enabled = off, toast.autovacuum_enabled = off)")
        return t

    def refresher(self, interval=0.3):
        """Runs schemahost_refresh_usage() every interval until the returned
        stop() is called."""
        stop = threading.Event()

        def refresh():
            conn = connect(self.cluster)
            while not stop.is_set():
                execute(conn, "SELECT * FROM schemahost_refresh_usage()")
                stop.wait(interval)
            conn.close()

        thread = threading.Thread(target=refresh)
        thread.start()

        def stop_it():
            stop.set()
            thread.join()
        return stop_it

    def used(self, project, full=False):
        """Runs a refresh and returns what it reported for project (None if
        it did not measure it)."""
        with self.admin.cursor() as cur:
            cur.execute("SELECT * FROM schemahost_refresh_usage(full => %s)", (full,))
            return dict(cur.fetchall()).get(project)

    def test_relations_of_an_open_transaction_are_counted(self):
        # The table exists only in the tenant's open transaction: its pg_class
        # row is uncommitted, its files are on disk and growing. (0.1.0 and
        # 0.1.1 before this fix saw nothing until the commit.)
        t = self.small_project_with_table("q_txn")
        t.autocommit = False
        execute(t, "CREATE TABLE big AS SELECT g, (SELECT string_agg(md5(g::text || '/' || i::text), '') "
                   "FROM generate_series(1, 8) i) AS v FROM generate_series(1, 20000) g")
        size = one(t, "SELECT pg_total_relation_size('big') + pg_total_relation_size('t')")
        self.assertGreater(size, 2 * 1024 * 1024)
        self.assertEqual(self.used("q_txn"), size)             # incremental
        self.assertEqual(self.used("q_txn", full=True), size)  # full
        self.assertEqual(one(self.admin, "SELECT state FROM project_usage WHERE name = 'q_txn'"), "over")
        # The transaction that pushed it over is refused its next write.
        self.assert_refused(t, "INSERT INTO big VALUES (0, 'x')", "q_txn")
        t.rollback()
        # Rolled back: the files are gone, and so is the usage.
        self.assertEqual(self.used("q_txn"), one(self.admin, "SELECT pg_total_relation_size('q_txn.t')"))
        self.assertEqual(one(self.admin, "SELECT state FROM project_usage WHERE name = 'q_txn'"), "ok")
        # Committed: measured the same way after the end of the transaction
        # (the commit flags the project again for the next refresh).
        execute(t, "CREATE TABLE small AS SELECT g FROM generate_series(1, 1000) g")
        t.commit()
        self.assertEqual(self.used("q_txn"),
                         one(self.admin, "SELECT pg_total_relation_size('q_txn.small') "
                                         "+ pg_total_relation_size('q_txn.t')"))

    def test_truncate_then_insert_in_an_open_transaction_counts_both_files(self):
        # TRUNCATE in a transaction gives the table new files; the old ones
        # stay on disk until the commit. Both count while it is open.
        t = self.small_project_with_table("q_trunc")
        execute(t, "INSERT INTO t SELECT g, repeat('x', 200) FROM generate_series(1, 2000) g")
        before = one(self.admin, "SELECT pg_total_relation_size('q_trunc.t')")
        self.assertEqual(self.used("q_trunc"), before)
        t.autocommit = False
        execute(t, "TRUNCATE t")
        execute(t, "INSERT INTO t SELECT g, repeat('y', 300) FROM generate_series(1, 1000) g")
        after = one(t, "SELECT pg_total_relation_size('t')")
        self.assertEqual(self.used("q_trunc"), before + after)
        self.assertEqual(self.used("q_trunc", full=True), before + after)
        t.commit()
        self.assertEqual(self.used("q_trunc"), after)

    def test_an_open_set_schema_leaves_the_bytes_where_they_are(self):
        # An operator moves a table between projects in an open transaction:
        # until it commits, the bytes stay with the project that has them
        # (one file, two pg_class rows: it is counted once).
        self.small_project_with_table("q_from")
        self.small_project_with_table("q_to")
        execute(self.admin, "INSERT INTO q_from.t SELECT g, repeat('x', 200) FROM generate_series(1, 2000) g")
        nsps = [one(self.admin, "SELECT %s::regnamespace::oid", (n,)) for n in ("q_from", "q_to")]
        measure = ("SELECT array_agg(bytes ORDER BY ord) FROM schemahost._usage_measure(%s::oid[], %s, %s::oid[]) "
                   "WITH ORDINALITY AS m(nsp, bytes, ord)")
        from_size = one(self.admin, "SELECT pg_total_relation_size('q_from.t')")
        to_size = one(self.admin, "SELECT pg_total_relation_size('q_to.t')")
        mover = connect(self.cluster, autocommit=False)
        self.addCleanup(mover.close)
        execute(mover, "ALTER TABLE q_from.t RENAME TO moved")
        mover.commit()
        execute(mover, "ALTER TABLE q_from.moved SET SCHEMA q_to")
        for full in (False, True):
            for dirty in ([], nsps):
                self.assertEqual(one(self.admin, measure, (nsps, full, dirty)), [from_size, to_size],
                                 f"full={full} in_progress={dirty}")
        mover.commit()
        for full in (False, True):
            self.assertEqual(one(self.admin, measure, (nsps, full, nsps)), [0, from_size + to_size],
                             f"committed, full={full}")

    def test_a_long_create_table_as_is_cancelled_when_over(self):
        # One CREATE TABLE AS that keeps writing (~1 MB/s) into a table only
        # its own transaction can see: the refreshes must count it and cancel
        # it once the project is over, long before it ends by itself.
        t = self.small_project_with_table("q_ctas")
        # At least 20 s if nothing stops it: the cancel is what ends it.
        self.assert_stopped_when_over(t, "q_ctas", f"CREATE TABLE big AS SELECT g, {SLOW_ROW} AS v "
                                                   f"FROM generate_series(1, 20000) g {SLOWLY}")

    def test_a_write_that_survives_the_cancel_is_terminated(self):
        # The statement's rows come from a function that catches the cancel
        # the refresh sends when the project goes over; a later refresh
        # terminates the session instead.
        t = self.small_project_with_table("q_swallow")
        execute(t, "CREATE FUNCTION slow_row(g integer) RETURNS text LANGUAGE plpgsql AS $$ "
                   "DECLARE v text; BEGIN "
                   "  BEGIN "
                   "    PERFORM pg_sleep(0.001); "
                   f"    v := {SLOW_ROW}; "
                   "  EXCEPTION WHEN query_canceled THEN v := 'swallowed'; "
                   "  END; "
                   "  RETURN v; "
                   "END $$")
        # ~1 MB/s if nothing stops it, for at least 60 s. Terminated (the
        # connection closes), or cancelled if the cancel landed outside the
        # handler.
        self.assert_stopped_when_over(t, "q_swallow",
                                      "INSERT INTO t SELECT g, slow_row(g) FROM generate_series(1, 60000) g",
                                      psycopg2.OperationalError)
        # One session ended, not the server: the operator's connection lives.
        self.assertEqual(one(self.admin, "SELECT 1"), 1)

    def test_tenant_cannot_alter_its_role(self):
        t = self.make_project("q_role")
        before = one(self.admin, "SELECT rolpassword FROM pg_authid WHERE rolname = 'q_role'")
        for sql in ("ALTER ROLE CURRENT_USER PASSWORD 'mine'",
                    "ALTER ROLE q_role SET statement_timeout = 0",
                    "ALTER ROLE CURRENT_USER RESET ALL",
                    "ALTER ROLE q_role RENAME TO q_role2"):
            with self.subTest(sql=sql):
                with self.assertRaises(psycopg2.Error) as cm:
                    execute(t, sql)
                self.assertEqual(cm.exception.pgcode, "42501", cm.exception.pgerror)
                self.assertIn('project "q_role" may not alter roles', cm.exception.pgerror)
                self.assertIn("reset_project_password('q_role')", cm.exception.pgerror)
        self.assertEqual(one(self.admin, "SELECT rolpassword FROM pg_authid WHERE rolname = 'q_role'"),
                         before)
        self.assertEqual(one(self.admin, "SELECT count(*) FROM pg_db_role_setting s "
                                         "JOIN pg_roles r ON r.oid = s.setrole WHERE r.rolname = 'q_role' "
                                         "AND 'statement_timeout=0' = ANY (s.setconfig)"), 0)
        execute(t, "SET statement_timeout = 0")  # a session's own settings stay free
        t.close()


class WithoutPreloadQuotaTest(harness.ClusterTestCase):
    """The SQL API works without the preload; nothing is enforced."""

    preload = False

    def test_sql_api_without_preload(self):
        admin = connect(self.cluster)
        self.assertFalse(one(admin, "SELECT schemahost.quota_enforcement_active()"))
        execute(admin, "SET client_min_messages = error")
        execute(admin, "SELECT create_project_schema('q_nopre', storage_quota => '8 kB')")
        t = connect(self.cluster, "q_nopre")
        execute(t, "CREATE TABLE t (id serial PRIMARY KEY, v text)")
        execute(t, "INSERT INTO t (v) SELECT repeat('x', 100) FROM generate_series(1, 500)")
        used = one(admin, "SELECT used_bytes FROM schemahost_refresh_usage() WHERE project = 'q_nopre'")
        self.assertGreater(used, 8192)
        self.assertEqual(one(admin, "SELECT state FROM project_usage WHERE name = 'q_nopre'"), "over")
        self.assertEqual(one(admin, "SELECT count(*) FROM schemahost.event "
                                    "WHERE project = 'q_nopre' AND kind = 'quota_over'"), 1)
        execute(t, "INSERT INTO t (v) VALUES ('not enforced')")
        t.close()
        admin.close()
