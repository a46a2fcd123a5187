#!/bin/sh
# The npm tools the contract tests use, installed once per build tree into BUILD/npm (never into the
# repository), at pinned versions so every run lints and validates with the same code:
#   @redocly/cli  the OpenAPI linter (tests/contract/lint.sh)
#   ajv, ajv-formats  JSON Schema 2020-12 validation of the server's answers (contract.mjs)
#   @msgpack/msgpack  decodes the msgpack answers to validate them the same way
#   openapi-typescript, openapi-fetch, typescript, @types/node  a client generated from
#                 /openapi.json and compiled (client.ts)
#
#   sh tests/contract/npm-tools.sh BUILD_DIR     prints the node_modules directory
#
# Both contract tests may start at once (ctest -j): flock makes the second wait for the first's
# install instead of racing it. Needs node and npm (Makefile PACKAGES) and the npm registry.
set -eu
BUILD=$(cd "${1:?usage: npm-tools.sh BUILD_DIR}" && pwd)
PREFIX="$BUILD/npm"
PACKAGES="@redocly/cli@2.77.0 ajv@8.20.0 ajv-formats@3.0.1 @msgpack/msgpack@3.1.3"
PACKAGES="$PACKAGES openapi-typescript@7.13.0 openapi-fetch@0.17.0 typescript@5.9.3 @types/node@20.19.43"
STAMP="$PREFIX/installed"
mkdir -p "$PREFIX"
for tool in node npm flock; do
    command -v "$tool" >/dev/null 2>&1 || { echo "npm-tools: $tool is not installed (make deps installs it)" >&2; exit 1; }
done
# @redocly/cli 2.77 declares node >=20.19 (<21) or >=22.12. Debian 12's own nodejs is 18.20: say so
# plainly instead of failing somewhere inside the linter.
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 12) || (a === 20 && b >= 19) ? 0 : 1)'; then
    echo "npm-tools: node $(node --version) is older than @redocly/cli 2.77.0 needs (20.19+ or 22.12+);" \
         "Debian 12's nodejs is 18: install Node.js 20 or 22 (for example from NodeSource)" >&2
    exit 1
fi
(
    flock 9
    if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$PACKAGES" ]; then
        echo "npm-tools: installing $PACKAGES into $PREFIX" >&2
        # shellcheck disable=SC2086 # PACKAGES is a list of package specs without spaces
        npm install --prefix "$PREFIX" --no-audit --no-fund --no-save --loglevel=error $PACKAGES >&2
        echo "$PACKAGES" >"$STAMP"
    fi
) 9>"$PREFIX/.lock"
echo "$PREFIX/node_modules"
