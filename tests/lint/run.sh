#!/bin/sh
# Static analysis: cppcheck and clang-tidy over the project's C sources (index/, loaders/ with
# loaders/tool/, src/, bench/gen/, bench/load/), with the checked-in configuration: .clang-tidy at the top and
# tests/lint/cppcheck-suppressions.txt. Any finding fails (exit 1). One summary line per tool.
#
#   sh tests/lint/run.sh [BUILD_DIR]     (default: build; `make lint` passes $(BUILD))
#
# clang-tidy reads BUILD_DIR/compile_commands.json; if it is missing, BUILD_DIR is configured
# (not built) with -DCMAKE_EXPORT_COMPILE_COMMANDS=ON. Files are spread over JOBS clang-tidy
# processes (default: the number of cores), largest first.
set -u
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

for tool in cppcheck clang-tidy; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "lint: $tool is not installed (make deps installs it)" >&2
        exit 1
    fi
done

# The tracked C files of those directories (a '*' in a git pathspec also matches '/'). Outside a
# git checkout, every .c file under them.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    FILES=$(git ls-files 'index/*.c' 'loaders/*.c' 'src/*.c' 'bench/gen/*.c' 'bench/load/*.c')
else
    FILES=$(find index loaders src bench/gen bench/load -name '*.c' | sort)
fi
NFILES=$(echo "$FILES" | wc -w)
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
status=0

# ---------------------------------------------------------------- cppcheck
# The defines are the build's (CMakeLists.txt: H2O_USE_LIBUV=0, _GNU_SOURCE, FS_HAVE_JEMALLOC in
# the release build); giving them makes cppcheck check that one configuration, as compiled.
start=$(date +%s)
# shellcheck disable=SC2086 # FILES is a list of paths without spaces
cppcheck -q -j "$JOBS" --platform=unix64 --std=c11 --enable=warning,style,performance,portability \
    --inline-suppr --suppressions-list=tests/lint/cppcheck-suppressions.txt \
    --library=posix,gnu,libcurl,openssl \
    -D__x86_64__ -DH2O_USE_LIBUV=0 -D_GNU_SOURCE -DFS_HAVE_JEMALLOC=1 -I. \
    --template='{file}:{line}:{column}: {severity}: {message} [{id}]' \
    $FILES >"$OUT/cppcheck.txt" 2>&1
rc=$?
n=$(grep -cE '^[^ ]+:[0-9]+:[0-9]+: [a-z]+: ' "$OUT/cppcheck.txt")
cat "$OUT/cppcheck.txt"
if [ "$rc" -ne 0 ] && [ "$n" -eq 0 ]; then
    n=1 # cppcheck itself failed (a bad option, a missing library file): shown above
fi
echo "lint: cppcheck: $n finding(s) in $NFILES files ($(($(date +%s) - start)) s)"
[ "$n" -eq 0 ] || status=1

# -------------------------------------------------------------- clang-tidy
start=$(date +%s)
if [ ! -f "$BUILD/compile_commands.json" ]; then
    cmake -S . -B "$BUILD" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null || exit 1
fi
# Largest first, so the long files do not end up last on one core. Each file's report goes to its
# own file, printed whole after the run.
# shellcheck disable=SC2086
ls -S $FILES | awk -v d="$OUT" '{ f = $0; gsub("/", "_", f); print $0 " " d "/tidy-" f ".txt" }' |
    xargs -P "$JOBS" -n 2 sh -c 'clang-tidy -p "$0" --quiet "$1" >"$2" 2>&1 || echo "$1" >>"$2.failed"' "$BUILD"
cat "$OUT"/tidy-*.txt | grep -vE '^[0-9]+ (warnings?|errors?)( and [0-9]+ errors?)? generated\.$' >"$OUT/clang-tidy.txt"
n=$(grep -cE '^[^ ]+:[0-9]+:[0-9]+: (warning|error): ' "$OUT/clang-tidy.txt")
failed=$(cat "$OUT"/tidy-*.failed 2>/dev/null | wc -l)
cat "$OUT/clang-tidy.txt"
if [ "$failed" -gt 0 ] && [ "$n" -eq 0 ]; then
    n=$failed # clang-tidy failed on a file without a finding (it could not parse it): shown above
fi
echo "lint: clang-tidy: $n finding(s) in $NFILES files ($(($(date +%s) - start)) s)"
[ "$n" -eq 0 ] || status=1

exit $status
