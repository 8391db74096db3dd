#!/usr/bin/python3
"""Write-path benchmark (docs/benchmarks.md): pgbench TPC-B-like and
select-only, run as a project's role in its schema, with 1,000 other projects,
on the same server and data with schemahost preloaded (enforcement on) and
without it (baseline). Runs alternate between the two to spread noise."""

import argparse
import os
import re
import subprocess
import sys
import time

import benchlib

TPS = re.compile(r"tps = ([0-9.]+) \(without initial connection time\)")
TXNS = re.compile(r"number of transactions actually processed: ([0-9]+)")
TICK = os.sysconf("SC_CLK_TCK")


def reaped_children_cpu(c):
    """CPU seconds (user + system) of the postmaster's exited children."""
    with open(os.path.join(c.data, "postmaster.pid")) as f:
        pid = f.readline().strip()
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / TICK  # cutime, cstime


def pgbench(c, args, user):
    """(tps, backend CPU microseconds per transaction). The CPU time is that
    of pgbench's server backends, read from the postmaster once they exited:
    unlike tps it hardly moves when other jobs share the machine."""
    before = reaped_children_cpu(c)
    r = subprocess.run([os.path.join(c.bin, "pgbench"), *args], env=c.env(user),
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"pgbench failed: {r.stderr}")
    m, n = TPS.search(r.stdout), TXNS.search(r.stdout)
    if not m or not n:
        sys.exit(f"no tps in pgbench output: {r.stdout}")
    conn = benchlib.connect(c)
    with conn.cursor() as cur:
        for _ in range(200):
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s", (user,))
            if cur.fetchone()[0] == 0:
                break
            time.sleep(0.05)
    conn.close()
    time.sleep(0.2)  # the postmaster reaps its children asynchronously
    cpu = reaped_children_cpu(c) - before
    return float(m.group(1)), cpu * 1e6 / int(n.group(1))


def setup(c, others, scale):
    conn = benchlib.connect(c)
    with conn.cursor() as cur:
        cur.execute("CREATE EXTENSION schemahost")
        cur.execute("SET client_min_messages = warning")
        cur.execute("SELECT count(*) FROM generate_series(1, %s) g, "
                    "LATERAL create_project_schema('other' || g) p", (others,))
        cur.execute("SELECT create_project_schema('bench', storage_quota => '20 GB', max_connections => 20)")
    subprocess.run([os.path.join(c.bin, "pgbench"), "-i", "-q", "-s", str(scale)], env=c.env("bench"),
                   check=True, capture_output=True)
    with conn.cursor() as cur:
        cur.execute("SELECT * FROM schemahost_refresh_usage(full => true)")
        cur.execute("SELECT count(*) FROM schemahost.quota_shared_state()")
        print(f"projects in shared memory: {cur.fetchone()[0]}")
    conn.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--others", type=int, default=1000)
    ap.add_argument("--scale", type=int, default=10)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--clients", type=int, default=4)
    args = ap.parse_args()

    c = benchlib.cluster("writepath", preload=True)
    try:
        setup(c, args.others, args.scale)
        results = {(mode, on): [] for mode in ("tpcb", "select") for on in (True, False)}
        cpu_us = {(mode, on): [] for mode in ("tpcb", "select") for on in (True, False)}
        order = [True, False]
        for r in range(args.rounds):
            for on in order:
                benchlib.set_preload(c, on)
                conn = benchlib.connect(c)
                with conn.cursor() as cur:
                    cur.execute("SELECT schemahost.quota_enforcement_active()")
                    active = cur.fetchone()[0]
                    if on:
                        # After a restart the first refresh fills shared memory.
                        cur.execute("SELECT * FROM schemahost_refresh_usage()")
                conn.close()
                assert active == on, "preload setting did not take"
                common = ["-n", "-c", str(args.clients), "-j", "2", "-T", str(args.seconds)]
                pgbench(c, ["-n", "-S", "-c", str(args.clients), "-j", "2", "-T", "3"], "bench")  # warm-up
                for mode, extra in (("tpcb", []), ("select", ["-S"])):
                    tps, cpu = pgbench(c, common + extra, "bench")
                    results[(mode, on)].append(tps)
                    cpu_us[(mode, on)].append(cpu)
                    print(f"round {r + 1} {'schemahost' if on else 'baseline  '} {mode:6s}: {tps:9.1f} tps, "
                          f"{cpu:6.1f} us backend CPU per transaction")
            order.reverse()
        print()
        # Other load on the machine drifts over minutes: compare the two runs
        # of each round (adjacent in time, order alternating) and take the
        # median of those ratios, besides the ratio of the medians.
        for mode in ("tpcb", "select"):
            ons, offs = results[(mode, True)], results[(mode, False)]
            on, off = benchlib.median(ons), benchlib.median(offs)
            paired = benchlib.median([a / b for a, b in zip(ons, offs)])
            print(f"{mode:6s}: median {on:9.1f} tps with schemahost, {off:9.1f} tps without; "
                  f"ratio of medians {on / off:.3f}, median of per-round ratios {paired:.3f} "
                  f"(target >= 0.98)")
            con, coff = benchlib.median(cpu_us[(mode, True)]), benchlib.median(cpu_us[(mode, False)])
            print(f"{'':6s}  backend CPU per transaction: median {con:.1f} us with schemahost, {coff:.1f} us "
                  f"without; throughput ratio at equal CPU {coff / con:.3f}")
    finally:
        c.stop("immediate")
        c.remove()


if __name__ == "__main__":
    main()
