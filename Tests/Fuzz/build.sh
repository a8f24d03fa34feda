#!/usr/bin/env bash
# Builds every fuzz target with libFuzzer and AddressSanitizer (release, so it runs fast).
# -Xswiftc -sanitize=fuzzer,address: SwiftPM passes --sanitize=fuzzer and --sanitize=address to
# swiftc as two separate -sanitize= flags and the frontend keeps only one of them, so without
# this the Swift code gets no coverage instrumentation (libFuzzer then sees ~18 counters).
# -enable-testing lets FuzzChunkRecord reach the library's internal payload decoder.
set -euo pipefail
cd "$(dirname "$0")"
swift build -c release --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing "$@" >.build-log 2>&1 || {
    tail -40 .build-log >&2
    exit 1
}
