#!/usr/bin/env bash
# Detection benchmark: from the write that crosses the quota to the first
# refused write, refreshing every 2 s like schemahostd (docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/detection.py "$@"
