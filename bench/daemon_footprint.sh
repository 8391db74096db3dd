#!/usr/bin/env bash
# schemahostd's footprint at scale: creates PROJECTS projects (default 10000)
# in a throwaway cluster, starts the daemon at the default interval (2 s) as
# a non-superuser member of schemahost_daemon, waits for its first (full)
# pass, then samples its RSS and CPU time for SECONDS (default 60).
#
#   bench/daemon_footprint.sh [PROJECTS] [SECONDS]
#
# Needs the extension installed (make -o daemon install) and the daemon built
# (build/daemon/schemahostd). Prints the result as a markdown table row.
set -euo pipefail
cd "$(dirname "$0")/.."
PROJECTS=${1:-10000}
SECONDS_TO_MEASURE=${2:-60}

if [ -z "${SCHEMAHOST_BENCH_INNER:-}" ]; then
    exec /usr/bin/python3 scripts/pgcluster.py exec --conf max_connections=200 -- \
        env SCHEMAHOST_BENCH_INNER=1 "$0" "$PROJECTS" "$SECONDS_TO_MEASURE"
fi

DAEMON=build/daemon/schemahostd
[ -x "$DAEMON" ] || { echo "build the daemon first: $DAEMON" >&2; exit 1; }
psql() { command psql -X -q -v ON_ERROR_STOP=1 "$@"; }

psql -c "CREATE EXTENSION schemahost" -c "CREATE ROLE schemahostd_bench LOGIN IN ROLE schemahost_daemon"

# Batches of at most 1000 projects per connection (a backend's relcache grows
# with every project it touches). Parallel connections would gain nothing:
# creates serialize on the database's ACL (schemahost.lock_database_acl()).
t0=$(date +%s.%N)
BATCH=1000
for ((start = 1; start <= PROJECTS; start += BATCH)); do
    end=$((start + BATCH - 1)); ((end > PROJECTS)) && end=$PROJECTS
    psql -c "SET client_min_messages = warning;
             DO \$\$ BEGIN FOR i IN $start..$end LOOP
                 PERFORM create_project_schema('p' || i);
             END LOOP; END \$\$"
done
t1=$(date +%s.%N)
n=$(command psql -XAtq -c "SELECT count(*) FROM schemahost.project")
echo "created $n projects in $(echo "$t1 - $t0" | bc) s" >&2

LOG=$(mktemp)
"$DAEMON" --dsn "host=$PGHOST port=$PGPORT user=schemahostd_bench dbname=$PGDATABASE" \
    --log-file "$LOG" &
DPID=$!
trap 'kill $DPID 2>/dev/null || true; rm -f "$LOG"' EXIT
for _ in $(seq 1 600); do
    grep -q "full pass done" "$LOG" && break
    sleep 0.5
done
grep -q "full pass done" "$LOG" || { echo "no full pass within 300 s" >&2; cat "$LOG" >&2; exit 1; }
grep "full pass done" "$LOG" | head -1 >&2

# CPU time in ns from schedstat (finer than the clock ticks of /proc/PID/stat).
cpu_ns() { awk '{print $1}' "/proc/$1/schedstat"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$DPID/status"; }
# The daemon's backend does the SQL work of each pass: report it too.
BPID=$(command psql -XAtq -c "SELECT pid FROM pg_stat_activity WHERE usename = 'schemahostd_bench' LIMIT 1")
c0=$(cpu_ns $DPID); b0=$(cpu_ns $BPID); s0=$(date +%s.%N); max_rss=0
for _ in $(seq 1 "$SECONDS_TO_MEASURE"); do
    sleep 1
    r=$(rss_kb); ((r > max_rss)) && max_rss=$r
done
c1=$(cpu_ns $DPID); b1=$(cpu_ns $BPID); s1=$(date +%s.%N)
cpu_pct=$(echo "scale=3; 100 * ($c1 - $c0) / 1000000000 / ($s1 - $s0)" | bc)
backend_pct=$(echo "scale=3; 100 * ($b1 - $b0) / 1000000000 / ($s1 - $s0)" | bc)
errors=$(grep -c -E " (error|warn(ing)?): " "$LOG" || true)
echo "| $n | 2 s | $(echo "scale=1; $max_rss / 1024" | bc) MB | ${cpu_pct}% | ${backend_pct}% | $SECONDS_TO_MEASURE s | $errors |"
