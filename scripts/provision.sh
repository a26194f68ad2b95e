#!/usr/bin/env bash
# Install the Debian packages named as arguments that are not installed yet.
set -euo pipefail
missing=()
for package in "$@"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# A PostgreSQL cluster installed here is for local development: let local TCP connections in without a password,
# as the embedded default URL (postgresql://postgres@127.0.0.1:5432/spin_reel) expects.
if [[ " ${missing[*]} " == *" postgresql "* ]]; then
  for hba in /etc/postgresql/*/main/pg_hba.conf; do
    grep -q "^host all all 127.0.0.1/32 trust" "$hba" || $SUDO sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
  done
fi
