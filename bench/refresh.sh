#!/usr/bin/env bash
# Refresh benchmark: incremental and full schemahost_refresh_usage() against
# sum(pg_total_relation_size) on 10,000 projects x 3 tables (docs/benchmarks.md).
# Options go to bench/refresh.py (--keep reuses the data set next time).
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/refresh.py "$@"
