"""Appending to .npy files: npy-append-array on our exports, `rowpack npy-append` on theirs,
refusals, `rowpack recover` on .npy files, and SIGKILL in the middle of appends."""

import os
import random
import signal
import subprocess
import time

import numpy as np
import pytest
from npy_append_array import NpyAppendArray

from interop_util import (
    assert_runtime_error,
    assert_same_array,
    canonical_header,
    concat,
    make_array,
    npy_header,
    old_style_npy,
)


def save(tmp, name, arr):
    path = tmp / name
    np.save(path, arr)
    return path


def naa_append(path, *arrays):
    with NpyAppendArray(str(path)) as naa:
        for arr in arrays:
            naa.append(np.ascontiguousarray(arr))


CASES = {
    "f4x3": ("<f4", (3,)),
    "i8": ("<i8", ()),
    "be_i4x2x2": (">i4", (2, 2)),
    "struct_sub": ([("pos", "<f4", (3,)), ("id", "<u2")], ()),
    "U3x2": ("<U3", (2,)),
    "M8ns": ("<M8[ns]", ()),
    "c16x1x2": ("<c16", (1, 2)),
}


# --- npy-append-array appends to our exports ------------------------------------------------------


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("rows", [0, 1, 500])
def test_npy_append_array_appends_to_export(rp, tmp, rng, case, rows):
    dtype, row_shape = CASES[case]
    first = make_array(dtype, (rows,) + row_shape, rng)
    c = tmp / "c.rowpack"
    rp.ok("import", save(tmp, "x.npy", first), c, "--chunk-rows", "64", "-q")
    e = tmp / "e.npy"
    rp.ok("export", c, e, "-q")
    more = [make_array(dtype, (n,) + row_shape, rng) for n in (1, 7, 0, 120)]
    naa_append(e, *more)
    expected = concat([first] + more)
    assert_same_array(np.load(e, mmap_mode="r"), expected)
    # npy-append-array rewrote the header in place: still numpy's exact header.
    assert e.read_bytes() == save(tmp, "ref.npy", expected).read_bytes()


def test_npy_append_array_appends_to_row_range_and_gather_exports(rp, tmp, rng):
    arr = make_array("<u2", (300, 4), rng)
    c = tmp / "c.rowpack"
    rp.ok("import", save(tmp, "x.npy", arr), c, "--chunk-rows", "16", "-q")
    e = tmp / "e.npy"
    rp.ok("export", c, e, "--rows", "17:170", "-q")
    naa_append(e, arr[:3])
    assert_same_array(np.load(e), concat([arr[17:170], arr[:3]]))
    lst = tmp / "rows.txt"
    lst.write_text("5\n299\n5\n0\n")
    g = tmp / "g.npy"
    rp.ok("read", c, "--rows-file", lst, "--out", g)
    naa_append(g, arr[10:12])
    assert_same_array(np.load(g), concat([arr[[5, 299, 5, 0]], arr[10:12]]))


# --- rowpack npy-append ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("writer", ["np.save", "npy-append-array"])
def test_rowpack_npy_append(rp, tmp, rng, case, writer):
    dtype, row_shape = CASES[case]
    first = make_array(dtype, (9,) + row_shape, rng)
    d = tmp / "d.npy"
    if writer == "np.save":
        np.save(d, first)
    else:
        with NpyAppendArray(str(d), delete_if_exists=True) as naa:
            naa.append(first[:4])
            naa.append(first[4:])
    sources = [make_array(dtype, (n,) + row_shape, rng) for n in (1, 0, 33)]
    paths = [save(tmp, f"s{i}.npy", s) for i, s in enumerate(sources)]
    rp.ok("npy-append", d, *paths, "-q")
    expected = concat([first] + sources)
    assert_same_array(np.load(d, mmap_mode="r"), expected)
    # The header is still numpy's canonical one...
    assert d.read_bytes() == save(tmp, "ref.npy", expected).read_bytes()
    # ... so npy-append-array (and we) can go on appending.
    tail = make_array(dtype, (5,) + row_shape, rng)
    naa_append(d, tail)
    rp.ok("npy-append", d, paths[0], "-q")
    expected = concat([expected, tail, sources[0]])
    assert_same_array(np.load(d, mmap_mode="r"), expected)
    assert d.read_bytes() == save(tmp, "ref2.npy", expected).read_bytes()


def test_rowpack_npy_append_to_empty_file(rp, tmp, rng):
    d = save(tmp, "d.npy", np.zeros((0, 3), dtype="<f8"))
    src = make_array("<f8", (4, 3), rng)
    rp.ok("npy-append", d, save(tmp, "s.npy", src), "-q")
    assert d.read_bytes() == save(tmp, "ref.npy", src).read_bytes()


def test_rowpack_npy_append_v3_header(rp, tmp, rng):
    # A non-latin1 field name makes numpy write a version 3.0 header.
    dtype = np.dtype([("温度", "<f4"), ("n", "<i2")])
    first = make_array(dtype, (6,), rng)
    with pytest.warns(UserWarning):
        d = save(tmp, "d.npy", first)
    assert npy_header(d)[0] == (3, 0)
    src = make_array(dtype, (11,), rng)
    with pytest.warns(UserWarning):
        s = save(tmp, "s.npy", src)
    rp.ok("npy-append", d, s, "-q")
    assert npy_header(d)[0] == (3, 0)
    expected = concat([first, src])
    assert_same_array(np.load(d, mmap_mode="r"), expected)
    with pytest.warns(UserWarning):
        ref = save(tmp, "ref.npy", expected)
    assert d.read_bytes() == ref.read_bytes()


MISMATCHES = {
    # name: (file dtype, file row shape, source array maker)
    "f8_into_f4": ("<f4", (2,), lambda rng: rng.standard_normal((3, 2)).astype("<f8"), ("<f8", "<f4")),
    "int300_into_u1": ("|u1", (), lambda rng: np.array([1, 300, 2]), ("<i8", "u1")),
    "u2_into_u1": ("|u1", (), lambda rng: np.array([1, 2], dtype="<u2"), ("<u2", "u1")),
    "be_into_le": ("<f8", (), lambda rng: np.array([1.5], dtype=">f8"), (">f8", "<f8")),
    "struct_names": (
        [("x", "<f4"), ("y", "<i8")],
        (),
        lambda rng: np.zeros(2, dtype=[("a", "<f4"), ("b", "<i8")]),
        ("'a'", "'x'"),
    ),
}


@pytest.mark.parametrize("name", list(MISMATCHES))
def test_npy_append_dtype_mismatch_refused(rp, tmp, rng, name):
    dtype, row_shape, make_src, named = MISMATCHES[name]
    d = save(tmp, "d.npy", make_array(dtype, (5,) + row_shape, rng))
    before = d.read_bytes()
    s = save(tmp, "s.npy", make_src(rng))
    line = assert_runtime_error(rp("npy-append", d, s))
    for text in named:
        assert text in line, f"message should name {text!r}: {line!r}"
    assert d.read_bytes() == before, "a refused append changed the file"


@pytest.mark.parametrize(
    "file_rows,src_rows",
    [((3,), (2,)), ((3,), ()), ((), (3,)), ((2, 3), (3, 2)), ((2, 3), (6,)), ((2, 3), (2, 3, 1))],
)
def test_npy_append_row_shape_mismatch_refused(rp, tmp, rng, file_rows, src_rows):
    d = save(tmp, "d.npy", make_array("<i4", (4,) + file_rows, rng))
    before = d.read_bytes()
    s = save(tmp, "s.npy", make_array("<i4", (2,) + src_rows, rng))
    line = assert_runtime_error(rp("npy-append", d, s))

    def named(shape):
        return any(f in line for f in (str(list(shape)), str(tuple(shape))))

    assert named(file_rows) and named(src_rows), f"message should name both row shapes: {line!r}"
    assert d.read_bytes() == before


def test_npy_append_mismatch_in_second_source_appends_nothing(rp, tmp, rng):
    d = save(tmp, "d.npy", make_array("<f4", (5, 2), rng))
    before = d.read_bytes()
    good = save(tmp, "g.npy", make_array("<f4", (3, 2), rng))
    bad = save(tmp, "b.npy", make_array("<f8", (3, 2), rng))
    assert_runtime_error(rp("npy-append", d, good, bad), str(bad))
    assert d.read_bytes() == before


def test_npy_append_refuses_0d_and_fortran_targets(rp, tmp, rng):
    z = save(tmp, "z.npy", np.float64(2.0))
    s = save(tmp, "s.npy", np.array([1.0]))
    before = z.read_bytes()
    assert_runtime_error(rp("npy-append", z, s), str(z))
    assert z.read_bytes() == before
    f = save(tmp, "f.npy", np.asfortranarray(np.arange(6.0).reshape(2, 3)))
    before = f.read_bytes()
    assert_runtime_error(rp("npy-append", f, save(tmp, "r.npy", np.zeros((1, 3)))), str(f))
    assert f.read_bytes() == before


# --- headers without growth room -------------------------------------------------------------------


def tight_old_style(tmp, name, arr_rows, rng):
    """A numpy < 1.24-style file (no growth spaces) whose 64-byte padding leaves ≤ 4 spaces."""
    for k in range(1, 80):
        dtype = np.dtype([("f" * k, "<f4"), ("n", "<i2")])
        arr = make_array(dtype, (arr_rows,), rng)
        path = tmp / name
        offset = old_style_npy(path, arr)
        _, hlen, _, _ = npy_header(path)
        raw = path.read_bytes()[10 : 10 + hlen]
        spare = len(raw) - len(raw.rstrip(b" \n")) - 1
        if spare <= 4:
            return path, arr, offset
    raise AssertionError("no tight header found")


def test_old_header_without_room_refused_then_rewritten(rp, tmp, rng):
    d, first, offset = tight_old_style(tmp, "old.npy", 5, rng)
    assert_same_array(np.load(d), first)  # numpy reads it
    src = make_array(first.dtype, (7,), rng)
    s = save(tmp, "s.npy", src)
    before = d.read_bytes()
    line = assert_runtime_error(rp("npy-append", d, s), str(d))
    assert "--rewrite-header" in line, f"should offer --rewrite-header: {line!r}"
    assert d.read_bytes() == before
    rp.ok("npy-append", d, s, "--rewrite-header", "-q")
    expected = concat([first, src])
    assert d.read_bytes() == save(tmp, "ref.npy", expected).read_bytes(), "not rewritten with numpy's canonical header"
    assert not [p for p in tmp.iterdir() if p.name.startswith("old.npy") and p.name != "old.npy"], "temporary file left"
    naa_append(d, src[:2])
    assert_same_array(np.load(d), concat([expected, src[:2]]))


def test_old_header_with_enough_slack_appends_in_place(rp, tmp, rng):
    # '<f4' rows of 3: the old header's 64-byte padding leaves room for any row count.
    first = make_array("<f4", (5, 3), rng)
    d = tmp / "old.npy"
    offset = old_style_npy(d, first)
    src = make_array("<f4", (4, 3), rng)
    rp.ok("npy-append", d, save(tmp, "s.npy", src), "-q")
    version, hlen, data_offset, header = npy_header(d)
    assert data_offset == offset
    assert header["shape"] == (9, 3)
    assert_same_array(np.load(d, mmap_mode="r"), concat([first, src]))


# --- trailing bytes and recover ----------------------------------------------------------------------


@pytest.mark.parametrize("extra", [1, 11, 12, 4096 + 5])
def test_npy_append_refuses_trailing_bytes(rp, tmp, rng, extra):
    d = save(tmp, "d.npy", make_array("<f4", (10, 3), rng))
    with open(d, "ab") as f:
        f.write(os.urandom(extra))
    before = d.read_bytes()
    line = assert_runtime_error(rp("npy-append", d, save(tmp, "s.npy", make_array("<f4", (2, 3), rng))), str(d))
    assert "rowpack recover" in line, f"should suggest `rowpack recover`: {line!r}"
    assert d.read_bytes() == before


@pytest.mark.parametrize("claimed,whole,partial", [(10, 17, 5), (0, 3, 0), (10, 10, 7), (4, 5, 1)])
def test_recover_npy_cuts_what_the_header_does_not_claim(rp, tmp, rng, claimed, whole, partial):
    """Bytes after the claimed rows were never acknowledged (after a power loss they may be
    zeros): by default recover cuts them and claims nothing new."""
    full = make_array("<i4", (whole, 3), rng)
    d = save(tmp, "d.npy", full[:claimed])
    with open(d, "ab") as f:
        f.write(full[claimed:].tobytes())
        f.write(os.urandom(partial))
    res = rp.ok("recover", d)
    extra = (whole - claimed) * 12 + partial
    assert f"cut {extra} bytes" in res.stdout and "--adopt-trailing-rows" in res.stdout, res.stdout
    assert d.read_bytes() == save(tmp, "ref.npy", full[:claimed]).read_bytes()
    rp.ok("npy-append", d, save(tmp, "s.npy", full[:1]))  # appendable again


@pytest.mark.parametrize("claimed,whole,partial", [(10, 17, 5), (0, 3, 0), (10, 10, 7), (4, 5, 1)])
def test_recover_npy_adopts_trailing_rows_when_asked(rp, tmp, rng, claimed, whole, partial):
    full = make_array("<i4", (whole, 3), rng)
    d = save(tmp, "d.npy", full[:claimed])
    with open(d, "ab") as f:
        f.write(full[claimed:].tobytes())
        f.write(os.urandom(partial))
    assert np.load(d, mmap_mode="r").shape[0] == claimed  # numpy sees the lagging header
    res = rp.ok("recover", d, "--adopt-trailing-rows")
    if whole > claimed:
        assert f"adopted {whole - claimed} unverified trailing rows" in res.stdout, res.stdout
    assert_same_array(np.load(d, mmap_mode="r"), full)
    assert d.read_bytes() == save(tmp, "ref.npy", full).read_bytes()
    # npy-append-array agrees it no longer needs recovery.
    naa_append(d, full[:1])
    assert_same_array(np.load(d), concat([full, full[:1]]))


def test_adopt_trailing_rows_is_for_npy_files_only(rp, tmp, rng):
    c = tmp / "c.rowpack"
    rp.ok("import", save(tmp, "s.npy", make_array("<i4", (4, 3), rng)), c)
    assert_runtime_error(rp("recover", c, "--adopt-trailing-rows"), str(c))


def test_recover_npy_from_npy_append_array_kill(rp, tmp, rng):
    """npy-append-array's header lags one append behind until close; a killed writer leaves
    that state behind. `rowpack recover --adopt-trailing-rows` repairs it like
    npy_append_array.recover would."""
    d = tmp / "d.npy"
    parts = [make_array("<f8", (10, 2), rng) for _ in range(5)]
    script = (
        "import numpy as np, os, sys\n"
        "from npy_append_array import NpyAppendArray\n"
        "parts = np.load(sys.argv[2])\n"
        "n = NpyAppendArray(sys.argv[1], delete_if_exists=True)\n"
        "for p in parts: n.append(p)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    stack = save(tmp, "parts.npy", np.stack(parts))
    res = subprocess.run(["python3", "-c", script, str(d), str(stack)], capture_output=True)
    assert res.returncode == -signal.SIGKILL
    assert np.load(d).shape[0] < 50
    with pytest.raises(ValueError):
        NpyAppendArray(str(d))
    rp.ok("recover", d, "--adopt-trailing-rows")
    assert_same_array(np.load(d), concat(parts))
    naa_append(d, parts[0])


def test_recover_npy_nothing_to_do(rp, tmp, rng):
    arr = make_array("<u8", (8,), rng)
    d = save(tmp, "d.npy", arr)
    before = d.read_bytes()
    rp.ok("recover", d)
    assert d.read_bytes() == before


# --- SIGKILL during appends --------------------------------------------------------------------------

KILL_COLS = 3  # 24-byte rows: page-sized writes cut rows in the middle
KILL_SRC_ROWS = 1_400_000  # ~32 MiB per source file
KILL_SOURCES = 4


def _pattern(start_in_segment, count):
    """Rows `start…start+count` of the repeated source: row r of the source holds r*COLS + c."""
    r = (np.arange(start_in_segment, start_in_segment + count, dtype=np.uint64) % KILL_SRC_ROWS)[:, None]
    return r * KILL_COLS + np.arange(KILL_COLS, dtype=np.uint64)


def _check_segments(arr, segments, upto):
    """`arr[:upto]` is the concatenation of the segments, each a prefix of the repeated source."""
    for start, length in segments:
        end = min(start + length, upto)
        if end <= start:
            continue
        step = 1 << 20
        for a in range(start, end, step):
            b = min(end, a + step)
            np.testing.assert_array_equal(arr[a:b], _pattern(a - start, b - a), err_msg=f"rows {a}:{b}")


def test_sigkill_during_npy_append(rp, tmp):
    src = tmp / "src.npy"
    np.save(src, _pattern(0, KILL_SRC_ROWS))
    d = tmp / "big.npy"
    np.save(d, _pattern(0, 1000))
    segments = [(0, 1000)]
    rows = 1000
    row_bytes = 8 * KILL_COLS
    offset = npy_header(d)[2]

    # One uninterrupted call to size the kill window.
    t0 = time.monotonic()
    rp.ok("npy-append", d, *[src] * KILL_SOURCES, "-q", timeout=300)
    window = time.monotonic() - t0
    segments.append((rows, KILL_SOURCES * KILL_SRC_ROWS))
    rows += KILL_SOURCES * KILL_SRC_ROWS

    rand = random.Random(20240611)
    killed = 0
    attempts = 0
    while killed < 5 and attempts < 12:
        attempts += 1
        proc = rp.popen("npy-append", d, *[src] * KILL_SOURCES, "-q", stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rand.uniform(0.002, max(0.01, window * 0.9)))
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
        if proc.returncode == -signal.SIGKILL:
            killed += 1
        else:
            assert proc.returncode == 0, err
        # numpy loads a prefix of the expected rows, all correct.
        arr = np.load(d, mmap_mode="r")
        assert arr.dtype == np.uint64 and arr.shape[1:] == (KILL_COLS,)
        claimed = arr.shape[0]
        assert rows <= claimed <= rows + KILL_SOURCES * KILL_SRC_ROWS
        size = d.stat().st_size
        assert offset + claimed * row_bytes <= size
        new_segment = (rows, KILL_SOURCES * KILL_SRC_ROWS)
        _check_segments(arr, [segments[0], new_segment], claimed)
        del arr
        # recover cuts what the header does not claim: never rows no append acknowledged.
        res = rp("recover", d, timeout=120)
        assert res.returncode == 0, res.stderr
        size = d.stat().st_size
        arr = np.load(d, mmap_mode="r")
        whole = (size - offset) // row_bytes
        assert size == offset + claimed * row_bytes and arr.shape[0] == whole == claimed, "recover adopted rows"
        assert npy_header(d)[2] == offset, "the header length changed"
        assert d.read_bytes()[:offset] == canonical_header("<u8", (whole, KILL_COLS)), "header not canonical after recover"
        _check_segments(arr, [segments[0], new_segment], whole)
        del arr
        segments.append((rows, whole - rows))
        rows = whole
    assert killed >= 3, f"only {killed} of {attempts} runs were killed before finishing"
    # The whole file, checked once more at the end; npy-append-array can still append.
    arr = np.load(d, mmap_mode="r")
    assert arr.shape[0] == rows
    _check_segments(arr, segments, rows)
    del arr
    naa_append(d, _pattern(0, 2))
    assert np.load(d, mmap_mode="r").shape[0] == rows + 2
    d.unlink()  # ~1 GB: do not keep it in pytest's retained temp dirs
    src.unlink()


# --- other header layouts --------------------------------------------------------------------------


def _raw_npy(text, data, version=(1, 0), align=64, extra=0):
    body = text.encode("latin1")
    prefix = 10 if version[0] == 1 else 12
    pad = (align - ((prefix + len(body) + 1) % align)) % align + extra
    body = body + b" " * pad + b"\n"
    size = len(body).to_bytes(2 if version[0] == 1 else 4, "little")
    return b"\x93NUMPY" + bytes(version) + size + body + data


def test_npy_append_keeps_over_padded_header(rp, tmp, rng):
    """A 256-byte header block (numpy loads it; npy-append-array would corrupt it): we append in
    place and keep its length, so numpy still reads every row."""
    first = make_array("<f4", (4, 3), rng)
    d = tmp / "d.npy"
    d.write_bytes(_raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }", first.tobytes(), align=256))
    assert npy_header(d)[2] == 256
    src = make_array("<f4", (6, 3), rng)
    rp.ok("npy-append", d, save(tmp, "s.npy", src), "-q")
    assert npy_header(d)[2] == 256
    assert_same_array(np.load(d, mmap_mode="r"), concat([first, src]))


def test_npy_append_keeps_v2_header(rp, tmp, rng):
    first = make_array("<i2", (4, 3), rng)
    d = tmp / "d.npy"
    text = "{'descr': '<i2', 'fortran_order': False, 'shape': (4, 3), }" + " " * 21
    d.write_bytes(_raw_npy(text, first.tobytes(), version=(2, 0)))
    assert npy_header(d)[0] == (2, 0)
    offset = npy_header(d)[2]
    src = make_array("<i2", (9, 3), rng)
    rp.ok("npy-append", d, save(tmp, "s.npy", src), "-q")
    version, _, data_offset, header = npy_header(d)
    assert (version, data_offset, header["shape"]) == ((2, 0), offset, (13, 3))
    assert_same_array(np.load(d, mmap_mode="r"), concat([first, src]))


def test_npy_append_non_canonical_header(rp, tmp, rng):
    """Double quotes, other key order, unaligned data: numpy loads it; without room it is
    refused, and --rewrite-header turns it into numpy's canonical file."""
    first = make_array("<f8", (4, 2), rng)
    d = tmp / "d.npy"
    d.write_bytes(_raw_npy('{"shape": (4, 2), "fortran_order": False, "descr": "<f8"}', first.tobytes(), align=1))
    assert_same_array(np.load(d), first)
    src = make_array("<f8", (3, 2), rng)
    s = save(tmp, "s.npy", src)
    before = d.read_bytes()
    assert_runtime_error(rp("npy-append", d, s), str(d))
    assert d.read_bytes() == before
    rp.ok("npy-append", d, s, "--rewrite-header", "-q")
    assert d.read_bytes() == save(tmp, "ref.npy", concat([first, src])).read_bytes()


def test_npy_append_past_2_to_32_rows(rp, tmp):
    """A sparse file of 2**32 + 5 rows: appends and recover use 64-bit row counts."""
    n = 2**32 + 5
    header = canonical_header("|u1", (n, 2))
    d = tmp / "huge.npy"
    with open(d, "wb") as f:
        f.write(header)
        f.seek(len(header) + (n - 1) * 2)
        f.write(b"\x07\x08")
    s = save(tmp, "s.npy", np.array([[1, 2], [3, 4]], dtype="|u1"))
    try:
        rp.ok("npy-append", d, s, "-q")
        arr = np.load(d, mmap_mode="r")
        assert arr.shape == (n + 2, 2)
        np.testing.assert_array_equal(arr[-3:], [[7, 8], [1, 2], [3, 4]])
        del arr
        with open(d, "rb") as f:
            assert f.read(len(header)) == canonical_header("|u1", (n + 2, 2))
        with open(d, "ab") as f:
            f.write(b"\x09\x0a\x0b")
        res = rp.ok("recover", d, "--adopt-trailing-rows")
        assert str(n + 3) in res.stdout
        arr = np.load(d, mmap_mode="r")
        assert arr.shape == (n + 3, 2)
        np.testing.assert_array_equal(arr[-1], [9, 10])
        assert d.stat().st_size == len(header) + (n + 3) * 2
    finally:
        d.unlink()


def test_export_append_to_old_header_offers_a_working_fix(rp, tmp, rng):
    """`export --append` to a header without room is refused; if the message offers
    --rewrite-header, `export --append --rewrite-header` must exist and work."""
    d, first, _ = tight_old_style(tmp, "old.npy", 5, rng)
    src = make_array(first.dtype, (7,), rng)
    c = tmp / "c.rowpack"
    rp.ok("import", save(tmp, "s.npy", src), c, "-q")
    before = d.read_bytes()
    line = assert_runtime_error(rp("export", c, d, "--append"), str(d))
    assert d.read_bytes() == before
    if "--rewrite-header" in line:
        res = rp("export", c, d, "--append", "--rewrite-header", "-q")
        assert res.returncode == 0, f"the error suggests --rewrite-header, which export rejects:\n{res.stderr}"
        assert d.read_bytes() == save(tmp, "ref.npy", concat([first, src])).read_bytes()


def test_second_npy_appender_is_refused_or_waits(rp, tmp):
    """Two `rowpack npy-append` processes on one file: the second is refused with one line (or
    runs after the first); the file is never left inconsistent."""
    n = 1_400_000
    src = tmp / "src.npy"
    np.save(src, np.arange(n * 3, dtype="<u8").reshape(n, 3))
    d = save(tmp, "d.npy", np.arange(30, dtype="<u8").reshape(10, 3))
    first = rp.popen("npy-append", d, src, src, src, src, "-q", stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.05)
    second = rp("npy-append", d, src, "-q")
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    if second.returncode != 0:
        assert_runtime_error(second, str(d))
        expected_rows = 10 + 4 * n
    else:
        expected_rows = 10 + 5 * n
    arr = np.load(d, mmap_mode="r")
    assert arr.shape == (expected_rows, 3)
    assert d.stat().st_size == npy_header(d)[2] + expected_rows * 24
    np.testing.assert_array_equal(arr[10 + n - 2 : 10 + n + 2], np.arange(n * 3, dtype="<u8").reshape(n, 3)[[-2, -1, 0, 1]])
    del arr
    d.unlink()


# --- lock first, then read the header ------------------------------------------------------------


def _delayed_flock(rowpack_bin, *args):
    """`rowpack args` under strace, every flock() held back 1 s before it runs: the window
    between opening the file and locking it, widened deterministically."""
    cmd = ["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=flock", "-e", "inject=flock:delay_enter=1000000",
           str(rowpack_bin), *map(str, args)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("second", ["npy-append", "export --append"])
def test_racing_appenders_keep_every_acknowledged_row(rp, rowpack_bin, tmp, second):
    """Two appenders start 0.3 s apart; each waits 1 s before taking the lock, so the second
    opens the file before the first has written. Reading the header before the lock, the
    second appended over the first's acknowledged rows. Every acknowledged row must be present
    exactly once, and the header must equal the data."""
    base = np.arange(30, dtype="<i8").reshape(10, 3)
    a = np.arange(1000, 1000 + 3 * 40, dtype="<i8").reshape(40, 3)
    b = np.arange(5000, 5000 + 3 * 25, dtype="<i8").reshape(25, 3)
    d = save(tmp, "d.npy", base)
    if second == "npy-append":
        second_args = ["npy-append", d, save(tmp, "b.npy", b), "-q"]
    else:
        rp.ok("import", save(tmp, "b.npy", b), tmp / "b.rowpack")
        second_args = ["export", tmp / "b.rowpack", d, "--append", "-q"]
    first = _delayed_flock(rowpack_bin, "npy-append", d, save(tmp, "a.npy", a), "-q")
    time.sleep(0.3)
    other = _delayed_flock(rowpack_bin, *second_args)
    out_first, out_other = first.communicate(timeout=60), other.communicate(timeout=60)
    for proc, (_, err) in ((first, out_first), (other, out_other)):
        assert proc.returncode in (0, 1), err
        if proc.returncode == 1:
            assert "another writer" in err, err
    expected = concat([base] + [rows for proc, rows in ((first, a), (other, b)) if proc.returncode == 0])
    assert first.returncode == 0 and other.returncode == 0, "the window did not open: the test proves nothing"
    assert_same_array(np.load(d), expected)
    assert d.stat().st_size == npy_header(d)[2] + expected.nbytes, "header and data disagree"


# --- hostile shapes --------------------------------------------------------------------------------


def _hostile_npy(path, shape, descr="|u1"):
    text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape!r}, }}".encode()
    body = text + b" " * (64 - (10 + len(text) + 1) % 64) + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body)
    return path


@pytest.mark.parametrize("shape", [(0, 2**40, 2**40), (0, 2**62, 4), (0, 2**63 - 1, 2)])
def test_hostile_row_shape_is_an_error_not_a_crash(rp, tmp, rng, shape):
    """The checked product of the shape is 0, but one row would be 2**64 bytes or more: every
    command says so in one line (exit 1) instead of trapping (exit 132). Run from a shell."""
    h = _hostile_npy(tmp / "h.npy", shape)
    ok = save(tmp, "ok.npy", make_array("|u1", (2, 3), rng))
    for args in (["import", h, tmp / "c.rowpack"], ["npy-append", h, ok], ["npy-append", ok, h], ["recover", h],
                 ["recover", h, "--adopt-trailing-rows"]):
        cmd = " ".join(f"'{a}'" for a in [rp.binary, *args])
        res = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True)
        assert res.returncode == 1, f"{args}: exit {res.returncode}: {res.stderr[:300]}"
        assert len(res.stderr.strip().splitlines()) == 1 and "overflows" in res.stderr, res.stderr


def test_rows_of_zero_bytes_cannot_be_appended(rp, tmp):
    """A target whose rows hold 0 bytes divided by zero when appending; now it is refused."""
    z = _hostile_npy(tmp / "z.npy", (3, 0))
    src = _hostile_npy(tmp / "s.npy", (2, 0))
    assert_runtime_error(rp("npy-append", z, src), str(z))
