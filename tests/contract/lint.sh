#!/bin/sh
# Lints docs/openapi.yaml with @redocly/cli: its recommended rules with every warning an error
# (recommended-strict; redocly.yaml at the top says what is changed and why). Any finding fails.
#
#   sh tests/contract/lint.sh BUILD_DIR
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MODULES=$(sh "$ROOT/tests/contract/npm-tools.sh" "${1:?usage: lint.sh BUILD_DIR}")
cd "$ROOT"
# No telemetry and no update check: the test talks to nothing but the registry, once.
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
    node "$MODULES/@redocly/cli/bin/cli.js" lint --config redocly.yaml docs/openapi.yaml
