"""Containers through the CLI: append, read, info, verify, recover, compact, export --append."""

import json
import random
import re
import signal
import struct
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from interop_util import (
    assert_no_crash,
    assert_runtime_error,
    assert_same_array,
    concat,
    descr_dtype,
    make_array,
    sha,
)

INFO_KEYS = {
    "rows",
    "dtype",
    "row_shape",
    "rows_per_chunk",
    "chunks",
    "codec",
    "level",
    "shuffle",
    "commits",
    "file_bytes",
    "raw_bytes",
    "dead_bytes",
    "format_version",
}


def test_readme_defines_exactly_the_info_json_keys(rp, tmp, rng):
    # The README's table of `info --json` keys is the whole object, no more and no less, and
    # `commits` is what it says: the newest commit's sequence number (the u64 at +16 of the
    # trailer ending the file), 2 after an import, one more per append. Keys documented as
    # "present only when" something holds are absent from a sound file's object.
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = readme[readme.index("`info --json` prints one object:"):].split("\n\n")[1]
    rows = [row.split("|") for row in table.splitlines()[2:]]
    always = {key for row in rows if "present only when" not in row[2] for key in re.findall(r"`(\w+)`", row[1])}
    sometimes = {key for row in rows if "present only when" in row[2] for key in re.findall(r"`(\w+)`", row[1])}
    assert sometimes == {"damaged_commit"}
    c = tmp / "c.rowpack"
    rp.ok("import", save(tmp, "a.npy", make_array("<f4", (10, 3), rng)), c, "-q")
    info = rp.info(c)
    assert always == set(info)
    damaged = tmp / "damaged.rowpack"
    data = bytearray(c.read_bytes())
    data[-128 + 96] ^= 1  # the newest trailer's time field: complete but failing its checksum
    damaged.write_bytes(bytes(data))
    assert always | sometimes == set(rp.info(damaged))
    assert info["commits"] == 2
    rp.ok("append", c, save(tmp, "b.npy", make_array("<f4", (5, 3), rng)), "-q")
    info = rp.info(c)
    (sequence,) = struct.unpack_from("<Q", c.read_bytes(), c.stat().st_size - 128 + 16)
    assert info["commits"] == sequence == 3


def save(tmp, name, arr):
    path = tmp / name
    np.save(path, arr)
    return path


def shape_in(line, shape):
    """Whether `line` names the row shape `shape`, as a list or a tuple."""
    shape = tuple(shape)
    forms = {str(list(shape)), str(shape), "(" + ", ".join(map(str, shape)) + ")"}
    return any(form in line for form in forms)


def read_all(rp, tmp, c, rows, name="all.npy"):
    out = tmp / name
    rp.ok("read", c, "--rows", f"0:{rows}", "--out", out, "--force")
    return np.load(out)


# --- append + read ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dtype,row_shape,chunk_rows",
    [
        ("<f4", (3,), 7),
        ("<i8", (), 1),
        ("<u2", (2, 3), 64),
        ([("x", "<f4"), ("y", "<i8")], (), 5),
        (">f8", (2,), 3),
        ("|S5", (4,), None),
    ],
    ids=["f4x3", "i8-scalar", "u2x2x3", "struct", "be-f8", "S5"],
)
def test_import_append_read_equals_concatenate(rp, tmp, rng, dtype, row_shape, chunk_rows):
    parts = [make_array(dtype, (n,) + row_shape, rng) for n in (23, 0, 41, 17)]
    x, y, z, w = (save(tmp, f"p{i}.npy", p) for i, p in enumerate(parts))
    c = tmp / "c.rowpack"
    opts = ["--chunk-rows", str(chunk_rows)] if chunk_rows else []
    rp.ok("import", x, c, *opts, "-q")
    rp.ok("append", c, y, z, "-q")
    rp.ok("append", c, w, "-q")
    expected = concat(parts)
    n = len(expected)
    out = tmp / "out.npy"
    rp.ok("read", c, "--rows", f"0:{n}", "--out", out)
    assert_same_array(np.load(out, mmap_mode="r"), expected)
    # The output is a canonical np.save file.
    ref = save(tmp, "ref.npy", expected)
    assert out.read_bytes() == ref.read_bytes()
    # A sub-range too.
    rp.ok("read", c, "--rows", "20:70", "--out", out, "--force")
    assert_same_array(np.load(out), expected[20:70])


def test_read_rows_file_gathers_in_order(rp, tmp, rng):
    arr = make_array("<i4", (5000, 3), rng)
    c = tmp / "c.rowpack"
    rp.ok("import", save(tmp, "x.npy", arr), c, "--chunk-rows", "64", "-q")
    picks = rng.integers(0, 5000, size=3000)
    picks[10:20] = picks[0]  # repeats
    picks[100] = 4999
    picks[101] = 0
    lst = tmp / "rows.txt"
    lst.write_text("\n".join(map(str, picks)) + "\n")
    out = tmp / "g.npy"
    rp.ok("read", c, "--rows-file", lst, "--out", out)
    got = np.load(out, mmap_mode="r")
    assert_same_array(got, arr[picks])


def test_read_rows_file_blank_lines_and_descending(rp, tmp):
    arr = np.arange(40, dtype="<u8").reshape(20, 2)
    c = tmp / "c.rowpack"
    rp.ok("import", save(tmp, "x.npy", arr), c, "--chunk-rows", "3", "-q")
    lst = tmp / "rows.txt"
    lst.write_text("19\n\n  7 \n7\n0\n18\n")
    out = tmp / "g.npy"
    rp.ok("read", c, "--rows-file", lst, "--out", out)
    np.testing.assert_array_equal(np.load(out), arr[[19, 7, 7, 0, 18]])


def test_read_rows_file_out_of_range(rp, tmp):
    arr = np.arange(10, dtype="<f4")
    c = tmp / "c.rowpack"
    rp.ok("import", save(tmp, "x.npy", arr), c, "-q")
    lst = tmp / "rows.txt"
    lst.write_text("1\n10\n")
    out = tmp / "g.npy"
    assert_runtime_error(rp("read", c, "--rows-file", lst, "--out", out), "10")
    assert not out.exists()


def test_read_prints_table_one_line_per_row(rp, tmp):
    arr = (np.arange(36, dtype="<i4") * 3 - 50).reshape(12, 3)
    c = tmp / "c.rowpack"
    rp.ok("import", save(tmp, "x.npy", arr), c, "--chunk-rows", "5", "-q")
    res = rp.ok("read", c, "--rows", "2:11")
    lines = res.stdout.splitlines()
    assert len(lines) == 9, res.stdout
    for i, line in zip(range(2, 11), lines):
        numbers = [int(v) for v in re.findall(r"-?\d+", line)]
        assert numbers == [i] + arr[i].tolist(), f"line for row {i}: {line!r}"
    lst = tmp / "rows.txt"
    lst.write_text("11\n0\n11\n")
    res = rp.ok("read", c, "--rows-file", lst)
    lines = res.stdout.splitlines()
    assert len(lines) == 3
    assert [int(re.findall(r"-?\d+", line)[0]) for line in lines] == [11, 0, 11]
    assert [int(v) for v in re.findall(r"-?\d+", lines[1])[1:]] == arr[0].tolist()


def test_read_prints_floats_and_bytes(rp, tmp):
    arr = np.array([[0.5, -2.25], [1e-3, 3.0]], dtype="<f8")
    c = tmp / "c.rowpack"
    rp.ok("import", save(tmp, "x.npy", arr), c, "-q")
    lines = rp.ok("read", c, "--rows", "0:2").stdout.splitlines()
    assert len(lines) == 2
    values = [float(v) for v in lines[0].split()[1:]]
    assert values == [0.5, -2.25]
    s = np.array([b"ab", b"cd", b"ef"], dtype="|S2")
    c2 = tmp / "s.rowpack"
    rp.ok("import", save(tmp, "s.npy", s), c2, "-q")
    lines = rp.ok("read", c2, "--rows", "0:3").stdout.splitlines()
    assert len(lines) == 3


# --- mismatches leave the container alone ----------------------------------------------------


@pytest.fixture
def base(rp, tmp, rng):
    """A container of 10 <f4 rows of shape (2, 5), last chunk partial (chunk rows 4)."""
    arr = make_array("<f4", (10, 2, 5), rng)
    c = tmp / "c.rowpack"
    rp.ok("import", save(tmp, "base.npy", arr), c, "--chunk-rows", "4", "-q")
    return c, arr


def assert_unchanged(rp, tmp, c, arr, info_before, digest_before):
    assert sha(c) == digest_before, "the container's bytes changed"
    info = rp.info(c)
    assert info == info_before
    assert_same_array(read_all(rp, tmp, c, len(arr), "check.npy"), arr)


@pytest.mark.parametrize("src_dtype", ["<f8", "<i4", ">f4", "<f2"])
def test_append_dtype_mismatch_refused(rp, tmp, rng, base, src_dtype):
    c, arr = base
    before, digest = rp.info(c), sha(c)
    bad = save(tmp, "bad.npy", make_array(src_dtype, (3, 2, 5), rng))
    line = assert_runtime_error(rp("append", c, bad))
    assert src_dtype in line and "<f4" in line, f"message should name both dtypes: {line!r}"
    assert_unchanged(rp, tmp, c, arr, before, digest)


@pytest.mark.parametrize("row_shape", [(5, 2), (2, 4), (10,), (2, 5, 1), ()])
def test_append_row_shape_mismatch_refused(rp, tmp, rng, base, row_shape):
    c, arr = base
    before, digest = rp.info(c), sha(c)
    bad = save(tmp, "bad.npy", make_array("<f4", (3,) + row_shape, rng))
    line = assert_runtime_error(rp("append", c, bad))
    assert shape_in(line, row_shape) and shape_in(line, (2, 5)), f"message should name both row shapes: {line!r}"
    assert_unchanged(rp, tmp, c, arr, before, digest)


def test_append_refused_file_among_good_ones_commits_nothing(rp, tmp, rng, base):
    c, arr = base
    before, digest = rp.info(c), sha(c)
    good = save(tmp, "good.npy", make_array("<f4", (6, 2, 5), rng))
    bad = save(tmp, "bad.npy", make_array("<f8", (3, 2, 5), rng))
    assert_runtime_error(rp("append", c, good, bad), str(bad))
    assert_unchanged(rp, tmp, c, arr, before, digest)


def test_append_fortran_and_0d_refused(rp, tmp, rng, base):
    c, arr = base
    before, digest = rp.info(c), sha(c)
    f = save(tmp, "f.npy", np.asfortranarray(make_array("<f4", (3, 2, 5), rng)))
    assert_runtime_error(rp("append", c, f), str(f))
    z = save(tmp, "z.npy", np.float32(1.0))
    assert_runtime_error(rp("append", c, z), str(z))
    assert_unchanged(rp, tmp, c, arr, before, digest)


# --- info --json --------------------------------------------------------------------------------


def test_info_json_values(rp, tmp, rng):
    dtype = np.dtype([("pos", "<f4", (3,)), ("id", "<u2")])
    arr = make_array(dtype, (100, 2), rng)
    c = tmp / "c.rowpack"
    rp.ok("import", save(tmp, "x.npy", arr), c, "--chunk-rows", "16", "--codec", "zlib", "--level", "4", "-q")
    info = rp.info(c)
    assert INFO_KEYS <= set(info), f"missing keys: {INFO_KEYS - set(info)}"
    assert info["rows"] == 100
    assert descr_dtype(info["dtype"]) == dtype
    assert info["dtype"] == str(np.lib.format.dtype_to_descr(dtype)), "dtype must be numpy's descr text"
    assert info["row_shape"] == [2]
    assert info["rows_per_chunk"] == 16
    assert info["chunks"] == 7
    assert info["codec"] == "zlib"
    assert info["level"] == 4
    assert info["shuffle"] is True
    assert info["raw_bytes"] == arr.nbytes
    assert info["file_bytes"] == c.stat().st_size
    assert isinstance(info["dead_bytes"], int) and 0 <= info["dead_bytes"] < info["file_bytes"]
    assert re.fullmatch(r"1\.\d+", str(info["format_version"])), info["format_version"]
    commits0 = info["commits"]
    assert isinstance(commits0, int) and commits0 >= 1

    # commits grows by one per append call, whatever the number of files in it.
    more = [save(tmp, f"m{i}.npy", make_array(dtype, (n, 2), rng)) for i, n in enumerate((5, 11, 16))]
    rp.ok("append", c, more[0], "-q")
    info1 = rp.info(c)
    assert info1["commits"] == commits0 + 1
    assert info1["rows"] == 105
    rp.ok("append", c, more[1], more[2], "-q")
    info2 = rp.info(c)
    assert info2["commits"] == commits0 + 2
    assert info2["rows"] == 132
    assert info2["chunks"] == 9
    assert info2["raw_bytes"] == 132 * arr.itemsize * 2
    assert info2["file_bytes"] == c.stat().st_size
    assert info2["file_bytes"] > info1["file_bytes"] > info["file_bytes"]


def test_info_scalar_rows_and_defaults(rp, tmp):
    arr = np.arange(1000, dtype="<i8")
    c = tmp / "c.rowpack"
    rp.ok("import", save(tmp, "x.npy", arr), c, "-q")
    info = rp.info(c)
    assert info["row_shape"] == []
    assert info["dtype"] == "<i8"
    assert info["codec"] == "zstd"
    assert info["chunks"] == -(-1000 // info["rows_per_chunk"])
    # Table form mentions the same facts.
    text = rp.ok("info", c).stdout
    assert "<i8" in text and "1000" in text and "zstd" in text


def test_dead_bytes_grow_when_partial_chunk_is_rewritten(rp, tmp, rng):
    """Appending after a commit that ended in a partial chunk supersedes that chunk's record."""

    def delta(initial_rows):
        c = tmp / f"c{initial_rows}.rowpack"
        rp.ok("import", save(tmp, f"i{initial_rows}.npy", make_array("<f8", (initial_rows, 4), rng)), c, "--chunk-rows", "8", "-q")
        before = rp.info(c)
        rp.ok("append", c, save(tmp, f"a{initial_rows}.npy", make_array("<f8", (6, 4), rng)), "-q")
        after = rp.info(c)
        assert after["rows"] == initial_rows + 6
        return before, after

    before_p, after_p = delta(10)  # 8 + 2: last chunk partial
    before_f, after_f = delta(16)  # 8 + 8: last chunk full
    assert after_p["dead_bytes"] > 0
    assert after_p["dead_bytes"] > before_p["dead_bytes"]
    grown_partial = after_p["dead_bytes"] - before_p["dead_bytes"]
    grown_full = after_f["dead_bytes"] - before_f["dead_bytes"]
    # The superseded record of chunk 1 (48-byte record header + payload) is dead as well.
    assert grown_partial >= grown_full + 48, (grown_partial, grown_full)
    assert after_p["chunks"] == 2 and after_f["chunks"] == 3


# --- verify ------------------------------------------------------------------------------------


def chunk_records(path):
    """(chunk, record offset, stored length) of the chunk records in file order."""
    data = path.read_bytes()
    (header_len,) = struct.unpack_from("<I", data, 12)
    records = []
    at = data.find(b"RPKC", header_len)
    while at >= 0 and at + 48 <= len(data) and data[at : at + 4] == b"RPKC":
        rows, chunk, raw, stored = struct.unpack_from("<IQQQ", data, at + 4)
        records.append((chunk, at, stored))
        at += 48 + stored
    return records


@pytest.mark.parametrize("codec", ["none", "zstd", "zlib"])
def test_verify_names_damaged_chunk(rp, tmp, rng, codec):
    arr = make_array("<f4", (50, 4), rng)
    c = tmp / "c.rowpack"
    rp.ok("import", save(tmp, "x.npy", arr), c, "--chunk-rows", "8", "--codec", codec, "-q")
    res = rp.ok("verify", c)
    assert_no_crash(res)
    records = chunk_records(c)
    assert [r[0] for r in records] == list(range(7)), records
    chunk, at, stored = records[3]
    data = bytearray(c.read_bytes())
    data[at + 48 + stored // 2] ^= 0x10
    c.write_bytes(bytes(data))
    res = rp("verify", c)
    assert res.returncode == 1, res
    assert_no_crash(res)
    assert re.search(r"chunk 3\b", res.stderr), f"verify must name chunk 3: {res.stderr!r}"
    assert not re.search(r"chunk [0-24-6]\b", res.stderr), f"only chunk 3 is damaged: {res.stderr!r}"
    # Reading other chunks still works; reading the damaged one fails cleanly.
    out = tmp / "ok.npy"
    rp.ok("read", c, "--rows", "0:24", "--out", out)
    assert_same_array(np.load(out), arr[:24])
    bad = rp("read", c, "--rows", "24:25", "--out", tmp / "bad.npy")
    assert_runtime_error(bad, str(c))


def _damage_chunk(c, chunk):
    records = chunk_records(c)
    _, at, stored = records[chunk]
    data = bytearray(c.read_bytes())
    data[at + 48 + stored // 2] ^= 0x01
    c.write_bytes(bytes(data))


@pytest.fixture
def damaged_large(rp, tmp):
    """A 24 MB container (several export blocks) whose chunk 25 of 30 is damaged."""
    arr = np.arange(3_000_000, dtype="<u8")
    c = tmp / "big.rowpack"
    rp.ok("import", save(tmp, "big.npy", arr), c, "--codec", "none", "--chunk-rows", "100000", "-q")
    assert len(chunk_records(c)) == 30
    _damage_chunk(c, 25)
    return c, arr


def test_failed_export_leaves_nothing_behind(rp, tmp, damaged_large):
    c, arr = damaged_large
    out = tmp / "out"
    out.mkdir()
    for argv in (["export", c, out / "e.npy"], ["read", c, "--rows", "0:3000000", "--out", out / "r.npy"]):
        res = rp(*argv)
        line = assert_runtime_error(res, str(c))
        assert re.search(r"chunk 25\b", line), line
        assert list(out.iterdir()) == [], f"{argv[0]} left {list(out.iterdir())}"
    # An existing destination is left as it was.
    keep = save(out, "keep.npy", arr[:5])
    before = keep.read_bytes()
    assert_runtime_error(rp("export", c, keep, "--force"), str(c))
    assert keep.read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["keep.npy"]


def test_failed_export_append_leaves_target_unchanged(rp, tmp, damaged_large):
    """`export --append` that fails on a damaged chunk must not leave part of the rows appended
    (the target would silently hold a prefix of the export)."""
    c, arr = damaged_large
    target = save(tmp, "t.npy", arr[:3])
    before = target.read_bytes()
    res = rp("export", c, target, "--append")
    assert_runtime_error(res, str(c))
    after = np.load(target, mmap_mode="r")
    assert after.shape == (3,), f"a failed export --append left {after.shape[0] - 3} rows appended"
    assert target.read_bytes() == before


def test_verify_ok_on_good_files(rp, tmp, rng):
    c = tmp / "c.rowpack"
    rp.ok("import", save(tmp, "x.npy", make_array("<c8", (300, 2), rng)), c, "--chunk-rows", "32", "-q")
    rp.ok("append", c, save(tmp, "y.npy", make_array("<c8", (41, 2), rng)), "-q")
    res = rp("verify", c)
    assert res.returncode == 0, res.stderr
    assert "341" in res.stdout


# --- recover -----------------------------------------------------------------------------------


@pytest.mark.parametrize("garbage", [b"\x00" * 3, b"RPKC" + bytes(range(200)), b"\xff" * 4096])
def test_recover_drops_garbage_after_last_commit(rp, tmp, rng, garbage):
    arr = make_array("<i2", (77, 3), rng)
    c = tmp / "c.rowpack"
    rp.ok("import", save(tmp, "x.npy", arr), c, "--chunk-rows", "10", "-q")
    good = c.read_bytes()
    info = rp.info(c)
    with open(c, "ab") as f:
        f.write(garbage)
    # Readers ignore the torn tail.
    assert_same_array(read_all(rp, tmp, c, 77), arr)
    res = rp.ok("recover", c)
    assert str(len(garbage)) in res.stdout + res.stderr, f"recover should say what it dropped: {res.stdout!r}"
    assert c.read_bytes() == good
    assert rp.info(c) == info
    rp.ok("verify", c)
    # A second recover has nothing to do.
    res = rp.ok("recover", c)
    assert c.read_bytes() == good
    # Appending after recovery works.
    rp.ok("append", c, save(tmp, "y.npy", arr[:5]), "-q")
    assert_same_array(read_all(rp, tmp, c, 82, "after.npy"), concat([arr, arr[:5]]))


def test_recover_after_torn_commit(rp, tmp, rng):
    """A commit cut short at several byte offsets: recover goes back to the previous one."""
    arr = make_array("<f8", (40, 2), rng)
    c = tmp / "c.rowpack"
    rp.ok("import", save(tmp, "x.npy", arr), c, "--chunk-rows", "16", "-q")
    first = c.read_bytes()
    rp.ok("append", c, save(tmp, "y.npy", make_array("<f8", (30, 2), rng)), "-q")
    second = c.read_bytes()
    assert second[: len(first)] == first
    for cut in sorted({len(first) + 1, len(first) + 60, (len(first) + len(second)) // 2, len(second) - 1}):
        c.write_bytes(second[:cut])
        res = rp.ok("recover", c)
        assert_no_crash(res)
        assert c.read_bytes() == first, f"cut at {cut}"
        assert_same_array(read_all(rp, tmp, c, 40), arr)


# --- compact -----------------------------------------------------------------------------------


@pytest.mark.parametrize("options", [[], ["--codec", "zlib", "--level", "9"], ["--codec", "none", "--chunk-rows", "5"]])
def test_compact_drops_dead_space(rp, tmp, rng, options):
    parts = [make_array("<f4", (n, 6), rng) for n in (10, 3, 7, 1, 20)]
    c = tmp / "c.rowpack"
    rp.ok("import", save(tmp, "p0.npy", parts[0]), c, "--chunk-rows", "8", "-q")
    for i, p in enumerate(parts[1:], 1):
        rp.ok("append", c, save(tmp, f"p{i}.npy", p), "-q")
    expected = concat(parts)
    src = rp.info(c)
    d = tmp / "d.rowpack"
    rp.ok("compact", c, d, *options, "-q")
    out = rp.info(d)
    # A freshly imported container holds no dead space beyond its creating commit's (FORMAT.md
    # §8.4: 148 bytes, the empty root and trailer of commit 1); compact must reach the same.
    fresh = tmp / "fresh.rowpack"
    rp.ok("import", save(tmp, "all.npy", expected), fresh, *options, "-q")
    assert out["dead_bytes"] == rp.info(fresh)["dead_bytes"]
    assert out["dead_bytes"] in (0, 148)
    assert out["dead_bytes"] < src["dead_bytes"]
    assert out["rows"] == src["rows"] == len(expected)
    if "--codec" in options:
        assert out["codec"] == options[options.index("--codec") + 1]
    if "--level" in options:
        assert out["level"] == int(options[options.index("--level") + 1])
    if not options:
        assert (out["codec"], out["level"], out["shuffle"], out["rows_per_chunk"]) == (
            src["codec"],
            src["level"],
            src["shuffle"],
            src["rows_per_chunk"],
        )
        assert out["file_bytes"] < src["file_bytes"]
    assert_same_array(read_all(rp, tmp, d, len(expected)), expected)
    rp.ok("verify", d)
    # The source is untouched and compact refuses to overwrite without --force.
    assert rp.info(c) == src
    assert_runtime_error(rp("compact", c, d), str(d))


# --- export --append ---------------------------------------------------------------------------


def test_export_append_adds_rows(rp, tmp, rng):
    arr = make_array("<i8", (30, 2), rng)
    c = tmp / "c.rowpack"
    rp.ok("import", save(tmp, "x.npy", arr), c, "--chunk-rows", "4", "-q")
    e = tmp / "e.npy"
    rp.ok("export", c, e, "-q")
    rp.ok("export", c, e, "--append", "-q")
    rp.ok("export", c, e, "--append", "--rows", "5:13", "-q")
    expected = concat([arr, arr, arr[5:13]])
    assert_same_array(np.load(e, mmap_mode="r"), expected)
    assert e.read_bytes() == save(tmp, "ref.npy", expected).read_bytes(), "header must stay canonical"


def test_export_append_to_np_save_file(rp, tmp, rng):
    arr = make_array("<f2", (9, 3), rng)
    head = make_array("<f2", (4, 3), rng)
    c = tmp / "c.rowpack"
    rp.ok("import", save(tmp, "x.npy", arr), c, "-q")
    e = save(tmp, "e.npy", head)
    rp.ok("export", c, e, "--append", "-q")
    assert_same_array(np.load(e), concat([head, arr]))


def test_export_append_mismatch_refused(rp, tmp, rng):
    arr = make_array("<i8", (30, 2), rng)
    c = tmp / "c.rowpack"
    rp.ok("import", save(tmp, "x.npy", arr), c, "-q")
    for name, other in (("dt.npy", make_array("<i4", (3, 2), rng)), ("sh.npy", make_array("<i8", (3, 3), rng))):
        e = save(tmp, name, other)
        before = e.read_bytes()
        assert_runtime_error(rp("export", c, e, "--append"), str(e))
        assert e.read_bytes() == before


def test_export_append_missing_target(rp, tmp, rng):
    c = tmp / "c.rowpack"
    rp.ok("import", save(tmp, "x.npy", make_array("<i8", (3,), rng)), c, "-q")
    e = tmp / "missing.npy"
    assert_runtime_error(rp("export", c, e, "--append"), str(e))


# --- SIGKILL during a container append -----------------------------------------------------------


def test_sigkill_during_append_keeps_last_commit(rp, tmp):
    rng = np.random.default_rng(99)
    src = rng.standard_normal((500_000, 4)).astype("<f8")  # 16 MB, barely compressible
    s = save(tmp, "src.npy", src)
    head = src[:1234]
    c = tmp / "c.rowpack"
    rp.ok("import", save(tmp, "head.npy", head), c, "--chunk-rows", "1000", "-q")
    copies = 3
    t0 = time.monotonic()
    rp.ok("append", c, *[s] * copies, "-q", timeout=300)
    window = time.monotonic() - t0
    rows = len(head) + copies * len(src)
    commits = rp.info(c)["commits"]
    rand = random.Random(5)
    killed = 0
    for attempt in range(12):
        if killed >= 5:
            break
        proc = rp.popen("append", c, *[s] * copies, "-q", stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rand.uniform(0.002, max(0.01, window * 0.9)))
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
        info = rp.info(c)
        if proc.returncode == -signal.SIGKILL:
            killed += 1
            # All or nothing: one commit per call.
            assert info["rows"] in (rows, rows + copies * len(src)), info
        else:
            assert proc.returncode == 0, err
            assert info["rows"] == rows + copies * len(src)
        if info["rows"] != rows:
            assert info["commits"] == commits + 1
            rows = info["rows"]
        else:
            assert info["commits"] == commits
        commits = info["commits"]
        res = rp("verify", c, timeout=120)
        assert res.returncode == 0, res.stderr
        # The rows around the end of the first append are what was written.
        out = tmp / "edge.npy"
        rp.ok("read", c, "--rows", f"{len(head) - 3}:{len(head) + 5}", "--out", out, "--force")
        np.testing.assert_array_equal(np.load(out), np.concatenate([head[-3:], src[:5]]))
        res = rp.ok("recover", c)
        assert rp.info(c)["rows"] == rows
    assert killed >= 3, f"only {killed} runs were killed before finishing"
    # One more append after all that, then the whole content.
    rp.ok("append", c, save(tmp, "tail.npy", head[:7]), "-q")
    rows += 7
    got = read_all(rp, tmp, c, rows)
    copies_total = (rows - len(head) - 7) // len(src)
    expected = np.concatenate([head] + [src] * copies_total + [head[:7]])
    np.testing.assert_array_equal(got, expected)
    rp.ok("verify", c)
    c.unlink()


# --- readers in other processes ------------------------------------------------------------------


def test_tail_prints_last_rows(rp, tmp):
    arr = (np.arange(60, dtype="<i4") - 7).reshape(20, 3)
    c = tmp / "c.rowpack"
    rp.ok("import", save(tmp, "x.npy", arr), c, "--chunk-rows", "6", "-q")
    lines = rp.ok("tail", c, "-n", "4").stdout.splitlines()
    assert [[int(v) for v in re.findall(r"-?\d+", line)] for line in lines] == [[i] + arr[i].tolist() for i in range(16, 20)]
    assert rp.ok("tail", c, "-n", "0").stdout == ""
    assert len(rp.ok("tail", c, "-n", "500").stdout.splitlines()) == 20


def test_tail_follow_sees_every_committed_row_once(rp, tmp):
    """A reader process follows a writer process: every row once, in order, only whole commits."""
    cols = 2
    first = np.arange(50 * cols, dtype="<i8").reshape(50, cols)
    c = tmp / "c.rowpack"
    rp.ok("import", save(tmp, "x.npy", first), c, "--chunk-rows", "16", "-q")
    batches = [np.arange(n * cols, dtype="<i8").reshape(n, cols) + 1000 * (k + 1) for k, n in enumerate((1, 37, 200, 5, 16, 999))]
    final = 50 + sum(len(b) for b in batches)
    follower = rp.popen(
        "tail", c, "--follow", "--from", "50", "--until-rows", final, "--interval-ms", "2",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        for k, b in enumerate(batches):
            rp.ok("append", c, save(tmp, f"b{k}.npy", b), "-q")
        out, err = follower.communicate(timeout=60)
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
    assert follower.returncode == 0, err
    rows = [[int(v) for v in line.split()] for line in out.splitlines()]
    expected = np.concatenate([first] + batches)
    assert [r[0] for r in rows] == list(range(50, final)), "each new row exactly once, in order"
    assert [r[1:] for r in rows] == expected[50:].tolist()


def test_info_during_append_shows_whole_commits(rp, tmp):
    rng = np.random.default_rng(3)
    src = rng.standard_normal((400_000, 4)).astype("<f4")
    s = save(tmp, "s.npy", src)
    c = tmp / "c.rowpack"
    rp.ok("import", s, c, "-q")
    proc = rp.popen("append", c, s, s, s, s, "-q", stderr=subprocess.PIPE)
    seen = set()
    polls = 0
    while proc.poll() is None or polls == 0:
        polls += 1
        info = rp("info", c, "--json")
        assert info.returncode == 0, info.stderr
        rows = json.loads(info.stdout)["rows"]
        assert rows in (400_000, 2_000_000), rows
        seen.add(rows)
    assert proc.wait() == 0
    assert rp.info(c)["rows"] == 2_000_000
    out = tmp / "tail.npy"
    rp.ok("read", c, "--rows", "1999990:2000000", "--out", out)
    np.testing.assert_array_equal(np.load(out), src[-10:])


@pytest.mark.parametrize("rows,slice_arg,index", [
    ("10:20", "3:7", (slice(10, 20), slice(3, 7))),
    ("0:13", "1:3,2:5", (slice(0, 13), slice(1, 3), slice(2, 5))),
    ("5:6", ",0:1", (slice(5, 6), slice(None), slice(0, 1))),
    ("7:7", "0:2", (slice(7, 7), slice(0, 2))),
])
def test_read_slice_equals_numpy_slicing(rp, tmp, rows, slice_arg, index):
    arr = np.random.default_rng(5).standard_normal((40, 8, 6)).astype("<f8")
    c = tmp / "c.rowpack"
    rp.ok("import", save(tmp, "x.npy", arr), c, "--chunk-rows", "7", "-q")
    out = tmp / "o.npy"
    rp.ok("read", c, "--rows", rows, "--slice", slice_arg, "--out", out)
    expected = arr[index]
    got = np.load(out, mmap_mode="r")
    assert got.shape == expected.shape and np.array_equal(got, expected)
    assert_runtime_error(rp("read", c, "--rows", "0:2", "--slice", "0:9"), str(c))
