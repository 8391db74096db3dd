#!/usr/bin/env bash
# Installs the Debian 12 packages schemahost needs, and only those missing.
# Runs apt-get as root, or through sudo for an ordinary user. README.md says
# why each package is here.
set -euo pipefail

packages=(
  build-essential cmake clang-14 llvm-14 clang-format
  postgresql-15 postgresql-server-dev-15 libpq-dev
  postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl
  libboost-program-options-dev libgtest-dev googletest
  libcurl4-openssl-dev libssl-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  python3 python3-psycopg2 python3-aiosmtpd
)

missing=()
for p in "${packages[@]}"; do
  # dpkg-query answers "install ok installed" only for a fully installed package.
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

# postgresql-server-dev-15 must match the server's minor version, or a server
# built against other headers refuses to load our library: upgrade both together.
if [[ ${#missing[@]} -eq 0 ]]; then
  server=$(dpkg-query -W -f='${Version}' postgresql-15)
  dev=$(dpkg-query -W -f='${Version}' postgresql-server-dev-15)
  [[ "$server" == "$dev" ]] || missing+=(postgresql-15 postgresql-server-dev-15)
fi

[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"

# Debian creates and starts a system cluster when postgresql-15 is first
# installed. We never use it; leave it alone.
