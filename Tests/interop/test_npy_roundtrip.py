"""np.save → rowpack import → rowpack export gives back the very same bytes (DESIGN.md §5)."""

import numpy as np
import pytest

from interop_util import (
    assert_no_crash,
    assert_runtime_error,
    assert_same_array,
    canonical_header,
    descr_dtype,
    make_array,
    npy_header,
)

DTYPES = {
    "bool": "|b1",
    "int8": "|i1",
    "int16": "<i2",
    "int32": "<i4",
    "int64": "<i8",
    "uint8": "|u1",
    "uint16": "<u2",
    "uint32": "<u4",
    "uint64": "<u8",
    "float16": "<f2",
    "float32": "<f4",
    "float64": "<f8",
    "complex64": "<c8",
    "complex128": "<c16",
    "S5": "|S5",
    "U3": "<U3",
    "V7": "|V7",
    "M8ns": "<M8[ns]",
    "M8D": "<M8[D]",
    "m8_25s": "<m8[25s]",
    "struct": [("x", "<f4"), ("y", "<i8")],
    "struct_sub": [("pos", "<f4", (3,)), ("id", "<u2")],
    "struct_nested": [("a", "<i2"), ("b", [("c", "<f8"), ("d", "|S3", (2,))]), ("e", "|u1")],
    "be_f8": ">f8",
    "be_i4": ">i4",
}

ROW_SHAPES = {"rank0": (), "rank1": (3,), "rank2": (2, 3), "rank3": (2, 1, 4)}


def _save(path, arr):
    np.save(path, arr)
    return path.read_bytes()


@pytest.mark.parametrize("n", [0, 1, 1000])
@pytest.mark.parametrize("rank", list(ROW_SHAPES))
@pytest.mark.parametrize("family", list(DTYPES))
def test_import_export_byte_identical(rp, tmp, rng, family, rank, n):
    dtype = np.dtype(DTYPES[family])
    row_shape = ROW_SHAPES[rank]
    arr = make_array(dtype, (n,) + row_shape, rng)
    x = tmp / "x.npy"
    original = _save(x, arr)
    c = tmp / "c.rowpack"
    y = tmp / "y.npy"
    rp.ok("import", x, c, "-q")
    rp.ok("export", c, y, "-q")
    exported = y.read_bytes()
    assert len(exported) == len(original), f"export is {len(exported)} bytes, np.save wrote {len(original)}"
    assert exported == original, "export differs from np.save's bytes"
    loaded = np.load(y, mmap_mode="r")
    assert_same_array(loaded, arr)
    assert loaded.dtype == dtype
    # The container describes the array as numpy does.
    info = rp.info(c)
    assert info["rows"] == n
    assert tuple(info["row_shape"]) == row_shape
    assert descr_dtype(info["dtype"]) == dtype
    assert info["raw_bytes"] == arr.nbytes


# --- row ranges ----------------------------------------------------------------------------


@pytest.fixture
def chunked(rp, tmp, rng):
    """A 1000-row (N, 2, 3) <f8 container with 7-row chunks, and its source array."""
    arr = make(rng, "<f8", (1000, 2, 3))
    x = tmp / "x.npy"
    np.save(x, arr)
    c = tmp / "c.rowpack"
    rp.ok("import", x, c, "--chunk-rows", "7", "-q")
    return c, arr


def make(rng, dtype, shape):
    return make_array(dtype, shape, rng)


@pytest.mark.parametrize(
    "spec,sl",
    [
        ("0:1000", slice(0, 1000)),
        ("0:0", slice(0, 0)),
        ("5:6", slice(5, 6)),
        ("6:8", slice(6, 8)),  # crosses a chunk boundary
        ("7:14", slice(7, 14)),  # exactly one chunk
        ("13:995", slice(13, 995)),
        ("997:", slice(997, None)),
        (":20", slice(None, 20)),
        ("1000:1000", slice(1000, 1000)),
    ],
)
def test_export_rows_range(rp, tmp, chunked, spec, sl):
    c, arr = chunked
    y = tmp / "y.npy"
    rp.ok("export", c, y, "--rows", spec, "-q")
    part = np.ascontiguousarray(arr[sl])
    buf = tmp / "expected.npy"
    np.save(buf, part)
    assert y.read_bytes() == buf.read_bytes(), f"--rows {spec}: export differs from np.save(arr[{sl}])"
    assert_same_array(np.load(y, mmap_mode="r"), part)


def test_export_rows_out_of_range(rp, tmp, chunked):
    c, _ = chunked
    y = tmp / "y.npy"
    res = rp("export", c, y, "--rows", "990:1001")
    assert_runtime_error(res, str(c))
    assert not y.exists(), "a refused export left a file behind"


# --- storage options ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options,codec,level,shuffle,rows_per_chunk",
    [
        (["--codec", "zstd"], "zstd", 1, True, None),
        (["--codec", "zstd", "--level", "19"], "zstd", 19, True, None),
        (["--codec", "zstd", "--level=-5"], "zstd", -5, True, None),
        (["--codec", "zlib"], "zlib", 6, True, None),
        (["--codec", "zlib", "--level", "9", "--no-shuffle"], "zlib", 9, False, None),
        (["--codec", "zlib", "--level", "0"], "zlib", 0, True, None),
        (["--codec", "none"], "none", 0, True, None),
        (["--codec", "none", "--no-shuffle"], "none", 0, False, None),
        (["--no-shuffle"], "zstd", 1, False, None),
        (["--shuffle", "--level", "3"], "zstd", 3, True, None),
        (["--chunk-rows", "1"], "zstd", 1, True, 1),
        (["--chunk-rows", "7"], "zstd", 1, True, 7),
        (["--chunk-rows", "7", "--codec", "zlib", "--no-shuffle"], "zlib", 6, False, 7),
        (["--chunk-rows", "1", "--codec", "none"], "none", 0, True, 1),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_storage_options_round_trip(rp, tmp, rng, options, codec, level, shuffle, rows_per_chunk):
    # A smooth-ish float32 signal with a struct-free multi-byte dtype so shuffle matters.
    n = 503
    arr = (np.cumsum(rng.standard_normal((n, 4, 3)), axis=0)).astype("<f4")
    x = tmp / "x.npy"
    np.save(x, arr)
    c = tmp / "c.rowpack"
    rp.ok("import", x, c, *options, "-q")
    info = rp.info(c)
    assert info["codec"] == codec
    assert info["level"] == level
    assert info["shuffle"] is shuffle
    if rows_per_chunk is not None:
        assert info["rows_per_chunk"] == rows_per_chunk
    assert info["chunks"] == -(-n // info["rows_per_chunk"])
    y = tmp / "y.npy"
    rp.ok("export", c, y, "-q")
    assert y.read_bytes() == x.read_bytes()
    rp.ok("verify", c)
    # A slice across chunks reads back too.
    z = tmp / "z.npy"
    rp.ok("read", c, "--rows", "3:250", "--out", z)
    assert_same_array(np.load(z), arr[3:250])


def test_codecs_actually_compress(rp, tmp):
    arr = np.zeros((20000, 8), dtype="<f8")
    arr[:, 0] = np.arange(20000)
    x = tmp / "x.npy"
    np.save(x, arr)
    sizes = {}
    for codec in ("none", "zlib", "zstd"):
        c = tmp / f"{codec}.rowpack"
        rp.ok("import", x, c, "--codec", codec, "-q")
        sizes[codec] = rp.info(c)["file_bytes"]
    assert sizes["none"] >= arr.nbytes
    assert sizes["zlib"] < sizes["none"] / 5
    assert sizes["zstd"] < sizes["none"] / 5


# --- refused inputs ---------------------------------------------------------------------------


def _refused_import(rp, tmp, arr, name, **save):
    x = tmp / name
    if save.get("raw") is not None:
        x.write_bytes(save["raw"])
    else:
        np.save(x, arr, allow_pickle=True)
    c = tmp / "c.rowpack"
    res = rp("import", x, c)
    line = assert_runtime_error(res, str(x))
    assert not c.exists(), "a refused import left a container behind"
    return line


def test_import_refuses_0d(rp, tmp):
    line = _refused_import(rp, tmp, np.array(3.5), "scalar.npy")
    assert "0-d" in line or "rows" in line


def test_import_refuses_fortran_2d(rp, tmp):
    arr = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    x = tmp / "fortran.npy"
    np.save(x, arr)
    assert npy_header(x)[3]["fortran_order"] is True
    c = tmp / "c.rowpack"
    line = assert_runtime_error(rp("import", x, c), str(x))
    assert "ortran" in line
    assert not c.exists()


def test_import_accepts_fortran_flagged_1d(rp, tmp):
    # A 1-D array is both C and Fortran contiguous; a file flagged fortran_order True with one
    # dimension still has its rows in order (numpy never writes it, other tools may).
    arr = np.arange(10, dtype="<i4")
    text = "{'descr': '<i4', 'fortran_order': True, 'shape': (10,), }"
    hlen = len(text) + 1 + 21
    pad = 64 - ((10 + hlen) % 64)
    header = b"\x93NUMPY\x01\x00" + (hlen + pad).to_bytes(2, "little") + text.encode() + b" " * (21 + pad) + b"\n"
    x = tmp / "f1.npy"
    x.write_bytes(header + arr.tobytes())
    np.testing.assert_array_equal(np.load(x), arr)
    c = tmp / "c.rowpack"
    rp.ok("import", x, c, "-q")
    y = tmp / "y.npy"
    rp.ok("export", c, y, "-q")
    assert_same_array(np.load(y), arr)


@pytest.mark.parametrize(
    "arr",
    [
        np.array([1, "a", None], dtype=object),
        np.zeros(3, dtype=[("a", "<f4"), ("o", "O")]),
    ],
    ids=["object", "struct_with_object"],
)
def test_import_refuses_object_dtype(rp, tmp, arr):
    line = _refused_import(rp, tmp, arr, "obj.npy")
    assert "object" in line.lower() or "|O" in line


def test_import_refuses_existing_destination(rp, tmp, rng):
    arr = make(rng, "<f4", (10,))
    x = tmp / "x.npy"
    np.save(x, arr)
    c = tmp / "c.rowpack"
    rp.ok("import", x, c, "-q")
    before = c.read_bytes()
    res = rp("import", x, c)
    assert_runtime_error(res, str(c))
    assert c.read_bytes() == before
    rp.ok("import", x, c, "--force", "-q")
    assert rp.info(c)["rows"] == 10


def test_export_header_is_canonical_for_many_rows(rp, tmp):
    # Crossing digit counts (9 → 10 → 100000) keeps numpy's exact header.
    for n in (9, 10, 99999, 100000):
        arr = np.arange(n, dtype="<u2")
        x = tmp / f"x{n}.npy"
        np.save(x, arr)
        c = tmp / f"c{n}.rowpack"
        rp.ok("import", x, c, "-q")
        y = tmp / f"y{n}.npy"
        res = rp.ok("export", c, y, "-q")
        assert_no_crash(res)
        data = y.read_bytes()
        assert data.startswith(canonical_header("<u2", (n,)))
        assert data == x.read_bytes()


# --- dtype and header edge cases (research/npy.md §4) ----------------------------------------------

EDGE_DTYPES = {
    "v3_unicode_name": [("温度", "<f4"), ("n", "<i2")],
    "latin1_name": [("café", "<f4")],
    "titles": {"names": ["a", "b"], "formats": ["<i4", "<f8"], "titles": ["Title A", None]},
    "aligned_padding": np.dtype([("a", "u1"), ("b", "<i4"), ("c", "u1")], align=True),
    "quote_in_name": [("it's", "<f4"), ('x"y', "<i2")],
    "be_U5": ">U5",
    "generic_M8": "<M8",
    "longdouble": "<f16",
    "be_c16": ">c16",
    "be_struct": [("a", ">i8"), ("b", ">f4", (2,))],
    "struct_2d_sub": [("m", "<f8", (2, 2)), ("k", "|b1")],
}


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", list(EDGE_DTYPES))
def test_edge_dtype_round_trip(rp, tmp, rng, name):
    dtype = np.dtype(EDGE_DTYPES[name])
    arr = make_array(dtype, (37, 2), rng)
    x = tmp / "x.npy"
    np.save(x, arr)
    c = tmp / "c.rowpack"
    rp.ok("import", x, c, "--chunk-rows", "5", "-q")
    y = tmp / "y.npy"
    rp.ok("export", c, y, "-q")
    assert y.read_bytes() == x.read_bytes()
    loaded = np.load(y, mmap_mode="r")
    assert_same_array(loaded, np.load(x))
    assert descr_dtype(rp.info(c)["dtype"]) == loaded.dtype
    assert rp.info(c)["dtype"] == str(np.lib.format.dtype_to_descr(dtype))


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_v2_header_round_trip(rp, tmp):
    # A latin1 header over 65535 bytes makes numpy write version 2.0.
    dtype = np.dtype([(f"field_with_a_long_name_{i:05d}", "|u1") for i in range(2500)])
    arr = np.zeros(3, dtype=dtype)
    x = tmp / "x.npy"
    np.save(x, arr)
    assert npy_header(x)[0] == (2, 0)
    c = tmp / "c.rowpack"
    rp.ok("import", x, c, "-q")
    y = tmp / "y.npy"
    rp.ok("export", c, y, "-q")
    assert y.read_bytes() == x.read_bytes()


def test_non_canonical_header_imports_and_exports_canonical(rp, tmp, rng):
    """Any header numpy reads is accepted; the export has numpy's canonical header."""
    arr = make_array("<i4", (6, 2), rng)
    text = b'{"shape": (6, 2), "descr": "<i4", "fortran_order": False}\n'  # no padding, unaligned
    x = tmp / "x.npy"
    x.write_bytes(b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + arr.tobytes())
    assert_same_array(np.load(x), arr)
    c = tmp / "c.rowpack"
    rp.ok("import", x, c, "-q")
    y = tmp / "y.npy"
    rp.ok("export", c, y, "-q")
    ref = tmp / "ref.npy"
    np.save(ref, arr)
    assert y.read_bytes() == ref.read_bytes()


def test_import_ignores_bytes_after_data(rp, tmp, rng):
    """numpy ignores trailing bytes after the data (npy.md §4 #43); import takes the header's rows."""
    arr = make_array("<u4", (9, 2), rng)
    x = tmp / "x.npy"
    np.save(x, arr)
    with open(x, "ab") as f:
        f.write(b"\x01\x02\x03")
    c = tmp / "c.rowpack"
    rp.ok("import", x, c, "-q")
    assert rp.info(c)["rows"] == 9
    y = tmp / "y.npy"
    rp.ok("export", c, y, "-q")
    assert_same_array(np.load(y), arr)


def test_import_refuses_truncated_data(rp, tmp, rng):
    arr = make_array("<u4", (9, 2), rng)
    x = tmp / "x.npy"
    np.save(x, arr)
    x.write_bytes(x.read_bytes()[:-5])
    c = tmp / "c.rowpack"
    assert_runtime_error(rp("import", x, c), str(x))
    assert not c.exists()


PADDED_DTYPES = {
    "align_true": np.dtype([("a", "u1"), ("b", "<i4"), ("c", "<u2")], align=True),   # gaps 1..3, 10..11
    "offsets": np.dtype({"names": ["x", "y"], "formats": ["<u2", "<f4"], "offsets": [2, 8], "itemsize": 16}),
}


@pytest.mark.parametrize("name", list(PADDED_DTYPES))
def test_padding_bytes_are_data(rp, tmp, name):
    # FORMAT.md §10.2: padding bytes of a structured dtype are data. Every byte (padding
    # included) is set nonzero; import → export is byte-identical, `read --out` returns the
    # same rows, and the spec's independent reader returns them too.
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "Spec" / "tools"))
    import rowpack_reader

    dtype = PADDED_DTYPES[name]
    n = 23
    raw = bytes((i * 37 + 11) % 255 + 1 for i in range(n * dtype.itemsize))
    arr = np.frombuffer(raw, dtype=dtype)
    fields = sum(dtype.fields[f][0].itemsize for f in dtype.names)
    assert fields < dtype.itemsize, "the dtype has padding"
    x = tmp / "x.npy"
    np.save(x, arr)
    c = tmp / "c.rowpack"
    rp.ok("import", x, c, "--chunk-rows", "4", "-q")
    y = tmp / "y.npy"
    rp.ok("export", c, y, "-q")
    assert y.read_bytes() == x.read_bytes()
    z = tmp / "z.npy"
    rp.ok("read", c, "--rows", "3:20", "--out", z)
    assert np.load(z).tobytes() == raw[3 * dtype.itemsize:20 * dtype.itemsize]
    with rowpack_reader.open_container(c) as container:
        assert container.read_all().tobytes() == raw
    # Appending keeps them too: to the container, and to a .npy file.
    rp.ok("append", c, x, "-q")
    with rowpack_reader.open_container(c) as container:
        assert container.read_all().tobytes() == raw + raw
    rp.ok("npy-append", y, x, "-q")
    assert np.load(y).tobytes() == raw + raw
