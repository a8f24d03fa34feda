#!/usr/bin/env bash
# CI smoke run: builds the fuzz package and runs each target for ~10 s on its committed corpus
# only (nothing is kept). Exits nonzero on a crash, a broken invariant or a build failure.
#   Tests/Fuzz/smoke.sh [SECONDS]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
seconds=${1:-10}
start=$(date +%s)
"$here/build.sh" || { echo "fuzz smoke: build failed" >&2; exit 1; }
built=$(date +%s)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=0
for target in FuzzFileHeader FuzzChunkRecord FuzzIndexPage FuzzCommitTrailer FuzzNpyHeader FuzzNpyFile FuzzDType FuzzOpen; do
    mkdir -p "$scratch/$target"
    case "$target" in FuzzOpen | FuzzNpyFile) max_len=16384 ;; *) max_len=4096 ;; esac
    if SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 "$here/.build/release/$target" \
        "$scratch/$target" "$here/corpus/$target" -dict="$here/rowpack.dict" -max_len="$max_len" \
        -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$scratch/$target/crash-" >"$scratch/$target.log" 2>&1; then
        runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$scratch/$target.log" | grep -Eo '[0-9]+$' | tail -1)
        echo "fuzz smoke: $target ok (${runs:-?} runs)"
    else
        failed=1
        echo "fuzz smoke: $target FAILED" >&2
        grep -E 'ERROR|invariant|Fatal|SUMMARY|Test unit written' "$scratch/$target.log" | head -20 >&2
        for crash in "$scratch/$target"/crash-*; do
            [ -f "$crash" ] && { echo "crash input (base64): $(base64 -w0 "$crash")" >&2; }
        done
    fi
done
end=$(date +%s)
echo "fuzz smoke: build $((built - start)) s, fuzzing $((end - built)) s, total $((end - start)) s"
exit $failed
