#!/usr/bin/env bash
# Fuzzes every target for SECONDS each, one after the other; exits nonzero if any crashed.
#   Tests/Fuzz/run-all.sh 60
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
seconds=${1:?usage: run-all.sh SECONDS}
"$here/build.sh" || exit 1
failed=0
for target in FuzzFileHeader FuzzChunkRecord FuzzIndexPage FuzzCommitTrailer FuzzNpyHeader FuzzNpyFile FuzzDType FuzzOpen; do
    "$here/run.sh" "$target" "$seconds" || failed=1
done
exit $failed
