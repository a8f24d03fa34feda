#!/usr/bin/env bash
# Fuzzes one target for SECONDS on its committed corpus (plus anything it finds, kept in
# Tests/Fuzz/.work/corpus/TARGET, which git ignores).
#   Tests/Fuzz/run.sh FuzzOpen 60        # build if needed, then fuzz
#   FUZZ_JOBS=2 Tests/Fuzz/run.sh FuzzNpyHeader 600
# A crash leaves its input in Tests/Fuzz/.work/crashes/TARGET/ and the script exits nonzero.
# Reproduce one with: Tests/Fuzz/.build/release/TARGET PATH-TO-CRASH-FILE
# The last line printed is "TARGET: N runs in S s, corpus C, crashes K".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
target=${1:?usage: run.sh TARGET SECONDS}
seconds=${2:?usage: run.sh TARGET SECONDS}
"$here/build.sh"
binary="$here/.build/release/$target"
[ -x "$binary" ] || { echo "no fuzz target $target" >&2; exit 64; }
work="$here/.work"
corpus="$work/corpus/$target"
crashes="$work/crashes/$target"
mkdir -p "$corpus" "$crashes"
case "$target" in
    FuzzOpen | FuzzNpyFile) max_len=16384 ;;
    *) max_len=4096 ;;
esac
log="$work/$target.log"
# SWIFT_BACKTRACE=enable=no: Swift's crash handler under ASan adds spurious reports.
# -malloc_limit_mb: a single allocation over 512 MiB counts as a crash (a hostile size that
# slipped past a bound); the harnesses only decode chunks up to a few MiB.
set +e
SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 "$binary" \
    "$corpus" "$here/corpus/$target" \
    -dict="$here/rowpack.dict" -max_len="$max_len" -max_total_time="$seconds" \
    -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$crashes/" ${FUZZ_JOBS:+-fork="$FUZZ_JOBS"} >"$log" 2>&1
status=$?
set -e
runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -1)
found=$(find "$crashes" -type f | wc -l)
size=$(find "$corpus" -type f | wc -l)
echo "$target: ${runs:-?} runs in $seconds s, corpus $size, crashes $found"
if [ "$status" -ne 0 ] || [ "$found" -ne 0 ]; then
    grep -E 'ERROR|invariant|Fatal|SUMMARY|Test unit written' "$log" | head -20 >&2
    echo "$target: FAILED (exit $status); log: $log" >&2
    exit 1
fi
