#!/usr/bin/env bash
# Released SQL scripts never change: a database that installed them must end
# up with exactly what a new installation gets, and only upgrade scripts can
# bring it there. sql/released.sha256 lists the sha256 of every released file
# (the parts sql/<version>/*.sql of each released version and, once their
# target version is released, the upgrade scripts). This fails, naming the
# file, when one of them was edited, deleted or renamed, when a file was added
# to a released version's directory, or when a version directory or an
# upgrade script to a version older than default_version (so released) is not
# listed at all.
#
#   scripts/check-released.sh [ROOT]    ROOT: the source tree (default: this one)
set -uo pipefail

root=${1:-"$(dirname "$0")/.."}
cd "$root" || exit 2

list=sql/released.sha256
control=sql/schemahost.control
hint="never edit a released script: restore it and add an upgrade script instead (sql/schemahost--<old>--<new>.sql, see CONTRIBUTING.md, \"Versions and upgrade scripts\")"

if [[ ! -f $list ]]; then
  echo "check-released: $list not found; it lists the sha256 of every released SQL file" >&2
  exit 1
fi
default_version=$(sed -n "s/^default_version *= *'\(.*\)'.*/\1/p" "$control")
if [[ -z $default_version ]]; then
  echo "check-released: no default_version in $control" >&2
  exit 1
fi

failures=0
fail() {
  echo "check-released: $*" >&2
  failures=$((failures + 1))
}

declare -A listed=()       # path -> expected sha256
declare -A released_dirs=() # sql/<version> -> 1
lineno=0
while IFS= read -r line || [[ -n $line ]]; do
  lineno=$((lineno + 1))
  [[ -z ${line//[[:space:]]/} || $line == \#* ]] && continue
  # sha256sum's format: 64 hex digits, a space, a space or '*', the path.
  if [[ ! $line =~ ^([0-9a-f]{64})\ [\ *](.+)$ ]]; then
    fail "$list:$lineno: not a sha256sum line: $line"
    continue
  fi
  hash=${BASH_REMATCH[1]}
  path=${BASH_REMATCH[2]}
  listed[$path]=$hash
  dir=$(dirname "$path")
  [[ $dir =~ ^sql/[0-9]+\.[0-9]+\.[0-9]+$ ]] && released_dirs[$dir]=1
done <"$list"

# Every listed file is still there, byte for byte.
for path in "${!listed[@]}"; do
  if [[ ! -f $path ]]; then
    fail "$path: released file is missing (deleted or renamed); $hint"
    continue
  fi
  actual=$(sha256sum "$path" | cut -d' ' -f1)
  if [[ $actual != "${listed[$path]}" ]]; then
    fail "$path: released file changed (sha256 ${actual}, released ${listed[$path]}); $hint"
  fi
done

# No file was added to a released version's directory.
for dir in "${!released_dirs[@]}"; do
  for path in "$dir"/*; do
    [[ -e $path ]] || continue
    if [[ -z ${listed[$path]+set} ]]; then
      fail "$path: new file in the directory of released version $(basename "$dir"); $hint"
    fi
  done
done

# A version directory older than default_version belongs to a released
# version: it must be listed, or it is not protected.
for dir in sql/*/; do
  dir=${dir%/}
  version=$(basename "$dir")
  [[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || continue
  [[ -n ${released_dirs[$dir]+set} ]] && continue
  older=$(printf '%s\n%s\n' "$version" "$default_version" | sort -V | head -n1)
  if [[ $version != "$default_version" && $older == "$version" ]]; then
    fail "$dir: version $version is older than default_version $default_version, so released, but $list does not list its files; add them: sha256sum $dir/*.sql >> $list"
  fi
done

# Likewise an upgrade script to a version older than default_version was
# released with that version.
for path in sql/schemahost--*--*.sql; do
  [[ -e $path ]] || continue
  target=${path##*--}
  target=${target%.sql}
  [[ -n ${listed[$path]+set} ]] && continue
  older=$(printf '%s\n%s\n' "$target" "$default_version" | sort -V | head -n1)
  if [[ $target != "$default_version" && $older == "$target" ]]; then
    fail "$path: upgrade script to $target, older than default_version $default_version, so released, but $list does not list it; add it: sha256sum $path >> $list"
  fi
done

if [[ $failures -gt 0 ]]; then
  echo "check-released: $failures problem(s) with released SQL scripts" >&2
  exit 1
fi
echo "check-released: ${#listed[@]} released files unchanged ($(printf '%s\n' "${!released_dirs[@]}" | sort -V | xargs -r -n1 basename | paste -sd' ' -))"
