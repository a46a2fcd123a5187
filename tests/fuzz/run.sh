#!/bin/sh
# tests/fuzz/run.sh NAME|all SECONDS: runs the libFuzzer target fuzz_NAME (or every target) for
# SECONDS each, from the seed corpus tests/fuzz/corpus/NAME/ with the dictionary
# tests/fuzz/NAME.dict, then prints execs/s and coverage per target. Used by make fuzz
# (FUZZ_SECONDS, default 60) and make test (10 s each). Run from the top of the repository.
#
# Environment:
#   FUZZ_BUILD  the libFuzzer tree (default build-fuzz; make fuzz builds it)
#   FUZZ_MERGE  1: merge the new inputs that add coverage into tests/fuzz/corpus/NAME/
#               (libFuzzer -merge=1, so only inputs that cover something new are kept).
#               Otherwise the corpus is only read: new inputs go to FUZZ_BUILD/fuzz/NAME/new/.
#   FUZZ_ARGS   extra libFuzzer flags, e.g. "-jobs=2" or "-seed=1"
#
# Limits: -rss_limit_mb=2048, and -malloc_limit_mb=512, so a decoder that allocates from a length
# it has not checked fails the run even when the allocation would succeed. -max_len=4096 keeps
# merged inputs under the corpus' 4 KB per file.
#
# A crash, a leak, a broken property (FUZZ_ASSERT), a timeout or an out-of-memory fails the run:
# the input is left in FUZZ_BUILD/fuzz/NAME/artifacts/; keep it as a regression test by copying
# it into tests/fuzz/NAME/crashes/ (replayed by ctest as fuzz_replay_NAME).
set -u

if [ $# -ne 2 ]; then
    echo "usage: $0 NAME|all SECONDS" >&2
    exit 2
fi
what=$1
seconds=$2
build=${FUZZ_BUILD:-build-fuzz}
merge=${FUZZ_MERGE:-0}
extra=${FUZZ_ARGS:-}
root=tests/fuzz

if [ ! -d "$root/corpus" ]; then
    echo "$0: run me from the top of the repository" >&2
    exit 2
fi
if [ "$what" = all ]; then
    names=$(ls "$root"/fuzz_*.c | sed 's|.*/fuzz_||; s|\.c$||')
else
    names=$what
fi
mkdir -p "$build/fuzz"
summary="$build/fuzz/summary.txt"
: >"$summary"
failed=""

# The value of libFuzzer's final "stat::NAME: value" line.
stat() {
    sed -n "s/^stat::$1: *//p" "$2" | tail -n 1
}

for name in $names; do
    bin="$build/tests/fuzz/fuzz_$name"
    corpus="$root/corpus/$name"
    work="$build/fuzz/$name"
    if [ ! -x "$bin" ]; then
        echo "$0: $bin is missing (make fuzz builds it)" >&2
        exit 2
    fi
    rm -rf "$work/new"
    mkdir -p "$work/new" "$work/artifacts"
    touch "$work/started"
    dict=""
    [ -f "$root/$name.dict" ] && dict="-dict=$root/$name.dict"
    # the reproducers of crashes/ are read too: a bug that came back fails the run at once
    crashes=""
    [ -d "$root/$name/crashes" ] && crashes="$root/$name/crashes"
    log="$work/log.txt"
    echo "fuzz_$name: ${seconds}s (log: $log)"
    # shellcheck disable=SC2086 # $dict, $extra and $crashes may be empty
    "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=512 -max_len=4096 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$work/artifacts/" $dict $extra "$work/new" "$corpus" $crashes >"$log" 2>&1
    rc=$?

    added=0
    if [ $rc -eq 0 ] && [ "$merge" = 1 ]; then
        before=$(ls "$corpus" | wc -l)
        "$bin" -merge=1 -rss_limit_mb=2048 -malloc_limit_mb=512 -max_len=4096 -timeout=10 "$corpus" "$work/new" \
            >>"$log" 2>&1 || rc=$?
        added=$(($(ls "$corpus" | wc -l) - before))
    fi

    execs=$(stat number_of_executed_units "$log")
    rate=$(stat average_exec_per_sec "$log")
    cov=$(sed -n 's/^#[0-9]*.* cov: \([0-9]*\) ft: \([0-9]*\).*/\1 \2/p' "$log" | tail -n 1)
    status=ok
    if [ $rc -ne 0 ]; then
        status="FAILED (exit $rc)"
        failed="$failed $name"
    fi
    printf '%-14s %4ss %12s execs %9s exec/s   cov %5s ft %6s   +%s corpus   %s\n' "$name" "$seconds" "${execs:-?}" \
        "${rate:-?}" "${cov%% *}" "${cov##* }" "$added" "$status" >>"$summary"
    if [ $rc -ne 0 ]; then
        echo "---- fuzz_$name failed; the end of $log:"
        tail -n 40 "$log"
        echo "---- inputs kept by this run:"
        find "$work/artifacts" -type f -newer "$work/started" -exec ls -l {} +
        echo "---- to keep one as a regression test: cp FILE $root/$name/crashes/"
    fi
done

echo
echo "target         time        execs       exec/s   coverage            merged     status"
cat "$summary"
[ -z "$failed" ] || {
    echo "failed:$failed"
    exit 1
}
exit 0
