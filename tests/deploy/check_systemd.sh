#!/bin/sh
# tests/deploy/check_systemd.sh BINARY: deploy/flightsearch.service passes `systemd-analyze verify`
# with no warning at all, and `systemd-analyze security --offline` rates it at most 2.5 (OK).
#
# verify needs no running systemd, but it checks that ExecStart's binary exists, and the unit names
# the path `make install` uses (/usr/local/bin/flightsearch). So a temp copy gets the built binary
# in its place; nothing else changes. verify exits 0 after "Failed to parse ..., ignoring" (a
# misspelt value is dropped, not refused), so any output at all is a failure here.
set -eu
binary=$1
here=$(cd "$(dirname "$0")/../.." && pwd)
unit=$here/deploy/flightsearch.service
command -v systemd-analyze >/dev/null || { echo "systemd-analyze missing (Debian package systemd)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
grep -q '^ExecStart=/usr/local/bin/flightsearch ' "$unit" || { echo "$unit: ExecStart does not start /usr/local/bin/flightsearch"; exit 1; }
sed "s#^ExecStart=/usr/local/bin/flightsearch #ExecStart=$binary #" "$unit" >"$tmp/flightsearch.service"

# what the unit promises (deploy/README.md): each directive present with its value
for d in 'Type=notify' 'NotifyAccess=main' 'WatchdogSec=' 'StateDirectory=flightsearch' 'ProtectSystem=strict' \
    'NoNewPrivileges=yes' 'LimitNOFILE=' 'ExecReload=/bin/kill -HUP $MAINPID' 'User=flightsearch'; do
    grep -qF "$d" "$tmp/flightsearch.service" || { echo "flightsearch.service lacks $d"; exit 1; }
done
grep -q -- '--data-dir %S/flightsearch' "$tmp/flightsearch.service" || { echo "--data-dir is not the StateDirectory"; exit 1; }

out=$(cd "$tmp" && SYSTEMD_LOG_COLOR=0 systemd-analyze verify --man=no flightsearch.service 2>&1) || {
    echo "systemd-analyze verify failed:"; echo "$out"; exit 1; }
if [ -n "$out" ]; then
    echo "systemd-analyze verify warned:"; echo "$out"; exit 1
fi
echo "systemd-analyze verify: clean"

sec=$(cd "$tmp" && systemd-analyze security --offline=true --threshold=25 flightsearch.service 2>&1) || {
    echo "$sec" | tail -20; echo "systemd-analyze security: exposure above 2.5"; exit 1; }
echo "$sec" | tail -1
