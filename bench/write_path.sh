#!/usr/bin/env bash
# Write-path benchmark: pgbench (TPC-B-like and select-only) in a project's
# schema with 1,000 other projects, schemahost preloaded vs not (docs/benchmarks.md).
# Options go to bench/write_path.py.
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/write_path.py "$@"
