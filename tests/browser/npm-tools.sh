#!/bin/sh
# The npm tool the browser test uses, installed once per build tree into BUILD/npm-browser (never
# into the repository), at a pinned version: playwright-core drives Debian's chromium
# (/usr/bin/chromium, Makefile PACKAGES). No browser is downloaded: playwright-core has none and
# `playwright install` is never run. Kept apart from tests/contract/npm-tools.sh so neither test's
# install waits for, or reinstalls, the other's tools.
#
#   sh tests/browser/npm-tools.sh BUILD_DIR     prints the node_modules directory
#
# flock: two runs at once (ctest -j, two build trees sharing nothing but this) wait for one install.
set -eu
BUILD=$(cd "${1:?usage: npm-tools.sh BUILD_DIR}" && pwd)
PREFIX="$BUILD/npm-browser"
PACKAGES="playwright-core@1.65.1"
STAMP="$PREFIX/installed"
mkdir -p "$PREFIX"
for tool in node npm flock; do
    command -v "$tool" >/dev/null 2>&1 || { echo "browser npm-tools: $tool is not installed (make deps installs it)" >&2; exit 1; }
done
(
    flock 9
    if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$PACKAGES" ]; then
        echo "browser npm-tools: installing $PACKAGES into $PREFIX" >&2
        # shellcheck disable=SC2086 # PACKAGES is a list of package specs without spaces
        npm install --prefix "$PREFIX" --no-audit --no-fund --no-save --loglevel=error $PACKAGES >&2
        echo "$PACKAGES" >"$STAMP"
    fi
) 9>"$PREFIX/.lock"
echo "$PREFIX/node_modules"
