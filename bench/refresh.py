#!/usr/bin/python3
"""Refresh benchmark (docs/benchmarks.md): 10,000 projects x 3 tables with
serial keys and indexes; 1% of the projects written between refreshes.

Compares, on the same data in the same run:
  - schemahost_refresh_usage()              (incremental)
  - schemahost_refresh_usage(full => true)  (full reconcile)
  - the same with schemahost.refresh_threads = 1 (no helper thread), and
    the full one with schemahost.refresh_watch = off (it reads the database
    directory every time instead of keeping its file list current through
    an inotify watch)
  - the baseline: sum(pg_total_relation_size(c.oid)) GROUP BY schema
and shows that neither refresh takes a lock on a tenant relation.
"""

import argparse
import glob
import hashlib
import os
import random
import subprocess
import sys
import tempfile
import time

import benchlib
import psycopg2.errors  # noqa: F401  (benchlib.psycopg2.errors)

BASELINE = ("SELECT n.nspname, sum(pg_total_relation_size(c.oid)) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','m') GROUP BY 1")
FULL_ONE_THREAD = ("SET schemahost.refresh_threads = 1; "
                   "SELECT * FROM schemahost_refresh_usage(full => true)")
HERE = os.path.dirname(os.path.abspath(__file__))


def build(c, projects, batch, jobs):
    conn = benchlib.connect(c)
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_extension WHERE extname = 'schemahost'")
        if cur.fetchone()[0] == 0:
            cur.execute("CREATE EXTENSION schemahost")
        cur.execute("ALTER EXTENSION schemahost UPDATE")  # a kept data set may be older
        cur.execute("SELECT count(*) FROM schemahost.project")
        have = cur.fetchone()[0]
    conn.close()
    if have >= projects:
        print(f"data set: reusing {have} projects")
        return
    t0 = time.perf_counter()
    batches = [(f, min(f + batch - 1, projects)) for f in range(have + 1, projects + 1, batch)]
    running = []
    for first, last in batches:
        while len(running) >= jobs:
            running = [p for p in running if p.poll() is None]
            time.sleep(0.05)
        running.append(subprocess.Popen(
            [os.path.join(c.bin, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
             "-v", f"first={first}", "-v", f"last={last}", "-f", os.path.join(HERE, "refresh_dataset.sql")],
            env=c.env(), stdout=subprocess.DEVNULL))
    for p in running:
        if p.wait() != 0:
            sys.exit("building the data set failed")
    if any(p.returncode for p in running):
        sys.exit("building the data set failed")
    conn = benchlib.connect(c)
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    conn.close()
    print(f"data set: built {projects - have} projects in {time.perf_counter() - t0:.0f} s")


def stat_floor(c, conn, runs=5):
    """Medians (ms) of readdir + one fstatat per file of the benchmark's
    database directory and nothing else, on 1 and on 2 threads
    (bench/stat_floor.c): the least a file-based full refresh must pay."""
    exe = os.path.join(benchlib.ROOT, "build", "bench", "stat_floor")
    os.makedirs(os.path.dirname(exe), exist_ok=True)
    subprocess.run(["gcc", "-O2", "-pthread", "-o", exe, os.path.join(HERE, "stat_floor.c")], check=True)
    with conn.cursor() as cur:
        cur.execute("SELECT oid FROM pg_database WHERE datname = current_database()")
        directory = os.path.join(c.data, "base", str(cur.fetchone()[0]))
    times = {1: [], 2: []}
    for _ in range(runs):
        for threads in times:
            out = subprocess.run([exe, directory, str(threads)], check=True, capture_output=True,
                                 text=True).stdout.split()
            times[threads].append(float(out[1]) + float(out[2]))
    return int(out[0]), {t: benchlib.median(v) for t, v in times.items()}


def incremental_with_open_writers(c, warm, projects):
    """Seconds of an incremental refresh (in the warm connection) while each
    of projects has a transaction of its own role open that has written: the
    refresh reads those projects' catalog rows with a dirty snapshot."""
    # The data set registers projects without roles; give these one (once),
    # as create_project_schema would, so that their sessions are theirs.
    admin = benchlib.connect(c)
    with admin.cursor() as cur:
        for name in projects:
            cur.execute("SELECT role_oid IS NULL FROM schemahost.project WHERE name = %s", (name,))
            if cur.fetchone()[0]:
                cur.execute(f"CREATE ROLE {name} LOGIN")
                cur.execute(f"GRANT USAGE ON SCHEMA {name} TO {name}")
                cur.execute(f"GRANT INSERT ON {name}.tags TO {name}")
                cur.execute(f"GRANT USAGE ON SEQUENCE {name}.tags_id_seq TO {name}")
                cur.execute("UPDATE schemahost.project SET role_oid = %s::regrole WHERE name = %s", (name, name))
                cur.execute("SELECT schemahost.quota_sync(%s)", (name,))
    admin.close()
    writers = []
    try:
        for name in projects:
            w = benchlib.connect(c, user=name, autocommit=False)
            writers.append(w)
            with w.cursor() as cur:
                cur.execute(f"INSERT INTO {name}.tags (name) VALUES ('open')")
        with warm.cursor() as cur:
            t0 = time.perf_counter()
            cur.execute("SELECT * FROM schemahost_refresh_usage()")
            measured = len(cur.fetchall())
            seconds = time.perf_counter() - t0
        if measured < len(projects):
            sys.exit(f"the refresh measured {measured} projects, expected at least {len(projects)}")
        return seconds
    finally:
        for w in writers:
            w.commit()
            w.close()


def private_mb(pid):
    """A backend's anonymous resident memory, or '?' where /proc does not say."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return f"{int(line.split()[1]) / 1024:.0f} MB"
    except OSError:
        pass
    return "?"


def waits_for_tenant_lock(c, conn, sql):
    """True when sql cannot finish while a tenant holds ACCESS EXCLUSIVE on
    one of its tables (lock_timeout 1 s)."""
    locker = benchlib.connect(c, autocommit=False)
    with locker.cursor() as cur:
        cur.execute("LOCK TABLE p1.posts IN ACCESS EXCLUSIVE MODE")
    try:
        with conn.cursor() as cur:
            cur.execute("SET lock_timeout = '1s'")
            try:
                cur.execute(sql)
                cur.fetchall()
                return False
            except benchlib.psycopg2.errors.LockNotAvailable:
                return True
            finally:
                cur.execute("RESET lock_timeout")
    finally:
        locker.rollback()
        locker.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--projects", type=int, default=10000)
    ap.add_argument("--written-percent", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1,
                    help="untimed rounds first: a kept data set read back after a pause starts cold "
                         "(measured: incremental 49 ms in the first round, 26 ms by the fifth)")
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--keep", action="store_true",
                    help="keep the cluster and data set in /tmp/schemahost-bench-refresh for the next run")
    args = ap.parse_args()
    if args.warmup < 0 or args.rounds < 1:
        ap.error("--warmup must be 0 or more and --rounds 1 or more")

    # A kept cluster has the extension's SQL of the run that built it, and
    # ALTER EXTENSION UPDATE does nothing while the version number is the
    # same: rebuild when the SQL scripts changed since.
    sql_hash = hashlib.sha256(b"".join(
        open(f, "rb").read() for f in sorted(glob.glob(os.path.join(benchlib.ROOT, "sql", "**", "*.sql"),
                                                     recursive=True)))).hexdigest()
    root = os.path.join(tempfile.gettempdir(), "schemahost-bench-refresh")
    marker = os.path.join(root, "sql.sha256")
    keep = args.keep
    if keep and os.path.isdir(root) and (not os.path.exists(marker) or open(marker).read() != sql_hash):
        print("data set: the extension's SQL changed since it was built; building it anew")
        keep = False
    c = benchlib.cluster("refresh", preload=True, keep=keep,
                         conf={"max_locks_per_transaction": "256", "autovacuum": "off"})
    with open(marker, "w") as f:
        f.write(sql_hash)
    try:
        build(c, args.projects, args.batch, args.jobs)
        conn = benchlib.connect(c)
        with conn.cursor() as cur:  # room for a writer per written project (a kept cluster may be older)
            cur.execute("SHOW max_connections")
            if int(cur.fetchone()[0]) < 200:
                cur.execute("ALTER SYSTEM SET max_connections = 200")
                conn.close()
                c.restart()
                conn = benchlib.connect(c)
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_class")
            nrel = cur.fetchone()[0]
            cur.execute("SELECT count(*), pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_class c "
                        "WHERE c.relnamespace IN (SELECT schema_oid FROM schemahost.project) AND c.relkind = 'r'")
            ntab, size = cur.fetchone()
            cur.execute("SELECT name FROM schemahost.project ORDER BY name")
            names = [r[0] for r in cur.fetchall()]
        print(f"pg_class: {nrel} relations; {len(names)} projects, {ntab} tables, {size}")

        benchlib.timed(conn, "SELECT * FROM schemahost_refresh_usage(full => true)")  # prime
        n_written = max(1, int(len(names) * args.written_percent / 100))
        # Each statement is timed twice: in a new connection (what a cron job
        # or monitoring query sees) and in a connection of its own that has
        # already run it: the refreshes in one (as schemahostd keeps its
        # connection), the baseline in another (a monitoring agent's), which
        # then holds a relcache entry for every relation, ~80 kB per project.
        # One connection for both would make the refreshes pay for the
        # baseline's bloated backend (measured: +20-40 %).
        series = {k: [] for k in ("inc_new", "inc_warm", "inc1_warm", "inc_open", "full_new", "full_warm",
                                  "full1_new", "full1_warm", "fullread_warm", "base_new", "base_warm")}
        rng = random.Random(42)
        warm = benchlib.connect(c)
        warm_base = benchlib.connect(c)
        benchlib.timed(warm_base, BASELINE)
        benchlib.timed(warm, "SELECT * FROM schemahost_refresh_usage(full => true)")

        def fresh(sql):
            nc = benchlib.connect(c)
            t = benchlib.timed(nc, sql)
            nc.close()
            return t

        for r in range(-args.warmup, args.rounds):
            for name in rng.sample(names, n_written):
                benchlib.timed(conn, f"INSERT INTO {name}.tags (name) VALUES ('new')")
            with warm.cursor() as cur:
                t0 = time.perf_counter()
                cur.execute("SELECT * FROM schemahost_refresh_usage()")
                measured = len(cur.fetchall())
                series["inc_warm"].append(time.perf_counter() - t0)
            for name in rng.sample(names, n_written):  # the same without helper threads
                benchlib.timed(conn, f"INSERT INTO {name}.tags (name) VALUES ('new')")
            benchlib.timed(warm, "SET schemahost.refresh_threads = 1")
            series["inc1_warm"].append(benchlib.timed(warm, "SELECT * FROM schemahost_refresh_usage()"))
            benchlib.timed(warm, "RESET schemahost.refresh_threads")
            for name in rng.sample(names, n_written):
                benchlib.timed(conn, f"INSERT INTO {name}.tags (name) VALUES ('new')")
            series["inc_new"].append(fresh("SELECT * FROM schemahost_refresh_usage()"))
            series["inc_open"].append(incremental_with_open_writers(c, warm, rng.sample(names, n_written)))
            benchlib.timed(warm, "SELECT * FROM schemahost_refresh_usage()")  # their commits flagged them again
            # A project also creates and drops a table: the directory changes
            # between full refreshes, as it does on any instance in use (the
            # watch reports the names; reading it again would cost ~40 ms).
            ddl = rng.choice(names)
            benchlib.timed(conn, f"CREATE TABLE {ddl}.bench_ddl (id serial PRIMARY KEY, t text)")
            benchlib.timed(conn, f"DROP TABLE {ddl}.bench_ddl")
            series["base_new"].append(fresh(BASELINE))
            series["base_warm"].append(benchlib.timed(warm_base, BASELINE))
            series["full_new"].append(fresh("SELECT * FROM schemahost_refresh_usage(full => true)"))
            series["full_warm"].append(benchlib.timed(warm, "SELECT * FROM schemahost_refresh_usage(full => true)"))
            series["full1_new"].append(fresh(FULL_ONE_THREAD))
            benchlib.timed(warm, "SET schemahost.refresh_threads = 1")
            series["full1_warm"].append(benchlib.timed(warm, "SELECT * FROM schemahost_refresh_usage(full => true)"))
            benchlib.timed(warm, "RESET schemahost.refresh_threads")
            benchlib.timed(warm, "SET schemahost.refresh_watch = off")
            series["fullread_warm"].append(benchlib.timed(warm, "SELECT * FROM schemahost_refresh_usage(full => true)"))
            benchlib.timed(warm, "RESET schemahost.refresh_watch")
            benchlib.timed(warm, "SELECT * FROM schemahost_refresh_usage(full => true)")  # sets the watch again
            if r < 0:  # a warm-up round: its times are not kept
                for v in series.values():
                    v.pop()
                print(f"warm-up round {r + args.warmup + 1} of {args.warmup} (not counted)")
                continue
            print(f"round {r + 1}: incremental {series['inc_new'][-1] * 1000:6.1f} / {series['inc_warm'][-1] * 1000:6.1f} ms "
                  f"({measured} projects measured; {series['inc_open'][-1] * 1000:6.1f} ms warm with their "
                  f"transactions open), full {series['full_new'][-1] * 1000:6.1f} / "
                  f"{series['full_warm'][-1] * 1000:6.1f} ms, full 1 thread {series['full1_new'][-1] * 1000:6.1f} / "
                  f"{series['full1_warm'][-1] * 1000:6.1f} ms, full reading the directory "
                  f"{series['fullread_warm'][-1] * 1000:6.1f} ms, baseline {series['base_new'][-1] * 1000:7.1f} / "
                  f"{series['base_warm'][-1] * 1000:7.1f} ms   (new connection / warm connection)")
        # What "warm" costs the baseline's backend: a relcache entry for every
        # relation it has summed, kept for the life of the connection. The
        # refreshes' backend also keeps the file list of its watch, malloc()ed
        # outside PostgreSQL's memory contexts: its private memory shows it.
        cache_mb = {}
        rss_mb = {}
        for label, wc in (("baseline", warm_base), ("refreshes", warm)):
            with wc.cursor() as cur:
                cur.execute("SELECT sum(total_bytes), pg_backend_pid() FROM pg_backend_memory_contexts")
                total, pid = cur.fetchone()
                cache_mb[label] = total / 1048576
                rss_mb[label] = private_mb(pid)
        warm.close()
        warm_base.close()

        m = {k: benchlib.median(v) for k, v in series.items()}
        print()
        print(f"medians, {n_written} of {len(names)} projects written between refreshes "
              f"(new connection / warm connection):")
        print(f"  incremental refresh: {m['inc_new'] * 1000:7.1f} / {m['inc_warm'] * 1000:7.1f} ms")
        print(f"  incremental, 1 thread (schemahost.refresh_threads = 1): {m['inc1_warm'] * 1000:7.1f} ms warm")
        print(f"  incremental, the {n_written} writers' transactions still open (dirty catalog reads): "
              f"{m['inc_open'] * 1000:7.1f} ms warm")
        print(f"  full refresh:        {m['full_new'] * 1000:7.1f} / {m['full_warm'] * 1000:7.1f} ms")
        print(f"  full, 1 thread:      {m['full1_new'] * 1000:7.1f} / {m['full1_warm'] * 1000:7.1f} ms")
        print(f"  full, reading the directory (schemahost.refresh_watch = off): "
              f"{m['fullread_warm'] * 1000:7.1f} ms warm")
        print(f"  baseline:            {m['base_new'] * 1000:7.1f} / {m['base_warm'] * 1000:7.1f} ms")
        print(f"ratio baseline / incremental: {m['base_new'] / m['inc_new']:6.1f}x new connection, "
              f"{m['base_warm'] / m['inc_warm']:6.1f}x warm   (target >= 50x)")
        print(f"ratio baseline / incremental with open writers: {m['base_warm'] / m['inc_open']:6.1f}x warm")
        print(f"ratio baseline / full:        {m['base_new'] / m['full_new']:6.1f}x new connection, "
              f"{m['base_warm'] / m['full_warm']:6.1f}x warm   (target >= 4x)")
        print(f"memory of the warm connections' backends (pg_backend_memory_contexts): baseline "
              f"{cache_mb['baseline']:.0f} MB, refreshes {cache_mb['refreshes']:.0f} MB; private (RssAnon): "
              f"baseline {rss_mb['baseline']}, refreshes {rss_mb['refreshes']}")
        print(f"ratio baseline / full 1 thread: {m['base_new'] / m['full1_new']:4.1f}x new connection, "
              f"{m['base_warm'] / m['full1_warm']:6.1f}x warm   (schemahost.refresh_threads = 1)")
        print(f"ratio baseline / full reading the directory: {m['base_warm'] / m['fullread_warm']:6.1f}x warm"
              f"   (schemahost.refresh_watch = off; a new connection's first full refresh reads it too)")
        files, floor = stat_floor(c, conn)
        print(f"bare file-system pass ({files} files: readdir, then one fstatat each; no catalog, no SQL): "
              f"{floor[1]:.1f} ms on 1 thread, {floor[2]:.1f} ms on 2 threads")
        print(f"  baseline / bare pass on 2 threads: "
              f"{m['base_new'] / (floor[2] / 1000):.1f}x new connection, "
              f"{m['base_warm'] / (floor[2] / 1000):.1f}x warm")
        benchlib.timed(conn, "INSERT INTO p1.posts (user_id, body) VALUES (1, 'x')")
        wi = waits_for_tenant_lock(c, conn, "SELECT * FROM schemahost_refresh_usage()")
        wf = waits_for_tenant_lock(c, conn, "SELECT * FROM schemahost_refresh_usage(full => true)")
        wb = waits_for_tenant_lock(c, conn, BASELINE)
        yn = {True: "yes", False: "no"}
        print(f"waits for a tenant's ACCESS EXCLUSIVE lock: incremental {yn[wi]}, full {yn[wf]}, "
              f"baseline {yn[wb]}")
        conn.close()
    finally:
        if not args.keep:
            c.stop("immediate")
            c.remove()


if __name__ == "__main__":
    main()
