#!/usr/bin/env bash
# Write-path benchmark: pgbench (TPC-B-like and select-only) in a project's
# schema with 1,000 other projects; a server with schemahost preloaded and one
# without, side by side (docs/benchmarks.md). Reports instructions per
# transaction (callgrind) and the median of per-pair tps ratios.
# Needs valgrind (apt-get install valgrind) unless --no-callgrind.
# Options go to bench/write_path.py (--help).
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/write_path.py "$@"
