#!/usr/bin/python3
"""Write-path benchmark (docs/benchmarks.md): pgbench TPC-B-like and
select-only, run as a project's role in its own schema, on two servers that
run side by side, built from identical initdb'd clusters with the same
settings and the same pgbench data:

  schemahost  shared_preload_libraries = 'schemahost', CREATE EXTENSION,
              1,000 other projects made by create_project_schema(), the
              pgbench tables in project `bench` (owned by its role);
  baseline    no preload, no extension; the same 1,001 schemas and login
              roles made by plain SQL (the DDL create_project_schema runs),
              the pgbench tables in schema `bench` owned by role `bench`.

Two measures:

1. Instructions per transaction (callgrind): each server in turn is started
   under `valgrind --tool=callgrind` (autovacuum off on both), and one pgbench
   client runs a fixed number of transactions with a fixed random seed, twice
   (N1 and N2 transactions). Counting starts when a backend enters
   PostgresMain, so a backend's count is its whole life (connection start,
   the transactions, exit); (I(N2) - I(N1)) / (N2 - N1) is the cost of one
   transaction with the connection cost cancelled out. Instruction counts do
   not depend on the load of the machine. (Only the backend is counted, not
   pgbench: relative to a whole transaction the overhead is smaller still.)

2. Throughput (tps): many short pgbench runs, the two servers alternating
   (A B, then B A, ...), each pair of adjacent runs giving one ratio; the
   median of those per-pair ratios is reported, with their spread. Besides tps
   each run reports the CPU time of the server's exited children per
   transaction (pgbench's backends, plus any autovacuum worker that exited in
   the run), which moves less with the load than tps does.

--simultaneous runs the two servers' pgbench runs of a pair at the same time
(sharing the cores) instead of one after the other: both then see the same
background load, which on a shared machine moves tps more than the effect
being measured.

--aa builds both servers as baselines: a control run that shows the bias and
the noise of the method itself.
"""

import argparse
import datetime
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

import benchlib
import pgcluster

TPS = re.compile(r"tps = ([0-9.]+) \(without initial connection time\)")
TXNS = re.compile(r"number of transactions actually processed: ([0-9]+)")
TICK = os.sysconf("SC_CLK_TCK")
MODES = (("tpcb", []), ("select", ["-S"]))
BENCH = "bench"  # the project, its role and its schema


def library_identity():
    """mtime and sha1 of the installed schemahost.so: others may reinstall it
    while the benchmark runs, and a server loads it when it starts."""
    import hashlib
    libdir = subprocess.check_output(["pg_config", "--pkglibdir"], text=True).strip()
    path = os.path.join(libdir, "schemahost.so")
    with open(path, "rb") as f:
        digest = hashlib.sha1(f.read()).hexdigest()[:12]
    mtime = datetime.datetime.fromtimestamp(os.stat(path).st_mtime).astimezone().isoformat(timespec="seconds")
    return f"{path} sha1 {digest} installed {mtime}"


def log(msg=""):
    print(msg, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class Server:
    def __init__(self, label, extension, conf):
        self.label = label
        self.extension = extension
        self.c = benchlib.cluster(f"writepath-{label}", preload=extension, conf=conf)
        self.monitor = None

    def connect_monitor(self):
        """A connection kept open: its backend never exits during a measurement."""
        if self.monitor is not None:
            self.monitor.close()
        self.monitor = benchlib.connect(self.c)

    def query(self, sql, args=None):
        with self.monitor.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall() if cur.description else None

    def after_start(self):
        """Checks the server is what its label says; fills the quota state of
        the shared memory the way schemahostd's first refresh does."""
        self.connect_monitor()
        preload = self.query("SHOW shared_preload_libraries")[0][0]
        has_ext = self.query("SELECT count(*) FROM pg_extension WHERE extname = 'schemahost'")[0][0] == 1
        if self.extension:
            assert preload == "schemahost" and has_ext, (preload, has_ext)
            self.query("SELECT count(*) FROM schemahost_refresh_usage()")
            assert self.query("SELECT schemahost.quota_enforcement_active()")[0][0] is True
        else:
            assert preload == "" and not has_ext, (preload, has_ext)

    def pgbench(self, args, check=True):
        r = subprocess.run([os.path.join(self.c.bin, "pgbench"), *args], env=self.c.env(BENCH),
                           capture_output=True, text=True)
        if check and r.returncode != 0:
            sys.exit(f"pgbench failed on {self.label}: {r.stderr}")
        return r

    def stop(self):
        if self.monitor is not None:
            self.monitor.close()
            self.monitor = None
        self.c.stop()


# -- setup ----------------------------------------------------------------------

BASELINE_PROJECT_SQL = """
DO $do$
DECLARE
    v text;
BEGIN
    FOR i IN 1..%(others)s + 1 LOOP
        v := CASE WHEN i <= %(others)s THEN 'other' || i ELSE %(bench)s END;
        EXECUTE format('CREATE SCHEMA %%I', v);
        EXECUTE format('REVOKE ALL ON SCHEMA %%I FROM PUBLIC', v);
        EXECUTE format('CREATE ROLE %%I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS '
                       'CONNECTION LIMIT %%s', v, CASE WHEN i <= %(others)s THEN 5 ELSE 20 END);
        EXECUTE format('GRANT USAGE, CREATE ON SCHEMA %%I TO %%I', v, v);
        EXECUTE format('GRANT CONNECT ON DATABASE %%I TO %%I', current_database(), v);
        EXECUTE format('ALTER ROLE %%I SET search_path = %%I', v, v);
        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %%I REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC', v);
        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %%I REVOKE USAGE ON TYPES FROM PUBLIC', v);
    END LOOP;
END
$do$
"""


def setup(s, others, scale):
    s.connect_monitor()
    if s.extension:
        s.query("CREATE EXTENSION schemahost")
        s.query("SET client_min_messages = warning")
        s.query("SELECT count(*) FROM generate_series(1, %s) g, LATERAL create_project_schema('other' || g) p",
                (others,))
        s.query("SELECT count(*) FROM create_project_schema(%s, storage_quota => '20 GB', max_connections => 20)",
                (BENCH,))
    else:
        s.query(BASELINE_PROJECT_SQL, {"others": others, "bench": BENCH})
    s.pgbench(["-i", "-q", "-s", str(scale)])
    owner = s.query("SELECT n.nspname, pg_get_userbyid(c.relowner) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = 'pgbench_accounts'")
    assert owner == [(BENCH, BENCH)], f"{s.label}: pgbench_accounts is {owner}"
    s.query("CHECKPOINT")
    shape = s.query("SELECT (SELECT count(*) FROM pg_namespace), (SELECT count(*) FROM pg_roles WHERE rolcanlogin), "
                    "(SELECT count(*) FROM pg_class), pg_size_pretty(pg_database_size(current_database()))")[0]
    s.after_start()
    extra = ""
    if s.extension:
        extra = f", {s.query('SELECT count(*) FROM schemahost.quota_shared_state()')[0][0]} projects in shared memory"
    log(f"{s.label:10s}: {shape[0]} schemas, {shape[1]} login roles, {shape[2]} relations, {shape[3]}{extra}")


# -- instructions per transaction (callgrind) -----------------------------------

def callgrind_summary(path):
    with open(path) as f:
        for line in f:
            if line.startswith("summary:"):
                return int(line.split()[1])
    return None


def wait_ready(s, proc, deadline_s=180):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"postgres under valgrind exited with {proc.returncode}, see {s.c.root}/valgrind.log")
        r = subprocess.run([os.path.join(s.c.bin, "pg_isready"), "-q", "-h", s.c.sock, "-p", str(s.c.port)])
        if r.returncode == 0:
            return
        time.sleep(0.5)
    sys.exit(f"postgres under valgrind not ready after {deadline_s} s")


def backend_instructions(s, outdir, args, deadline_s=300):
    """Instructions of the backend that ran pgbench's transactions. pgbench
    opens two connections (one reads the scale, one runs the clients); both
    backends exit with pgbench and callgrind writes one file per process."""
    before = set(os.listdir(outdir))
    s.pgbench(args)
    deadline = time.monotonic() + deadline_s
    while True:
        new = sorted(set(os.listdir(outdir)) - before)
        counts = [callgrind_summary(os.path.join(outdir, n)) for n in new]
        if len(new) >= 2 and None not in counts:
            break
        if time.monotonic() > deadline:
            sys.exit(f"callgrind files of the pgbench backends did not appear: {new}")
        time.sleep(0.5)
    if len(new) != 2:
        sys.exit(f"expected the files of 2 exited backends, found {len(new)}: {new}")
    return max(counts)


def callgrind_phase(s, n_tpcb, n_select, reps):
    """{mode: [instructions per transaction, one per repetition]}."""
    s.stop()
    outdir = os.path.join(s.c.root, "callgrind")
    shutil.rmtree(outdir, ignore_errors=True)
    os.makedirs(outdir)
    user = pgcluster.ensure_server_user()
    if os.geteuid() == 0:
        shutil.chown(outdir, user)
    prefix = ["runuser", "-u", user, "--"] if os.geteuid() == 0 else []
    with open(os.path.join(s.c.root, "valgrind.log"), "w") as vlog:
        proc = subprocess.Popen(prefix + ["valgrind", "--tool=callgrind", "--collect-atstart=no",
                                          "--toggle-collect=PostgresMain",
                                          f"--callgrind-out-file={outdir}/callgrind.out.%p",
                                          os.path.join(s.c.bin, "postgres"), "-D", s.c.data,
                                          "-c", "autovacuum=off"],
                                stdout=vlog, stderr=subprocess.STDOUT)
    result = {}
    try:
        wait_ready(s, proc)
        s.after_start()
        for mode, extra in MODES:
            n2 = n_tpcb if mode == "tpcb" else n_select
            n1 = n2 // 10
            result[mode] = []
            for rep in range(reps):
                base = ["-n", "-c", "1", "-j", "1", *extra]
                i1 = backend_instructions(s, outdir, base + ["-t", str(n1), f"--random-seed={101 + rep}"])
                i2 = backend_instructions(s, outdir, base + ["-t", str(n2), f"--random-seed={201 + rep}"])
                per = (i2 - i1) / (n2 - n1)
                result[mode].append(per)
                log(f"  callgrind {s.label:10s} {mode:6s} rep {rep + 1}: {i1} instructions for {n1} transactions, "
                    f"{i2} for {n2}: {per:,.0f} per transaction")
    finally:
        s.stop()
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            s.c.stop("immediate")
            proc.wait(timeout=60)
        shutil.rmtree(outdir, ignore_errors=True)
    s.c.start()
    s.after_start()
    return result


# -- throughput ------------------------------------------------------------------

def postmaster_pid(s):
    with open(os.path.join(s.c.data, "postmaster.pid")) as f:
        return int(f.readline())


def reaped_children_cpu(pid):
    """CPU seconds (user + system) of the exited, reaped children of pid."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / TICK  # cutime, cstime


def timed_runs(jobs, clients):
    """Runs pgbench on each (server, args) of jobs at the same time; for each,
    (tps, exited-children CPU microseconds per transaction)."""
    started = []
    for s, args in jobs:
        pm = postmaster_pid(s)
        before = reaped_children_cpu(pm)
        proc = subprocess.Popen([os.path.join(s.c.bin, "pgbench"), *args], env=s.c.env(BENCH),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started.append((s, pm, before, proc, set()))
    while any(proc.poll() is None and len(pids) < clients for _, _, _, proc, pids in started):
        time.sleep(0.3)
        for s, _, _, proc, pids in started:
            if proc.poll() is None:
                pids |= {r[0] for r in s.query("SELECT pid FROM pg_stat_activity WHERE usename = %s "
                                                "AND application_name = 'pgbench'", (BENCH,))}
    results = []
    for s, pm, before, proc, pids in started:
        out, err = proc.communicate()
        if proc.returncode != 0:
            sys.exit(f"pgbench failed on {s.label}: {err}")
        m, n = TPS.search(out), TXNS.search(out)
        if not m or not n:
            sys.exit(f"no tps in pgbench output: {out}")
        # The postmaster adds a child's CPU time to its own cutime when it reaps it.
        deadline = time.monotonic() + 30
        while any(os.path.exists(f"/proc/{p}") for p in pids):
            if time.monotonic() > deadline:
                sys.exit(f"backends {pids} of {s.label} did not exit")
            time.sleep(0.05)
        time.sleep(0.1)
        cpu = reaped_children_cpu(pm) - before
        results.append((float(m.group(1)), cpu * 1e6 / int(n.group(1))))
    return results


def quartiles(xs):
    if len(xs) < 2:
        return xs[0], xs[0]
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], q[2]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--others", type=int, default=1000, help="projects besides the benchmarked one")
    ap.add_argument("--scale", type=int, default=10, help="pgbench scale factor")
    ap.add_argument("--seconds", type=int, default=12, help="length of one timed run")
    ap.add_argument("--rounds", type=int, default=8, help="timed pairs per workload")
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--callgrind-tpcb", type=int, default=2000,
                    help="transactions per callgrind run, TPC-B-like (a run of a tenth as many is subtracted)")
    ap.add_argument("--callgrind-select", type=int, default=5000, help="the same for select-only")
    ap.add_argument("--callgrind-reps", type=int, default=2, help="repetitions of the callgrind measurement")
    ap.add_argument("--no-callgrind", action="store_true")
    ap.add_argument("--aa", action="store_true",
                    help="control run: both servers are baselines (no preload, no extension), to show "
                         "the bias and noise of the method itself")
    ap.add_argument("--simultaneous", action="store_true",
                    help="run each pair's two pgbench runs at the same time instead of one after the "
                         "other, so both servers see the same background load (they share the cores)")
    args = ap.parse_args()

    started = time.monotonic()
    log(f"write_path: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}, "
        f"load average {loadavg()}, {os.cpu_count()} CPUs")
    log(f"pgbench -s {args.scale} -c {args.clients} -j {args.threads}, {args.others} other projects, "
        f"{args.rounds} pairs x {args.seconds} s per workload")
    lib = library_identity()
    log(f"library: {lib}")
    conf = {"shared_buffers": "'256MB'"}
    servers = []
    try:
        # Both clusters exist and run for the whole benchmark.
        ext = Server("baseline-a" if args.aa else "schemahost", not args.aa, conf)
        servers.append(ext)
        base = Server("baseline-b" if args.aa else "baseline", False, conf)
        servers.append(base)
        for s in servers:
            setup(s, args.others, args.scale)

        instr = {}
        if not args.no_callgrind:
            log("\ninstructions per transaction (callgrind, 1 client, fixed seed, autovacuum off):")
            for s in servers:
                instr[s.label] = callgrind_phase(s, args.callgrind_tpcb, args.callgrind_select,
                                                 args.callgrind_reps)

        log("\nwarm-up")
        for s in servers:
            for _, extra in MODES:
                s.pgbench(["-n", "-c", str(args.clients), "-j", str(args.threads), "-T", "5", *extra])

        how = "both servers at once" if args.simultaneous else "order alternates per round"
        log(f"\ntimed runs ({args.seconds} s each; {how}), load average {loadavg()}:")
        runs = {(mode, s.label): [] for mode, _ in MODES for s in servers}
        for r in range(args.rounds):
            order = servers if r % 2 == 0 else servers[::-1]
            for mode, extra in MODES:
                line = []
                pgbench = ["-n", "-c", str(args.clients), "-j", str(args.threads), "-T", str(args.seconds),
                           *extra]
                if args.simultaneous:
                    results = timed_runs([(s, pgbench) for s in order], args.clients)
                else:
                    results = [timed_runs([(s, pgbench)], args.clients)[0] for s in order]
                for s, (tps, cpu) in zip(order, results):
                    runs[(mode, s.label)].append((tps, cpu))
                    line.append(f"{s.label} {tps:8.1f} tps {cpu:6.1f} us")
                e, b = runs[(mode, ext.label)][-1], runs[(mode, base.label)][-1]
                log(f"  round {r + 1:2d} {mode:6s}: {' | '.join(line)} | ratio tps {e[0] / b[0]:.3f}, "
                    f"cpu {b[1] / e[1]:.3f}")

        log(f"\nresults (load average {loadavg()}, {time.monotonic() - started:.0f} s in all);"
            f" ratios are {base.label} cost / {ext.label} cost, target >= 0.98:")
        for mode, _ in MODES:
            e_runs, b_runs = runs[(mode, ext.label)], runs[(mode, base.label)]
            e_tps, b_tps = [x[0] for x in e_runs], [x[0] for x in b_runs]
            e_cpu, b_cpu = [x[1] for x in e_runs], [x[1] for x in b_runs]
            tps_ratios = [a / b for a, b in zip(e_tps, b_tps)]
            cpu_ratios = [b / a for a, b in zip(e_cpu, b_cpu)]
            lo, hi = quartiles(tps_ratios)
            clo, chi = quartiles(cpu_ratios)
            log(f"{mode}:")
            if instr:
                ie, ib = statistics.median(instr[ext.label][mode]), statistics.median(instr[base.label][mode])
                reps = ", ".join(f"{x:,.0f}" for x in instr[ext.label][mode])
                repb = ", ".join(f"{x:,.0f}" for x in instr[base.label][mode])
                # Repetition k used the same seeds on both servers: compare those.
                per_rep = ", ".join(f"{b / a:.4f}" for a, b in zip(instr[ext.label][mode], instr[base.label][mode]))
                log(f"  instructions/txn   {ext.label} {ie:,.0f} ({reps}), {base.label} {ib:,.0f} ({repb}); "
                    f"ratio {ib / ie:.4f} (per repetition {per_rep})")
            log(f"  tps                {ext.label} median {statistics.median(e_tps):.1f} "
                f"(min {min(e_tps):.1f}, max {max(e_tps):.1f}), {base.label} median {statistics.median(b_tps):.1f} "
                f"(min {min(b_tps):.1f}, max {max(b_tps):.1f})")
            log(f"  tps ratio          median of {len(tps_ratios)} per-pair ratios {statistics.median(tps_ratios):.3f} "
                f"(quartiles {lo:.3f}-{hi:.3f}, min {min(tps_ratios):.3f}, max {max(tps_ratios):.3f})")
            log(f"  CPU us/txn         {ext.label} median {statistics.median(e_cpu):.1f}, {base.label} median "
                f"{statistics.median(b_cpu):.1f}; median per-pair ratio {statistics.median(cpu_ratios):.3f} "
                f"(quartiles {clo:.3f}-{chi:.3f})")
        if library_identity() != lib:
            log(f"WARNING: the library was reinstalled during the run, now {library_identity()}")
    finally:
        for s in servers:
            if s.monitor is not None:
                s.monitor.close()
            s.c.stop("immediate")
            s.c.remove()


if __name__ == "__main__":
    main()
