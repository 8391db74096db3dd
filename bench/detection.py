#!/usr/bin/python3
"""Detection benchmark (docs/benchmarks.md): time from the write that crosses
a project's quota to the first refused write, and the overshoot in bytes, with
the default settings and refreshes at schemahostd's default interval (2 s).

The refresh cadence is driven here by a thread that calls
schemahost_refresh_usage() every --interval seconds, exactly what schemahostd
does, so the benchmark does not depend on the daemon binary. The writer is a
tenant session inserting ~100 kB per statement as fast as it can; after each
statement the true size is read with pg_total_relation_size to find the
crossing write."""

import argparse
import random
import threading
import time

import benchlib
import psycopg2
import psycopg2.errors

TRUE_SIZE = ("SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c "
             "WHERE c.relnamespace = 'det'::regnamespace AND c.relkind IN ('r','m','S')")


def refresher(c, interval, stop):
    conn = benchlib.connect(c)
    nxt = time.monotonic()
    with conn.cursor() as cur:
        while not stop.is_set():
            cur.execute("SELECT * FROM schemahost_refresh_usage()")
            cur.fetchall()
            nxt += interval
            stop.wait(max(0.0, nxt - time.monotonic()))
    conn.close()


def trial(c, admin, quota, rate_mb):
    tenant = benchlib.connect(c, "det")
    cross_at = None
    started = time.monotonic()
    written = 0
    with tenant.cursor() as t, admin.cursor() as a:
        while True:
            if rate_mb:
                # Throttled writer: about rate_mb MB/s (each statement ~100 kB).
                delay = started + written / (rate_mb * 1048576) - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            try:
                t.execute("INSERT INTO t (v) SELECT repeat(md5(random()::text), 30) FROM generate_series(1, 100)")
                written += 100 * 960
            except psycopg2.Error as e:
                # 53100: refused before it ran. 57014: it was running when the
                # refresh published the block, which cancels the project's
                # open writes (docs/quotas.md): stopped by the block too, and
                # rolled back.
                if e.pgcode not in ("53100", "57014"):
                    raise
                refused_at = time.monotonic()
                how = "refused" if e.pgcode == "53100" else "cancelled"
                break
            done = time.monotonic()
            a.execute(TRUE_SIZE)
            if cross_at is None and a.fetchone()[0] >= quota:
                cross_at = done
        a.execute(TRUE_SIZE)
        size = a.fetchone()[0]
        # The refresh that blocked the project cancels the project's running
        # writes right after publishing the block: a TRUNCATE started in that
        # instant is cancelled too, and simply retried.
        for _ in range(10):
            try:
                t.execute("TRUNCATE t")
                break
            except psycopg2.errors.QueryCanceled:
                time.sleep(0.1)
    tenant.close()
    return refused_at - cross_at, size - quota, how


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quota-mb", type=int, default=20)
    ap.add_argument("--interval", type=float, default=2.0)
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--rate-mb", type=float, default=0,
                    help="throttle the writer to about this many MB/s (0: as fast as it can)")
    args = ap.parse_args()
    quota = args.quota_mb * 1024 * 1024

    c = benchlib.cluster("detection", preload=True)
    stop = threading.Event()
    try:
        admin = benchlib.connect(c)
        with admin.cursor() as cur:
            cur.execute("CREATE EXTENSION schemahost")
            cur.execute("SELECT create_project_schema('det', storage_quota => %s)", (f"{args.quota_mb} MB",))
        tenant = benchlib.connect(c, "det")
        with tenant.cursor() as cur:
            cur.execute("CREATE TABLE t (id bigserial PRIMARY KEY, v text)")
        tenant.close()
        th = threading.Thread(target=refresher, args=(c, args.interval, stop))
        th.start()
        detections, overshoots = [], []
        rng = random.Random(7)
        for i in range(args.trials):
            # Released (TRUNCATE by the previous trial) before the next one.
            end = time.monotonic() + 30
            while time.monotonic() < end:
                with admin.cursor() as cur:
                    cur.execute("SELECT state FROM project_usage WHERE name = 'det'")
                    if cur.fetchone()[0] != "over":
                        break
                time.sleep(0.1)
            # Start at a random phase of the refresh cycle: the previous
            # trial ended right after a refresh.
            time.sleep(rng.uniform(0, args.interval))
            d, o, how = trial(c, admin, quota, args.rate_mb)
            detections.append(d)
            overshoots.append(o)
            print(f"trial {i + 1}: {how:9s} {d:5.2f} s after the crossing write, overshoot {o / 1048576:6.1f} MB")
        stop.set()
        th.join()
        print()
        rate = f"{args.rate_mb:g} MB/s" if args.rate_mb else "unthrottled"
        print(f"writer: {rate}")
        print(f"detection (refresh every {args.interval:g} s, quota {args.quota_mb} MB): "
              f"median {benchlib.median(detections):.2f} s, max {max(detections):.2f} s (target <= 2 s)")
        print(f"overshoot: median {benchlib.median(overshoots) / 1048576:.1f} MB, "
              f"max {max(overshoots) / 1048576:.1f} MB ({max(overshoots)} bytes)")
        admin.close()
    finally:
        stop.set()
        c.stop("immediate")
        c.remove()


if __name__ == "__main__":
    main()
