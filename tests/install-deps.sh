#!/bin/sh
# Installs the Debian packages named in $PKGS that are missing. As root it runs apt-get itself;
# otherwise it prints the single apt-get line to run and fails, so nothing half-builds.
set -eu
missing=""
# Virtual packages an installed package provides count as present: NodeSource's nodejs provides
# npm and conflicts with Debian's, so asking apt for npm there would fail.
provided=$(dpkg-query -W -f='${db:Status-Abbrev}|${Provides}\n' 2>/dev/null | sed -n 's/^ii *|//p' | tr ',' '\n' |
           sed 's/([^)]*)//; s/ //g')
for p in $PKGS; do
    if echo "$provided" | grep -qx "$p"; then
        continue
    fi
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "flightsearch: missing packages:$missing" >&2
    echo "run:  sudo apt-get update && sudo apt-get install -y$missing" >&2
    exit 1
fi
echo "flightsearch: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq $missing >/dev/null
