#!/usr/bin/env bash
# `make run` / `make stop`: a throwaway cluster in .run/ (git-ignored) with the
# extension preloaded and created, schemahostd running against it, and a psql
# prompt for the operator. Running it again reuses what exists.
set -euo pipefail
cd "$(dirname "$0")/.."

RUN_DIR=$PWD/.run
HARNESS=(/usr/bin/python3 scripts/pgcluster.py)
DAEMON=$PWD/build/daemon/schemahostd
PIDFILE=$RUN_DIR/schemahostd.pid

daemon_running() { [[ -f $PIDFILE ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

case "${1:-up}" in
up)
  "${HARNESS[@]}" up --dir "$RUN_DIR"
  eval "$("${HARNESS[@]}" env --dir "$RUN_DIR")"
  psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE EXTENSION IF NOT EXISTS schemahost;
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'schemahostd') THEN
    CREATE ROLE schemahostd LOGIN IN ROLE schemahost_daemon;
  END IF;
END $$;
SQL
  dsn="host=$PGHOST port=$PGPORT dbname=postgres user=schemahostd"
  if daemon_running; then
    echo "schemahostd already running (pid $(cat "$PIDFILE"))"
  else
    nohup "$DAEMON" --dsn "$dsn" --log-file "$RUN_DIR/schemahostd.log" >>"$RUN_DIR/schemahostd.out" 2>&1 &
    echo $! >"$PIDFILE"
    sleep 1
    daemon_running || { echo "schemahostd failed to start; see $RUN_DIR/schemahostd.out" >&2; cat "$RUN_DIR/schemahostd.out" >&2; exit 1; }
    echo "schemahostd running (pid $(cat "$PIDFILE")), log: $RUN_DIR/schemahostd.log"
  fi
  "$DAEMON" --once --dsn "$dsn"
  psql -X -q -P pager=off -c "SELECT * FROM schemahost_version()"
  if psql -X -At -c "SELECT 1 FROM pg_proc WHERE proname = 'schemahost_check'" | grep -q 1; then
    echo "Instance settings that weaken isolation (schemahost_check()):"
    psql -X -P pager=off -c "SELECT * FROM schemahost_check()"
  fi
  cmd="psql -h $PGHOST -p $PGPORT -U postgres postgres"
  if [[ -t 0 && -t 1 ]]; then
    echo "Connecting: $cmd   (make stop stops the server and the daemon)"
    exec psql -X
  else
    echo "No terminal; connect with:"
    echo "  $cmd"
  fi
  ;;
down)
  if daemon_running; then
    kill -TERM "$(cat "$PIDFILE")"
    for _ in $(seq 50); do daemon_running || break; sleep 0.1; done
    echo "schemahostd stopped"
  fi
  rm -f "$PIDFILE"
  "${HARNESS[@]}" down --dir "$RUN_DIR"
  ;;
esac
