#!/usr/bin/env bash
# Shows that scripts/check-released.sh catches what it is for: it runs the
# check on copies of sql/ in which a released file was edited, deleted or
# added, or a released version is not listed, and expects a failure that names
# the file and says to add an upgrade script; the untouched copy must pass.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
check=$here/check-released.sh

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

failures=0
n=0
# expect NAME WANT_RC [PATTERN...]: runs the check on $tmp/case.
expect() {
  local name=$1 want=$2
  shift 2
  n=$((n + 1))
  local out rc
  out=$("$check" "$tmp/case" 2>&1)
  rc=$?
  local ok=1
  [[ $rc -eq $want ]] || ok=0
  for pattern in "$@"; do
    grep -qF -- "$pattern" <<<"$out" || ok=0
  done
  if [[ $ok -eq 1 ]]; then
    echo "ok $n - $name"
  else
    echo "not ok $n - $name (exit $rc, wanted $want; output follows)"
    sed 's/^/#   /' <<<"$out"
    failures=$((failures + 1))
  fi
}
fresh() {
  rm -rf "$tmp/case"
  mkdir -p "$tmp/case"
  cp -r "$src/sql" "$tmp/case/sql"
}

# The first listed part of the oldest released version serves as the victim.
victim=$(grep -vE '^\s*(#|$)' "$src/sql/released.sha256" | head -n1 | sed -E 's/^[0-9a-f]{64} [ *]//')
if [[ -z $victim ]]; then
  echo "not ok 1 - sql/released.sha256 lists no file"
  exit 1
fi
victim_dir=$(dirname "$victim")

fresh
expect "the source tree's sql/ passes" 0 "released files unchanged"

fresh
echo "-- an innocent-looking edit" >>"$tmp/case/$victim"
expect "an edited released file fails" 1 "$victim: released file changed" "add an upgrade script instead"

fresh
sed -i '1s/^/ /' "$tmp/case/$victim"
expect "a whitespace-only edit fails too" 1 "$victim: released file changed"

fresh
rm "$tmp/case/$victim"
expect "a deleted released file fails" 1 "$victim: released file is missing" "add an upgrade script instead"

fresh
echo "SELECT 1;" >"$tmp/case/$victim_dir/99_late_addition.sql"
expect "a file added to a released version fails" 1 \
  "$victim_dir/99_late_addition.sql: new file in the directory of released version" "add an upgrade script instead"

fresh
mkdir "$tmp/case/sql/0.0.1"
echo "SELECT 1;" >"$tmp/case/sql/0.0.1/00_x.sql"
expect "an unlisted version older than default_version fails" 1 "sql/0.0.1: version 0.0.1 is older than default_version"

fresh
mkdir "$tmp/case/sql/99.0.0"
echo "SELECT 1;" >"$tmp/case/sql/99.0.0/00_x.sql"
expect "an unreleased newer version directory may change freely" 0 "released files unchanged"

fresh
sed -i "s/^default_version = .*/default_version = '0.1.2'/" "$tmp/case/sql/schemahost.control"
echo "SELECT 1;" >"$tmp/case/sql/schemahost--0.1.1--0.1.2.sql"
expect "an unlisted upgrade script to a released version fails" 1 \
  "schemahost--0.1.0--0.1.1.sql: upgrade script to 0.1.1, older than default_version 0.1.2"

fresh
echo "SELECT 1;" >"$tmp/case/sql/schemahost--0.1.1--0.1.2.sql"
expect "an upgrade script to an unreleased version may change freely" 0 "released files unchanged"

fresh
echo "not a checksum line" >>"$tmp/case/sql/released.sha256"
expect "a malformed line in released.sha256 fails" 1 "not a sha256sum line"

echo "1..$n"
[[ $failures -eq 0 ]]
