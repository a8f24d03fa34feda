#!/usr/bin/env bash
# Regenerates the golden containers of Spec/FORMAT.md §12 with the rowpack CLI and numpy.
# Run only when the format version changes: tests read these files forever, and a reader of
# format 1.x must keep reading every file committed here.
set -euo pipefail
cd "$(dirname "$0")"
bin=${ROWPACK_BIN:-../../.build/release/rowpack}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$tmp" <<'PY'
import sys, numpy as np
tmp = sys.argv[1]
rng = np.random.default_rng(20261126)
np.save("f4_zstd_shuffle.npy", np.cumsum(rng.standard_normal((100, 3)), axis=0).astype("<f4"))
np.save("i8_zlib.npy", rng.integers(-10**12, 10**12, 50, dtype="<i8"))
np.save("struct_none.npy", np.array([(i * 0.5, -i) for i in range(20)], dtype=[("x", "<f4"), ("y", "<i8")]))
np.save("f8_bigendian_zstd3.npy", rng.standard_normal((10, 2)).astype(">f8"))
np.save("datetime_ns.npy", np.array(["2026-11-26T21:15:00"], dtype="M8[ns]") + np.arange(7).astype("m8[s]"))
np.save("U3_zstd.npy", np.array([["abc", "é", ""], ["xyz", "温度", "q"]] * 4, dtype="<U3"))
parts = [rng.integers(0, 255, (n, 2, 2), dtype="u1") for n in (7, 4, 9)]
for i, part in enumerate(parts):
    np.save(f"{tmp}/u1_part{i}.npy", part)
np.save("u1_multicommit.npy", np.concatenate(parts))
np.save("u1_shuffle_requested.npy", rng.integers(0, 255, (9, 3), dtype="u1"))
# Padding bytes are data (FORMAT.md §10.2): an aligned struct whose 5 padding bytes per row are nonzero.
aligned = np.dtype([("a", "u1"), ("b", "<i4"), ("c", "<u2")], align=True)
raw = np.frombuffer(bytes((i * 7 + 0x5A) % 256 or 1 for i in range(6 * aligned.itemsize)), dtype="u1")
np.save("struct_aligned_padding.npy", raw.view(aligned))
PY
"$bin" import f4_zstd_shuffle.npy f4_zstd_shuffle.rowpack --chunk-rows 16 --force -q
"$bin" import i8_zlib.npy i8_zlib.rowpack --codec zlib --chunk-rows 8 --force -q
"$bin" import struct_none.npy struct_none.rowpack --codec none --chunk-rows 6 --force -q
"$bin" import f8_bigendian_zstd3.npy f8_bigendian_zstd3.rowpack --level 3 --chunk-rows 4 --force -q
"$bin" import datetime_ns.npy datetime_ns.rowpack --chunk-rows 3 --force -q
"$bin" import U3_zstd.npy U3_zstd.rowpack --chunk-rows 5 --force -q
# A 1-byte dtype with the shuffle requested: w = 1, so header and records say filter 0 (§4.2).
"$bin" import u1_shuffle_requested.npy u1_shuffle_requested.rowpack --shuffle --chunk-rows 4 --force -q
"$bin" import struct_aligned_padding.npy struct_aligned_padding.rowpack --chunk-rows 4 --force -q
# Three commits; the partial tail chunk of the first two is superseded, leaving dead space.
"$bin" import "$tmp/u1_part0.npy" u1_multicommit.rowpack --chunk-rows 5 --force -q
"$bin" append u1_multicommit.rowpack "$tmp/u1_part1.npy" -q
"$bin" append u1_multicommit.rowpack "$tmp/u1_part2.npy" -q
# A crash mid-commit: the last commit followed by a torn tail, which readers must ignore.
cp u1_multicommit.rowpack u1_torn_tail.rowpack
printf 'RPKC\x05\x00\x00\x00torn-record-bytes-without-a-trailer' >> u1_torn_tail.rowpack
cp u1_multicommit.npy u1_torn_tail.npy
ls -l *.rowpack
