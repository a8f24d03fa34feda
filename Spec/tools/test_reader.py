"""Tests for the independent reader ``rowpack_reader.py``.

Containers are built by ``PyWriter``, a small writer written from ``Spec/FORMAT.md`` (§3–§8), so
these tests check that the spec is complete and self-consistent. Tests marked ``swift`` run the
reference ``rowpack`` CLI (``$ROWPACK_BIN``, else ``.build/{release,debug}/rowpack``) and are
skipped when it is not built.

Run: ``python3 -m pytest Spec/tools -q``
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import rowpack_reader as rp  # noqa: E402

zstandard = pytest.importorskip("zstandard")

# ---------------------------------------------------------------------------------------------
# A writer, from the spec


shuffle_width = rp.shuffle_width


def encode_header(*, uuid, dtype, row_shape, rows_per_chunk, codec, level, filt, leaf_capacity=4096,
                  minor=0, major=1, required=0, optional=0, descr=None, extra_padding=0,
                  item_size=None, row_bytes=None) -> bytes:
    """§3."""
    descr = (descr if descr is not None else rp.canonical_descr(dtype)).encode()
    item_size = dtype.itemsize if item_size is None else item_size
    if row_bytes is None:
        row_bytes = item_size
        for d in row_shape:
            row_bytes *= d
    unpadded = 80 + 8 * len(row_shape) + len(descr) + 4
    length = (unpadded + 7) // 8 * 8 + extra_padding
    out = bytearray(rp.HEADER_MAGIC)
    out += struct.pack("<HHIII", major, minor, length, required, optional)
    out += uuid
    out += struct.pack("<QQII", rows_per_chunk, row_bytes, item_size, len(row_shape))
    out += struct.pack("<BBHiII", codec, filt, shuffle_width(dtype), level, leaf_capacity, len(descr))
    for d in row_shape:
        out += struct.pack("<Q", d)
    out += descr
    out += bytes(length - 4 - len(out))
    out += struct.pack("<I", rp.crc32c(out))
    assert len(out) == length
    return bytes(out)


def encode_record(*, chunk, rows, raw_length, payload, codec, level, filt, element_size) -> bytes:
    """§4."""
    head = struct.pack("<4sIQQQBBHiI", b"RPKC", rows, chunk, raw_length, len(payload), codec, filt,
                       element_size, level, rp.crc32c(payload))
    return head + struct.pack("<I", rp.crc32c(head)) + payload


def encode_page(magic: bytes, first: int, entries) -> bytes:
    """§5.1."""
    out = bytearray(magic + struct.pack("<IQ", len(entries), first))
    for offset, length in entries:
        out += struct.pack("<QQ", offset, length)
    return bytes(out + struct.pack("<I", rp.crc32c(out)))


def encode_trailer(*, sequence, rows, chunks, root, root_checksum, previous, committed, dead, uuid,
                   time_ns=1_700_000_000_000_000_000, major=1, minor=0, required=0, optional=0, size=128) -> bytes:
    """§6.1."""
    out = bytearray(b"RPKTRAIL" + struct.pack("<IHH", size, major, minor))
    out += struct.pack("<8Q", sequence, rows, chunks, root[0], root[1], previous, committed, dead)
    out += uuid + struct.pack("<QIII", time_ns, root_checksum, required, optional)
    out += struct.pack("<I", rp.crc32c(out)) + b"LIARTKPR"
    assert len(out) == 128
    return bytes(out)


def compress(codec: int, level: int, data: bytes) -> bytes:
    """§4.1."""
    if codec == rp.CODEC_NONE:
        return data
    if codec == rp.CODEC_ZLIB:
        return zlib.compress(data, level)
    return zstandard.ZstdCompressor(level=level, write_content_size=True).compress(data)


class PyWriter:
    """Creates (§8.1) and appends to (§8.2–§8.4) a container, keeping its state in memory."""

    def __init__(self, path, dtype, row_shape=(), rows_per_chunk=4, codec=rp.CODEC_ZLIB, level=None,
                 shuffle=None, leaf_capacity=4096, uuid=None, clock=None, compressor=None, **header_overrides):
        self.path = Path(path)
        self.dtype = np.dtype(dtype)
        self.row_shape = tuple(row_shape)
        self.R = rows_per_chunk
        self.K = leaf_capacity
        self.codec = codec
        self.level = {0: 0, 1: 6, 2: 1}[codec] if level is None else level
        width = shuffle_width(self.dtype)
        self.width = width if (shuffle if shuffle is not None else width > 1) and width > 1 else 1
        self.uuid = uuid or os.urandom(16)
        self.clock = clock or (lambda: 1_700_000_000_000_000_000)
        self.compress = compressor or compress   # (codec, level, filtered bytes) -> payload
        self.row_bytes = self.dtype.itemsize * int(np.prod(self.row_shape, dtype=np.int64))
        header = encode_header(
            uuid=self.uuid, dtype=self.dtype, row_shape=self.row_shape, rows_per_chunk=self.R, codec=codec,
            level=self.level, filt=1 if self.width > 1 else 0,
            leaf_capacity=self.K, **header_overrides)
        self.H = len(header)
        root = encode_page(b"RPKR", 0, [])
        trailer = encode_trailer(sequence=1, rows=0, chunks=0, root=(self.H, len(root)), root_checksum=rp.crc32c(root[:-4]),
                                 previous=0, committed=self.H + len(root) + 128, dead=0, uuid=self.uuid,
                                 time_ns=self.clock())
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_bytes(header + root + trailer)
        os.replace(tmp, self.path)
        self.end = self.H + len(root) + 128
        self.rows = 0                # rows appended
        self.tail = bytearray()      # rows of chunk rows // R (not yet full)
        self.tail_dirty = False
        self.entries = []            # record extent per chunk
        self.leaves = []             # leaf extent per leaf
        self.first_dirty = 0
        self.superseded = 0
        self.sequence = 1
        self.trailer_offset = self.H + len(root)
        self.root_length = len(root)
        self.dead = 0
        self.committed_rows = 0

    def _append_bytes(self, data: bytes) -> int:
        at = self.end
        with open(self.path, "r+b") as f:
            f.seek(at)
            f.write(data)
        self.end += len(data)
        return at

    def _write_chunk(self, chunk: int, raw: bytes, rows: int):
        filtered = rp.shuffle(raw, self.width) if self.width > 1 else raw
        payload = self.compress(self.codec, self.level, filtered)
        record = encode_record(chunk=chunk, rows=rows, raw_length=len(raw), payload=payload, codec=self.codec,
                               level=self.level, filt=1 if self.width > 1 else 0, element_size=self.width)
        extent = (self._append_bytes(record), len(record))
        if chunk < len(self.entries):
            self.superseded += self.entries[chunk][1]
            self.entries[chunk] = extent
        else:
            assert chunk == len(self.entries)
            self.entries.append(extent)
        self.first_dirty = min(self.first_dirty, chunk)

    def append(self, rows):
        array = np.ascontiguousarray(rows, dtype=self.dtype)
        assert array.shape[1:] == self.row_shape
        data = array.tobytes()
        for i in range(array.shape[0]):
            self.tail += data[i * self.row_bytes:(i + 1) * self.row_bytes]
            self.rows += 1
            self.tail_dirty = True
            if self.rows % self.R == 0:
                self._write_chunk((self.rows - 1) // self.R, bytes(self.tail), self.R)
                self.tail = bytearray()
                self.tail_dirty = False

    def commit(self, write_trailer=True) -> int:
        """§8.2; returns the new committed length. ``write_trailer=False`` leaves a torn commit."""
        if self.tail_dirty and self.rows % self.R:
            self._write_chunk(self.rows // self.R, bytes(self.tail), self.rows % self.R)
            self.tail_dirty = False
        chunks = -(-self.rows // self.R)
        dead = self.dead + self.root_length + 128
        leaves = list(self.leaves)
        for j in range(min(self.first_dirty, chunks) // self.K, -(-chunks // self.K)):
            page = encode_page(b"RPKL", j * self.K, self.entries[j * self.K:min((j + 1) * self.K, chunks)])
            extent = (self._append_bytes(page), len(page))
            if j < len(leaves):
                dead += leaves[j][1]
                leaves[j] = extent
            else:
                leaves.append(extent)
        dead += self.superseded
        root = encode_page(b"RPKR", 0, leaves)
        root_extent = (self._append_bytes(root), len(root))
        trailer = encode_trailer(sequence=self.sequence + 1, rows=self.rows, chunks=chunks, root=root_extent,
                                 root_checksum=rp.crc32c(root[:-4]), previous=self.trailer_offset,
                                 committed=self.end + 128, dead=dead, uuid=self.uuid, time_ns=self.clock())
        if not write_trailer:
            return self.end
        self.trailer_offset = self._append_bytes(trailer)
        self.sequence += 1
        self.leaves = leaves
        self.root_length = len(root)
        self.dead = dead
        self.superseded = 0
        self.first_dirty = chunks
        self.committed_rows = self.rows
        return self.end

    def junk(self, data: bytes):
        """Appends bytes that are not part of any commit (a torn tail)."""
        self._append_bytes(data)


def make(tmp_path, name="a.rowpack", **kwargs) -> PyWriter:
    return PyWriter(tmp_path / name, **kwargs)


def sample(n, shape=(3,), dtype="<f4", start=0):
    count = int(np.prod(shape, dtype=np.int64))
    values = np.arange(start * count, (start + n) * count, dtype=np.float64)
    return (values * 1.5 - 7).astype(dtype).reshape((n,) + tuple(shape))


def flip(path, offset, mask=0x01):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([b ^ mask]))


def patch(path, offset, data: bytes):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


# ---------------------------------------------------------------------------------------------
# §2 checksum, §4.2 shuffle


def test_crc32c_vectors():
    assert rp.crc32c(b"123456789") == 0xE3069283
    assert rp.crc32c(b"") == 0
    assert rp.crc32c(b"\x00" * 32) == 0x8A9136AA  # RFC 3720 B.4
    assert rp.crc32c(b"\xff" * 32) == 0x62A8AB43
    assert rp.crc32c(bytes(range(32))) == 0x46DD794E
    assert rp.crc32c(b"6789", rp.crc32c(b"12345")) == 0xE3069283


def test_root_checksum_is_the_root_page_crc():
    # §2, §6.1: `rootChecksum` covers the root's bytes [0, rootLength - 4), so it equals the
    # page's own CRC and differs between roots (unlike a CRC over the whole page, which is the
    # residue constant 0x48674BC7 for every intact page).
    values = set()
    for n in (0, 1, 7, 100):
        page = encode_page(b"RPKR", 0, [(1000 + i, 20) for i in range(n)])
        assert rp.crc32c(page[:-4]) == struct.unpack("<I", page[-4:])[0]
        assert rp.crc32c(page) == 0x48674BC7
        values.add(rp.crc32c(page[:-4]))
    assert len(values) == 4
    assert rp.crc32c(encode_page(b"RPKR", 0, [])[:-4]) == 0x6A004683  # §8.1: the creating commit's root


def assert_root_checksums(c):
    """Every commit of `c` stores its root's page CRC as `rootChecksum` (§6.1)."""
    for commit in c.commits:
        c._file.seek(commit.root_offset)
        root = c._file.read(commit.root_length)
        assert commit.root_checksum == rp.crc32c(root[:-4]) == struct.unpack("<I", root[-4:])[0]


def test_shuffle_definition():
    raw = bytes([0xA0, 0xA1, 0xB0, 0xB1, 0xC0, 0xC1, 0x77])
    assert rp.shuffle(raw, 2) == bytes([0xA0, 0xB0, 0xC0, 0xA1, 0xB1, 0xC1, 0x77])
    assert rp.unshuffle(rp.shuffle(raw, 2), 2) == raw
    raw4 = bytes(range(12))
    assert rp.shuffle(raw4, 4) == bytes([0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11])
    assert rp.shuffle(b"abc", 4) == b"abc"  # count 0: identity
    assert rp.shuffle(b"abcdef", 1) == b"abcdef"
    rng = random.Random(1)
    for width in (2, 3, 4, 5, 8, 12, 16, 65535):
        for n in (0, 1, width - 1, width, 3 * width + 1, 1000):
            data = bytes(rng.getrandbits(8) for _ in range(n))
            s = rp.shuffle(data, width)
            count = n // width
            for i in range(min(count, 3)):
                for j in range(width if width < 20 else 3):
                    assert s[j * count + i] == data[i * width + j]
            assert rp.unshuffle(s, width) == data


def test_shuffle_widths_follow_dtype():
    assert shuffle_width(np.dtype("<f4")) == 4
    assert shuffle_width(np.dtype("<c16")) == 8
    assert shuffle_width(np.dtype("<M8[ns]")) == 8
    assert shuffle_width(np.dtype("<U3")) == 4
    assert shuffle_width(np.dtype("|S5")) == 1
    assert shuffle_width(np.dtype("|u1")) == 1
    assert shuffle_width(np.dtype([("x", "<f4"), ("y", "<i8")])) == 12


# ---------------------------------------------------------------------------------------------
# Round trips through PyWriter


def test_empty_container(tmp_path):
    w = make(tmp_path, dtype="<f4", row_shape=(3,))
    with rp.open_container(w.path) as c:
        assert c.rows == 0 and c.chunks == 0
        assert c.dtype == np.dtype("<f4") and c.row_shape == (3,)
        assert c.rows_per_chunk == 4
        assert c.read_all().shape == (0, 3)
        assert [k.sequence for k in c.commits] == [1]
        assert c.commit.committed_length == c.size == w.H + 20 + 128
        assert c.verify() == []


@pytest.mark.parametrize("codec", [rp.CODEC_NONE, rp.CODEC_ZLIB, rp.CODEC_ZSTD])
@pytest.mark.parametrize("shuffle", [False, True])
def test_one_chunk(tmp_path, codec, shuffle):
    w = make(tmp_path, dtype="<f4", row_shape=(3,), rows_per_chunk=4, codec=codec, shuffle=shuffle)
    data = sample(4)
    w.append(data)
    w.commit()
    with rp.open_container(w.path) as c:
        assert c.rows == 4 and c.chunks == 1
        np.testing.assert_array_equal(c.read_all(), data)
        np.testing.assert_array_equal(c.read(1, 3), data[1:3])
        assert c.verify() == []


def test_partial_tail(tmp_path):
    w = make(tmp_path, dtype="<i8", row_shape=(2, 2), rows_per_chunk=4)
    data = sample(10, (2, 2), "<i8")
    w.append(data)
    w.commit()
    with rp.open_container(w.path) as c:
        assert c.rows == 10 and c.chunks == 3
        np.testing.assert_array_equal(c.read_all(), data)
        assert len(c.read_chunk(2)) == 2 * 32
        np.testing.assert_array_equal(c.read(7, 10), data[7:])
        with pytest.raises(IndexError):
            c.read(0, 11)
        assert c.verify() == []


def test_multi_commit_superseded_chunk(tmp_path):
    w = make(tmp_path, dtype="<f8", row_shape=(), rows_per_chunk=4)
    data = sample(13, (), "<f8")
    w.append(data[:5])
    w.commit()                       # seq 2: chunks 0 (full), 1 (1 row)
    first_tail = w.entries[1]
    w.append(data[5:6])
    w.commit()                       # seq 3: chunk 1 rewritten with 2 rows
    assert w.entries[1] != first_tail
    w.append(data[6:13])
    w.commit()                       # seq 4: chunk 1 rewritten (full), 2 full, 3 partial
    with rp.open_container(w.path) as c:
        assert c.rows == 13 and c.chunks == 4
        np.testing.assert_array_equal(c.read_all(), data)
        assert [k.sequence for k in c.commits] == [1, 2, 3, 4]
        assert [k.rows for k in c.commits] == [0, 5, 6, 13]
        assert c.commit.dead_bytes == w.dead > 0
        assert c.verify() == []
    # Older commits stay readable (§7.4), including the superseded partial record.
    for sequence, rows in [(1, 0), (2, 5), (3, 6)]:
        with rp.open_container(w.path, sequence=sequence) as old:
            assert old.rows == rows
            np.testing.assert_array_equal(old.read_all(), data[:rows])
            assert old.verify() == []


def test_dead_bytes_accounting_by_hand(tmp_path):
    w = make(tmp_path, dtype="<u2", row_shape=(2,), rows_per_chunk=2, codec=rp.CODEC_NONE)
    w.append(sample(3, (2,), "<u2"))
    w.commit()
    # dead: empty root (20) + trailer 1 (128)
    assert w.dead == 148
    old_record = w.entries[1][1]
    old_leaf = w.leaves[0][1]
    old_root = w.root_length
    w.append(sample(1, (2,), "<u2", start=3))
    w.commit()
    assert w.dead == 148 + old_root + 128 + old_leaf + old_record
    with rp.open_container(w.path) as c:
        assert c.commit.dead_bytes == w.dead
        assert c.verify() == []


def test_many_leaves_shared(tmp_path):
    w = make(tmp_path, dtype="|u1", row_shape=(3,), rows_per_chunk=1, leaf_capacity=2, codec=rp.CODEC_NONE)
    data = (np.arange(33) % 251).astype("u1").reshape(11, 3)
    w.append(data[:4])
    w.commit()
    leaf0 = w.leaves[0]
    w.append(data[4:7])
    w.commit()
    assert w.leaves[0] == leaf0       # full leaf of full chunks: never rewritten (§5.4)
    w.append(data[7:11])
    w.commit()
    with rp.open_container(w.path) as c:
        assert c.chunks == 11 and len(c.commit.leaves) == 6
        assert c.commit.leaves[0] == leaf0
        np.testing.assert_array_equal(c.read_all(), data)
        assert c.verify() == []


@pytest.mark.parametrize("dtype,shape", [
    ("|b1", (4,)), ("|i1", ()), ("<i2", (2,)), (">i4", (3,)), ("<u8", ()), ("<f2", (5,)), (">f8", (2, 2)),
    ("<c8", (2,)), ("<c16", ()), ("|S5", (2,)), ("<U3", ()), ("|V3", (2,)), ("<M8[ns]", ()), ("<m8[25s]", (2,)),
    ([("x", "<f4"), ("y", "<i8")], ()), ([("pos", "<f4", (3,)), ("id", "<u2")], (2,)),
    ({"names": ["a", "b"], "formats": ["<f4", "u1"], "offsets": [0, 8], "itemsize": 16}, ()),
    ([(("Title A", "a"), "<i4")], (1,)), ("<f4", (1, 1, 1, 1, 2)),
])
@pytest.mark.parametrize("codec", [rp.CODEC_ZLIB, rp.CODEC_ZSTD])
def test_dtypes(tmp_path, dtype, shape, codec):
    dt = np.dtype(dtype)
    rng = np.random.default_rng(7)
    n = 11
    raw = rng.integers(0, 256, size=n * dt.itemsize * int(np.prod(shape, dtype=np.int64)), dtype=np.uint8)
    if dt.kind == "b":
        raw &= 1
    data = raw.view(dt).reshape((n,) + shape)
    w = make(tmp_path, dtype=dt, row_shape=shape, rows_per_chunk=3, codec=codec)
    w.append(data[:4])
    w.commit()
    w.append(data[4:])
    w.commit()
    with rp.open_container(w.path) as c:
        assert c.dtype == dt
        assert c.header.descr == rp.canonical_descr(dt)
        out = c.read_all()
        assert out.dtype == dt and out.shape == data.shape
        assert out.tobytes() == data.tobytes()
        assert c.verify() == []


def test_zstd_negative_level_and_zlib_level_zero(tmp_path):
    for codec, level in [(rp.CODEC_ZSTD, -5), (rp.CODEC_ZSTD, 19), (rp.CODEC_ZLIB, 0), (rp.CODEC_ZLIB, 9)]:
        w = make(tmp_path, name=f"l{codec}{level}.rowpack", dtype="<f4", row_shape=(8,), codec=codec, level=level)
        data = sample(9, (8,))
        w.append(data)
        w.commit()
        with rp.open_container(w.path) as c:
            np.testing.assert_array_equal(c.read_all(), data)


def test_header_padding_and_optional_flags_ignored(tmp_path):
    # §3/§11: readers accept any padding length and ignore optional flags and newer minors.
    w = make(tmp_path, dtype="<f4", row_shape=(2,), extra_padding=24, optional=0xFFFFFFFF, minor=7)
    w.append(sample(5, (2,)))
    w.commit()
    with rp.open_container(w.path) as c:
        assert c.header.minor == 7 and c.header.length % 8 == 0
        np.testing.assert_array_equal(c.read_all(), sample(5, (2,)))


# ---------------------------------------------------------------------------------------------
# Torn tails and the backward scan (§7.2)


def test_torn_tail_after_last_trailer(tmp_path):
    w = make(tmp_path, dtype="<f4", row_shape=(3,))
    data = sample(9)
    w.append(data[:6])
    end = w.commit()
    w.append(data[6:9])
    w.commit(write_trailer=False)     # records, leaf, root written; no trailer
    assert w.end > end
    with rp.open_container(w.path) as c:
        assert c.rows == 6 and c.commit.committed_length == end
        np.testing.assert_array_equal(c.read_all(), data[:6])
    w.junk(b"RPKTRAIL" + bytes(50))   # a half-written trailer
    with rp.open_container(w.path) as c:
        assert c.rows == 6


def test_truncated_at_every_byte_of_last_commit(tmp_path):
    w = make(tmp_path, dtype="<i4", row_shape=(2,), rows_per_chunk=3, codec=rp.CODEC_ZSTD)
    data = sample(8, (2,), "<i4")
    w.append(data[:4])
    first_end = w.commit()
    w.append(data[4:])
    full_end = w.commit()
    blob = w.path.read_bytes()
    cut = tmp_path / "cut.rowpack"
    for length in range(first_end, full_end + 1):
        cut.write_bytes(blob[:length])
        with rp.open_container(cut) as c:
            expected = 8 if length == full_end else 4
            assert c.rows == expected, length
            np.testing.assert_array_equal(c.read_all(), data[:expected])
    for length in range(0, first_end):   # before commit 2 ends: commit 1 (0 rows) or nothing
        cut.write_bytes(blob[:length])
        try:
            with rp.open_container(cut) as c:
                assert c.rows == 0
        except rp.RowpackError:
            pass


def test_backward_scan_magic_straddling_blocks(tmp_path):
    w = make(tmp_path, dtype="|u1", row_shape=(4,), codec=rp.CODEC_NONE)
    data = (np.arange(40) % 256).astype("u1").reshape(10, 4)
    w.append(data)
    end = w.commit()
    for gap in (rp.SCAN_BLOCK - 4, rp.SCAN_BLOCK - 7, rp.SCAN_BLOCK - 8, rp.SCAN_BLOCK, rp.SCAN_BLOCK + 3, 2 * rp.SCAN_BLOCK + 1):
        with open(w.path, "r+b") as f:
            f.truncate(end)
            f.seek(end)
            f.write(b"\xAB" * gap)
        with rp.open_container(w.path) as c:
            assert c.rows == 10, gap
            np.testing.assert_array_equal(c.read_all(), data)


def test_stray_magics_in_tail_and_data(tmp_path):
    # End magics inside chunk data and in the torn tail must not confuse the scan.
    w = make(tmp_path, dtype="|S8", row_shape=(), rows_per_chunk=2, codec=rp.CODEC_NONE)
    data = np.array([b"LIARTKPR", b"RPKTRAIL", b"LIARTKPR"], dtype="S8")
    w.append(data)
    w.commit()
    w.append(data)
    w.commit(write_trailer=False)
    w.junk(b"LIARTKPR" * 3)
    with rp.open_container(w.path) as c:
        assert c.rows == 3
        np.testing.assert_array_equal(c.read_all(), data)


def test_copied_trailer_at_wrong_offset_is_not_a_commit(tmp_path):
    w = make(tmp_path, dtype="<f4", row_shape=(3,))
    w.append(sample(4))
    end = w.commit()
    trailer = w.path.read_bytes()[end - 128:end]
    w.append(sample(4, start=4))
    w.commit(write_trailer=False)
    w.junk(trailer)                   # valid bytes, but committedLength names another offset
    with rp.open_container(w.path) as c:
        assert c.commit.committed_length == end and c.rows == 4


# ---------------------------------------------------------------------------------------------
# Corruption must raise (§9.2)


@pytest.fixture
def small(tmp_path):
    w = make(tmp_path, dtype="<f4", row_shape=(3,), rows_per_chunk=4, codec=rp.CODEC_ZLIB)
    w.append(sample(6))
    w.commit()
    return w


def test_bad_magic(small):
    flip(small.path, 1)
    with pytest.raises(rp.NotAContainer):
        rp.open_container(small.path)


def test_too_short_and_empty(tmp_path):
    for content in (b"", b"\x89RPK", b"hello world, this is not it"):
        p = tmp_path / "x.rowpack"
        p.write_bytes(content)
        with pytest.raises(rp.NotAContainer):
            rp.open_container(p)


def test_major_version_two_refused(small):
    patch(small.path, 8, struct.pack("<H", 2))
    with pytest.raises(rp.UnsupportedVersion):
        rp.open_container(small.path)


def test_required_header_flag_refused(tmp_path):
    w = make(tmp_path, dtype="<f4", row_shape=(3,), required=1)
    with pytest.raises(rp.UnsupportedVersion):
        rp.open_container(w.path)


def test_header_checksum(small):
    flip(small.path, 45)              # rowBytes
    with pytest.raises(rp.CorruptContainer, match="header checksum"):
        rp.open_container(small.path)


@pytest.mark.parametrize("overrides,message", [
    ({"descr": "'|O'"}, "object dtype"),
    ({"descr": "[('a', '<f4'), ('b', '|O')]"}, "object dtype"),
    ({"descr": "'<f4"}, "not a Python literal"),
    ({"descr": "{'x': 1}"}, "string or a list"),
    ({"item_size": 8}, "item size"),
    ({"row_bytes": 13}, "row bytes"),
    ({"leaf_capacity": 0}, "leaf capacity"),
    ({"level": 23}, "level"),
])
def test_invalid_header_fields(tmp_path, overrides, message):
    dtype = np.dtype("<f4")
    kwargs = dict(uuid=os.urandom(16), dtype=dtype, row_shape=(3,), rows_per_chunk=4, codec=2, level=1, filt=1)
    kwargs.update(overrides)
    header = encode_header(**kwargs)
    p = tmp_path / "h.rowpack"
    root = encode_page(b"RPKR", 0, [])
    H = len(header)
    p.write_bytes(header + root + encode_trailer(sequence=1, rows=0, chunks=0, root=(H, 20), root_checksum=rp.crc32c(root[:-4]),
                                                 previous=0, committed=H + 148, dead=0, uuid=kwargs["uuid"]))
    with pytest.raises(rp.CorruptContainer, match=message):
        rp.open_container(p)


def test_oversized_chunk_refused(tmp_path):
    header = encode_header(uuid=b"u" * 16, dtype=np.dtype("<f8"), row_shape=(1 << 20,), rows_per_chunk=257,
                           codec=2, level=1, filt=1)
    p = tmp_path / "big.rowpack"
    p.write_bytes(header + bytes(200))
    with pytest.raises(rp.CorruptContainer, match="exceeds"):
        rp.open_container(p)


def test_payload_checksum_names_chunk(small):
    offset, length = small.entries[1]
    flip(small.path, offset + 48 + 2)
    with rp.open_container(small.path) as c:
        np.testing.assert_array_equal(c.read(0, 4), sample(4))     # chunk 0 still fine
        with pytest.raises(rp.CorruptContainer, match="payload checksum") as info:
            c.read(4, 6)
        assert info.value.chunk == 1
        assert len(c.verify()) == 1


def test_record_header_checksum(small):
    offset, _ = small.entries[0]
    flip(small.path, offset + 8)
    with rp.open_container(small.path) as c:
        with pytest.raises(rp.CorruptContainer, match="record header checksum"):
            c.read(0, 1)


def test_record_disagreeing_with_index(tmp_path):
    # A valid record of the wrong chunk number, listed in the index: must be refused (§7.3).
    w = make(tmp_path, dtype="<f4", row_shape=(3,), rows_per_chunk=2, codec=rp.CODEC_NONE)
    w.append(sample(4))
    w.commit()
    w.entries[0], w.entries[1] = w.entries[1], w.entries[0]   # chunks 0 and 1 swap records
    w.first_dirty = 0
    w.append(sample(1, start=4))
    w.commit()
    with rp.open_container(w.path) as c:
        # Swapped entries are out of order, which the page check refuses first (§5.1) ...
        with pytest.raises(rp.CorruptContainer, match="overlaps or precedes"):
            c.read(2, 3)


def test_index_pointing_forward_refused(tmp_path):
    w = make(tmp_path, dtype="<f4", row_shape=(3,), rows_per_chunk=2, codec=rp.CODEC_NONE)
    w.append(sample(2))
    w.commit()
    # A commit whose root points at a leaf placed after the root.
    leaf_offset = w.end + 20 + 16
    root = encode_page(b"RPKR", 0, [(leaf_offset, 36)])
    root_at = w._append_bytes(root)
    w._append_bytes(encode_page(b"RPKL", 0, [w.entries[0]]))
    w._append_bytes(encode_trailer(sequence=3, rows=2, chunks=1, root=(root_at, len(root)), root_checksum=rp.crc32c(root[:-4]),
                                   previous=w.trailer_offset, committed=w.end + 128, dead=0, uuid=w.uuid))
    with rp.open_container(w.path) as c:   # the bad commit is invalid: falls back to commit 2
        assert c.commit.sequence == 2


def test_leaf_wrong_count_or_first(tmp_path):
    w = make(tmp_path, dtype="<f4", row_shape=(3,), rows_per_chunk=2, codec=rp.CODEC_NONE)
    w.append(sample(4))
    w.commit()
    bad_leaf = encode_page(b"RPKL", 5, w.entries)          # wrong `first`
    at = w._append_bytes(bad_leaf)
    root = encode_page(b"RPKR", 0, [(at, len(bad_leaf))])
    root_at = w._append_bytes(root)
    w._append_bytes(encode_trailer(sequence=3, rows=4, chunks=2, root=(root_at, len(root)), root_checksum=rp.crc32c(root[:-4]),
                                   previous=w.trailer_offset, committed=w.end + 128, dead=0, uuid=w.uuid))
    with rp.open_container(w.path) as c:
        assert c.commit.sequence == 3
        with pytest.raises(rp.CorruptContainer, match="covers chunks 5"):
            c.read(0, 1)


def test_trailer_of_another_file(tmp_path):
    w = make(tmp_path, dtype="<f4", row_shape=(3,))
    w.append(sample(4))
    w.commit()
    other = make(tmp_path, name="b.rowpack", dtype="<f4", row_shape=(3,))
    # Same layout, other UUID: every trailer fails check 7, so there is no valid commit.
    blob = bytearray(w.path.read_bytes())
    blob[24:40] = other.uuid
    body = bytes(blob[:w.H - 4])
    blob[w.H - 4:w.H] = struct.pack("<I", rp.crc32c(body))
    w.path.write_bytes(bytes(blob))
    with pytest.raises(rp.CorruptContainer, match="no valid commit"):
        rp.open_container(w.path)


def patch_last_trailer(w, **fields):
    """Rewrites fields of `w`'s last trailer (name=(offset, struct format, value)) and its CRC."""
    end = w.end
    blob = bytearray(w.path.read_bytes())
    trailer = bytearray(blob[end - 128:end])
    for at, fmt, value in fields.values():
        struct.pack_into("<" + fmt, trailer, at, value)
    trailer[116:120] = struct.pack("<I", rp.crc32c(bytes(trailer[:116])))
    blob[end - 128:end] = trailer
    w.path.write_bytes(bytes(blob))


def test_commit_chain_links_end_before_the_root(small):
    # §9.2 rule 6: a previousTrailer that points between the previous commit's end and this commit's
    # root (below the trailer, but overlapping what follows it) is a broken link, not a walk to follow.
    small.append(sample(1, start=6))
    small.commit()
    with rp.open_container(small.path) as c:
        assert [k.sequence for k in c.commits] == [1, 2, 3]
        root_offset = c.commit.root_offset
    patch_last_trailer(small, previous=(56, "Q", root_offset - 64))
    with rp.open_container(small.path) as c:
        assert c.commit.sequence == 3            # opening never follows the chain
        with pytest.raises(rp.CorruptContainer, match="not below its root"):
            c.commits


def test_trailer_required_flag_at_end_reports_unsupported(small):
    patch_last_trailer(small, flags=(108, "I", 4))
    with pytest.raises(rp.UnsupportedVersion):
        rp.open_container(small.path)


@pytest.mark.parametrize("fields", [{"flags": (108, "I", 4)}, {"major": (12, "H", 2)}], ids=["flags", "major"])
def test_unsupported_trailer_found_by_scan_stops_open(small, fields):
    # §7.2: an unsupported candidate stops the open even behind a torn tail, instead of being
    # skipped like a corrupt one (which would silently open an older commit).
    patch_last_trailer(small, **fields)
    small.junk(b"torn")
    with pytest.raises(rp.UnsupportedVersion):
        rp.open_container(small.path)


def test_trailer_checks_decide_error_class_in_order(small):
    # §6.2: checks run in order and the first failure decides. An out-of-range u64 field
    # (check 5) comes before the required flags (check 6): corrupt, so the candidate is skipped.
    patch_last_trailer(small, flags=(108, "I", 4), rows=(24, "Q", (1 << 64) - 1))
    with rp.open_container(small.path) as c:
        assert c.commit.sequence == 1
    small.junk(b"torn")
    with rp.open_container(small.path) as c:
        assert c.commit.sequence == 1


def test_io_error_during_scan_stops_open(small, monkeypatch):
    # §7.2: only corrupt candidates are skipped; an I/O error while checking one ends the open.
    small.junk(b"torn tail")
    real = rp._pread

    def failing(container, offset, length, what):
        if what == "the commit trailer":
            raise rp.RowpackError(container.path, "cannot read the commit trailer: Input/output error", offset=offset)
        return real(container, offset, length, what)

    monkeypatch.setattr(rp, "_pread", failing)
    with pytest.raises(rp.RowpackError, match="Input/output error") as info:
        rp.open_container(small.path)
    assert not isinstance(info.value, rp.CorruptContainer)


def test_rows_times_row_bytes_must_fit_63_bits(tmp_path):
    # §6.2 check 9. R = 2^30 rows of 2 bytes and K = 2^20: 2^62 rows are 2^32 chunks in 4096
    # leaves, but 2^63 bytes, which no reader can address.
    w = make(tmp_path, dtype="<u2", rows_per_chunk=1 << 30, leaf_capacity=1 << 20, codec=rp.CODEC_NONE)
    rows, chunks, leaves = 1 << 62, 1 << 32, 1 << 12
    leaf_at = w.end                                      # one placeholder extent for every leaf
    w._append_bytes(bytes(20))
    root = encode_page(b"RPKR", 0, [(leaf_at, 20)] * leaves)
    root_at = w._append_bytes(root)
    w._append_bytes(encode_trailer(sequence=2, rows=rows, chunks=chunks, root=(root_at, len(root)),
                                   root_checksum=rp.crc32c(root[:-4]), previous=w.trailer_offset,
                                   committed=w.end + 128, dead=0, uuid=w.uuid))
    with rp.open_container(w.path) as c:
        assert c.commit.sequence == 1                    # the bad commit is skipped
        with pytest.raises(rp.CorruptContainer, match="exceed 2\\^63"):
            rp._load_commit(c, w.end - 128)


def _bad_commit(w, *, rows, chunks, root_page=None, root_extent=None, root_checksum=None):
    """Appends a commit (trailer CRC valid) with the given root; returns the trailer offset."""
    if root_page is not None:
        root_extent = (w._append_bytes(root_page), len(root_page))
        root_checksum = rp.crc32c(root_page[:-4]) if root_checksum is None else root_checksum
    at = w.end
    w._append_bytes(encode_trailer(sequence=w.sequence + 1, rows=rows, chunks=chunks, root=root_extent,
                                   root_checksum=root_checksum or 0, previous=w.trailer_offset,
                                   committed=w.end + 128, dead=0, uuid=w.uuid))
    return at


@pytest.mark.parametrize("case", ["root length", "root first", "root entry in header", "root offset in header"])
def test_root_and_trailer_bounds(tmp_path, case):
    # §6.2 checks 10–12: root extent at or after H, root length fixed by chunks and K before it is
    # read, the root's `first` 0, its entries at or after H.
    w = make(tmp_path, dtype="<f4", row_shape=(3,), rows_per_chunk=2, codec=rp.CODEC_NONE)
    w.append(sample(4))
    w.commit()
    leaf = w.leaves[0]
    if case == "root length":       # 2 chunks need 1 leaf: a 2-entry root is refused unread
        T = _bad_commit(w, rows=4, chunks=2, root_page=encode_page(b"RPKR", 0, [leaf, leaf]))
        message = "cannot list the 1 leaves"
    elif case == "root first":
        T = _bad_commit(w, rows=4, chunks=2, root_page=encode_page(b"RPKR", 3, [leaf]))
        message = "first field is 3"
    elif case == "root entry in header":
        T = _bad_commit(w, rows=4, chunks=2, root_page=encode_page(b"RPKR", 0, [(8, 52)]))
        message = "between the header and its page"
    else:                           # a root extent inside the header
        T = _bad_commit(w, rows=0, chunks=0, root_extent=(w.H - 20, 20), root_checksum=1)
        message = "points outside the committed bytes"
    with rp.open_container(w.path) as c:
        assert c.commit.sequence == 2
        with pytest.raises(rp.CorruptContainer, match=message):
            rp._load_commit(c, T)


def test_leaf_entry_in_header_refused(tmp_path):
    w = make(tmp_path, dtype="<f4", row_shape=(3,), rows_per_chunk=2, codec=rp.CODEC_NONE)
    w.append(sample(2))
    w.commit()
    leaf = encode_page(b"RPKL", 0, [(w.H - 8, 8 + 56)])   # straddles the header's end
    leaf_at = w._append_bytes(leaf)
    _bad_commit(w, rows=2, chunks=1, root_page=encode_page(b"RPKR", 0, [(leaf_at, len(leaf))]))
    with rp.open_container(w.path) as c:
        assert c.commit.sequence == 3
        with pytest.raises(rp.CorruptContainer, match="between the header and its page"):
            c.read_all()


def test_leaf_length_checked_before_reading(tmp_path, monkeypatch):
    w = make(tmp_path, dtype="<f4", row_shape=(3,), rows_per_chunk=2, codec=rp.CODEC_NONE)
    w.append(sample(2))
    w.commit()
    # A root entry claiming a 1 MiB leaf in a small file: refused from its length alone (§7.3).
    w.junk(bytes(1 << 20))
    _bad_commit(w, rows=2, chunks=1, root_page=encode_page(b"RPKR", 0, [(w.H + 148, 1 << 20)]))
    reads = []
    real = rp._pread
    monkeypatch.setattr(rp, "_pread", lambda c, o, n, what: reads.append(n) or real(c, o, n, what))
    with rp.open_container(w.path) as c:
        assert c.commit.sequence == 3
        with pytest.raises(rp.CorruptContainer, match="36 bytes|need 36"):
            c.read_all()
    assert max(reads) < 1 << 20


def test_root_checksum_binds_trailer_to_its_root(tmp_path):
    # §6.2 check 12: a trailer whose root extent holds a copy of another commit's root — a valid page
    # with a valid CRC and the right number of leaves, right before the trailer (check 10) — is
    # refused, because rootChecksum names its own root.
    w = make(tmp_path, dtype="<f4", row_shape=(3,), rows_per_chunk=4, codec=rp.CODEC_NONE)
    w.append(sample(2))
    w.commit()                                   # commit 2: 1 chunk, root with 1 leaf
    root2 = (w.trailer_offset - 36, 36)
    w.append(sample(1, start=2))
    w.commit()                                   # commit 3: 1 chunk (rewritten), root with 1 leaf
    t3 = w.trailer_offset
    blob = w.path.read_bytes()
    root3 = struct.unpack_from("<QQ", blob, t3 + 40)
    assert root3[1] == root2[1] and blob[root3[0]:root3[0] + 36] != blob[root2[0]:root2[0] + 36]
    # Commit 4: rows and chunks of commit 3, its root a copy of commit 2's, with commit 3's checksum.
    own_checksum = struct.unpack_from("<I", blob, t3 + 104)[0]
    root4 = (w.end, root2[1])
    w._append_bytes(blob[root2[0]:root2[0] + root2[1]])
    w._append_bytes(encode_trailer(sequence=4, rows=3, chunks=1, root=root4, root_checksum=own_checksum,
                                   previous=t3, committed=w.end + 128, dead=0, uuid=w.uuid))
    with rp.open_container(w.path) as c:         # the bad commit is invalid: falls back to commit 3
        assert c.commit.sequence == 3 and c.rows == 3
        with pytest.raises(rp.CorruptContainer, match="root checksum does not match"):
            rp._load_commit(c, w.end - 128)
    # With root 2's own checksum the trailer passes §6.2 (the field binds bytes, nothing more):
    # it opens, and the leaf's 2-row record then fails the §7.3 checks against 3 rows.
    patch(w.path, w.end - 128 + 104, blob[root2[0] + 32:root2[0] + 36])
    trailer = bytearray(w.path.read_bytes()[w.end - 128:w.end])
    trailer[116:120] = struct.pack("<I", rp.crc32c(bytes(trailer[:116])))
    patch(w.path, w.end - 128, bytes(trailer))
    with rp.open_container(w.path) as c:
        assert c.commit.sequence == 4
        with pytest.raises(rp.CorruptContainer, match="index expects chunk 0 with 3 rows"):
            c.read_all()


def test_root_checksum_field_checked(small):
    end = small.end
    blob = bytearray(small.path.read_bytes())
    trailer = bytearray(blob[end - 128:end])
    trailer[104:108] = struct.pack("<I", 0x12345678)
    trailer[116:120] = struct.pack("<I", rp.crc32c(bytes(trailer[:116])))
    blob[end - 128:end] = trailer
    small.path.write_bytes(bytes(blob))
    with rp.open_container(small.path) as c:     # falls back to the creating commit
        assert c.commit.sequence == 1 and c.rows == 0


def _rewrite_chunk(w, chunk, record_bytes):
    """Appends a commit whose index points chunk `chunk` at `record_bytes`."""
    extent = (w._append_bytes(record_bytes), len(record_bytes))
    w.entries[chunk] = extent
    w.first_dirty = min(w.first_dirty, chunk)
    w.rows = w.committed_rows
    w.tail_dirty = False
    chunks = -(-w.rows // w.R)
    leaf = encode_page(b"RPKL", 0, w.entries[:chunks])
    leaf_at = w._append_bytes(leaf)
    root = encode_page(b"RPKR", 0, [(leaf_at, len(leaf))])
    root_at = w._append_bytes(root)
    w._append_bytes(encode_trailer(sequence=w.sequence + 1, rows=w.rows, chunks=chunks, root=(root_at, len(root)),
                                   root_checksum=rp.crc32c(root[:-4]), previous=w.trailer_offset, committed=w.end + 128,
                                   dead=0, uuid=w.uuid))


@pytest.mark.parametrize("codec", [rp.CODEC_ZLIB, rp.CODEC_ZSTD])
def test_decompression_bomb_and_wrong_sizes(tmp_path, codec):
    for name, payload_raw in [("bomb", bytes(1 << 20)), ("short", bytes(47)), ("exact", bytes(48))]:
        w = make(tmp_path, name=f"{name}{codec}.rowpack", dtype="<f4", row_shape=(3,), rows_per_chunk=4,
                 codec=codec, shuffle=False)
        w.append(sample(4))
        w.commit()
        # zlib level 9 packs the 1 MiB bomb into 1039 bytes: within maxStoredLength(48) = 1072, so it
        # reaches the bounded decoder instead of being refused by its size (§4.1, §9).
        payload = compress(codec, 9 if codec == rp.CODEC_ZLIB else 1, payload_raw)
        assert len(payload) <= rp.max_stored_length(48)
        record = encode_record(chunk=0, rows=4, raw_length=48, payload=payload, codec=codec, level=1, filt=0, element_size=1)
        _rewrite_chunk(w, 0, record)
        with rp.open_container(w.path) as c:
            if name == "exact":
                assert c.read_all().tobytes() == bytes(48)
            else:
                with pytest.raises(rp.CorruptContainer, match="decode|says"):
                    c.read_all()


def test_zstd_frame_without_content_size(tmp_path):
    # Readers must not rely on the content size field (§4.1): bounded decode still applies.
    for name, raw, ok in [("exact", sample(4).tobytes(), True), ("bomb", bytes(1 << 20), False), ("short", bytes(40), False)]:
        w = make(tmp_path, name=f"{name}.rowpack", dtype="<f4", row_shape=(3,), rows_per_chunk=4, codec=rp.CODEC_ZSTD, shuffle=False)
        w.append(sample(4))
        w.commit()
        payload = zstandard.ZstdCompressor(level=1, write_content_size=False).compress(raw)
        record = encode_record(chunk=0, rows=4, raw_length=48, payload=payload, codec=2, level=1, filt=0, element_size=1)
        _rewrite_chunk(w, 0, record)
        with rp.open_container(w.path) as c:
            if ok:
                np.testing.assert_array_equal(c.read_all(), sample(4))
            else:
                with pytest.raises(rp.CorruptContainer):
                    c.read_all()


@pytest.mark.parametrize("codec", [rp.CODEC_ZLIB, rp.CODEC_ZSTD])
def test_trailing_bytes_after_stream_refused(tmp_path, codec):
    w = make(tmp_path, dtype="<f4", row_shape=(3,), rows_per_chunk=4, codec=codec, shuffle=False)
    w.append(sample(4))
    w.commit()
    payload = compress(codec, 1, sample(4).tobytes())
    payload += payload if codec == rp.CODEC_ZSTD else b"\x00\x01"   # second frame / garbage
    record = encode_record(chunk=0, rows=4, raw_length=48, payload=payload, codec=codec, level=1, filt=0, element_size=1)
    _rewrite_chunk(w, 0, record)
    with rp.open_container(w.path) as c:
        with pytest.raises(rp.CorruptContainer):
            c.read_all()


SKIPPABLE = b"\x50\x2a\x4d\x18" + struct.pack("<I", 4) + b"skip"   # a zstd skippable frame


def legacy_zstd_frame(raw: bytes) -> bytes:
    """`raw` as a zstd v0.7 frame (magic 0xFD2FB527, pre-RFC 8878): single segment, 1-byte content
    size, one raw block, end block. Not a Zstandard frame of §4.1, though libzstd builds with
    legacy support decode it."""
    assert len(raw) < 256
    return b"\x27\xb5\x2f\xfd" + bytes([0x20, len(raw), 0x40, 0, len(raw)]) + raw + b"\xc0\x00\x00"


def bad_record(name: str) -> bytes:
    """A chunk record for 4 rows of (3,) <f4 (48 raw bytes) that §4 forbids, checksums valid."""
    raw = sample(4).tobytes()
    zstd = compress(rp.CODEC_ZSTD, 1, raw)
    codec, payload, raw_length, filt, width = {
        "zlib trailing bytes": (1, compress(rp.CODEC_ZLIB, 1, raw) + b"\x00\x01", 48, 0, 1),
        "zstd two frames": (2, zstd + zstd, 48, 0, 1),
        "zstd skippable first": (2, SKIPPABLE + zstd, 48, 0, 1),
        "zstd skippable last": (2, zstd + SKIPPABLE, 48, 0, 1),
        "zstd skippable only": (2, SKIPPABLE, 48, 0, 1),
        "zstd legacy frame": (2, legacy_zstd_frame(raw), 48, 0, 1),
        "element size without filter": (0, raw, 48, 0, 4),
        # a payload of about 1150 bytes: above maxStoredLength(48) = 1072, refused from the index entry
        "extent above bound": (1, compress(rp.CODEC_ZLIB, 1, raw) + bytes(1100), 48, 0, 1),
        # 1050 stored bytes fit the entry's bound (1072) but not the record's own (8 raw: 1032)
        "stored above record bound": (1, bytes(1050), 8, 0, 1),
    }[name]
    return encode_record(chunk=0, rows=4, raw_length=raw_length, payload=payload, codec=codec, level=1,
                         filt=filt, element_size=width)


BAD_RECORDS = {
    "zlib trailing bytes": "zlib payload does not decode",
    "zstd two frames": "not exactly one frame",
    "zstd skippable first": "not exactly one frame",
    "zstd skippable last": "not exactly one frame",
    "zstd skippable only": "not exactly one frame",
    "zstd legacy frame": "not exactly one frame",
    "element size without filter": "element size 4 is not valid",
    "extent above bound": "does not fit a chunk of 48 raw bytes",
    "stored above record bound": "exceeds the bound for 8 raw bytes",
}


def make_bad_record_file(tmp_path, name):
    w = make(tmp_path, name=name.replace(" ", "_") + ".rowpack", dtype="<f4", row_shape=(3,), rows_per_chunk=4,
             codec=rp.CODEC_ZSTD, shuffle=False)
    w.append(sample(4))
    w.commit()
    _rewrite_chunk(w, 0, bad_record(name))
    return w.path


@pytest.mark.parametrize("name", BAD_RECORDS)
def test_bad_records_refused(tmp_path, name):
    # §4, §4.1, §7.3: one stream/frame filling the payload, elementSize 1 without the filter,
    # storedLength within maxStoredLength(rawLength), checked before the record is read.
    path = make_bad_record_file(tmp_path, name)
    with rp.open_container(path) as c:
        with pytest.raises(rp.CorruptContainer, match=BAD_RECORDS[name]):
            c.read_all()


def test_max_stored_length_covers_incompressible_data():
    # §9: the bound is above what zlib and zstd produce for incompressible data, at any level.
    rng = random.Random(5)
    for n in (0, 1, 100, 4096, 65535, 65536, 200000, 1 << 20):
        data = bytes(rng.getrandbits(8) for _ in range(n)) if n <= 65536 else os.urandom(n)
        for level in (0, 1, 9):
            assert len(zlib.compress(data, level)) <= rp.max_stored_length(n)
        for level in (-131072, 1, 22):
            assert len(compress(rp.CODEC_ZSTD, level, data)) <= rp.max_stored_length(n)
    assert rp.max_stored_length(1 << 31) == 2_164_261_888


def test_every_single_bit_flip_is_detected_or_harmless(tmp_path):
    """Flip one bit of every byte: the reader either raises RowpackError, or returns exactly the
    rows of some commit of the file (an older one when the newest trailer was hit)."""
    w = make(tmp_path, dtype="<i2", row_shape=(2,), rows_per_chunk=2, codec=rp.CODEC_ZLIB)
    data = sample(5, (2,), "<i2")
    w.append(data[:3])
    w.commit()
    w.append(data[3:])
    w.commit()
    blob = w.path.read_bytes()
    p = tmp_path / "flip.rowpack"
    outcomes = {"error": 0, "newest": 0, "older": 0}
    for offset in range(len(blob)):
        for mask in (0x01, 0x80):
            b = bytearray(blob)
            b[offset] ^= mask
            p.write_bytes(bytes(b))
            try:
                with rp.open_container(p) as c:
                    out = c.read_all()
                    c.commits
            except rp.RowpackError:
                outcomes["error"] += 1
                continue
            assert out.tobytes() == data[:c.rows].tobytes(), offset
            assert c.rows in (0, 3, 5)
            outcomes["newest" if c.rows == 5 else "older"] += 1
    assert outcomes["error"] > 0 and outcomes["older"] > 0


# ---------------------------------------------------------------------------------------------
# CLI


def test_cli_out_and_info(tmp_path, small):
    out = tmp_path / "x.npy"
    script = Path(rp.__file__)
    r = subprocess.run([sys.executable, str(script), str(small.path), "--out", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(np.load(out), sample(6))
    r = subprocess.run([sys.executable, str(script), str(small.path), "--commits", "--verify"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["rows"] == 6 and info["dtype"] == "<f4" and info["descr"] == "'<f4'" and info["row_shape"] == [3] and info["commits"] == 2
    flip(small.path, 3)
    r = subprocess.run([sys.executable, str(script), str(small.path)], capture_output=True, text=True)
    assert r.returncode == 1 and str(small.path) in r.stderr and "\n" == r.stderr[-1] and r.stderr.count("\n") == 1
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert r.returncode == 64


# ---------------------------------------------------------------------------------------------
# The reference implementation (skipped unless its CLI is built)


def _rowpack_bin():
    candidates = [os.environ.get("ROWPACK_BIN")]
    root = Path(__file__).resolve().parents[2]
    candidates += [str(root / ".build" / "release" / "rowpack"), str(root / ".build" / "debug" / "rowpack")]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


ROWPACK = _rowpack_bin()
swift = pytest.mark.skipif(ROWPACK is None, reason="rowpack CLI not built (set ROWPACK_BIN)")


def _run(*args):
    r = subprocess.run([ROWPACK, *map(str, args)], capture_output=True, text=True)
    assert r.returncode == 0, f"rowpack {' '.join(map(str, args))}: {r.stderr}"
    return r.stdout


def _run_failing(*args) -> str:
    """Runs the CLI expecting exit status 1 (bad file); returns its stderr."""
    r = subprocess.run([ROWPACK, *map(str, args)], capture_output=True, text=True)
    assert r.returncode == 1, f"rowpack {' '.join(map(str, args))}: exit {r.returncode}, {r.stdout} {r.stderr}"
    return r.stderr


@swift
@pytest.mark.parametrize("codec,shuffle", [("none", "--no-shuffle"), ("zlib", "--shuffle"), ("zstd", "--shuffle"), ("zstd", "--no-shuffle")])
def test_swift_written_files_read_back(tmp_path, codec, shuffle):
    data = sample(23, (3,), "<f4")
    np.save(tmp_path / "a.npy", data[:10])
    np.save(tmp_path / "b.npy", data[10:17])
    np.save(tmp_path / "c.npy", data[17:])
    dst = tmp_path / "s.rowpack"
    _run("import", tmp_path / "a.npy", dst, "--codec", codec, shuffle, "--chunk-rows", "4", "--quiet")
    _run("append", dst, tmp_path / "b.npy")
    _run("append", dst, tmp_path / "c.npy")
    with rp.open_container(dst) as c:
        np.testing.assert_array_equal(c.read_all(), data)
        assert [k.rows for k in c.commits][-3:] == [10, 17, 23]
        assert c.verify() == []          # includes the §8.4 dead-byte identity
        assert_root_checksums(c)
        info = json.loads(_run("info", dst, "--json"))
        assert info["rows"] == 23 and info["dead_bytes"] == c.commit.dead_bytes
        assert info["chunks"] == c.chunks and info["commits"] == c.commit.sequence


@swift
def test_python_written_files_read_by_swift(tmp_path):
    w = make(tmp_path, dtype="<f8", row_shape=(2,), rows_per_chunk=3, codec=rp.CODEC_ZSTD)
    data = sample(10, (2,), "<f8")
    w.append(data[:4])
    w.commit()
    w.append(data[4:])
    w.commit()
    _run("verify", w.path)
    _run("export", w.path, tmp_path / "out.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), data)


SWIFT_DTYPES = [
    ("|b1", (2,)), ("|i1", ()), ("<i2", (3,)), (">i4", ()), ("<u8", (2,)), ("<f2", (4,)), (">f8", (2, 2)),
    ("<c8", ()), ("<c16", (2,)), ("|S5", ()), ("<U3", (2,)), ("|V3", ()), ("<M8[ns]", ()), ("<m8[25s]", (2,)),
    ([("x", "<f4"), ("y", "<i8")], ()), ([("pos", "<f4", (3,)), ("id", "<u2")], (2,)),
    ({"names": ["a", "b"], "formats": ["<f4", "u1"], "offsets": [0, 8], "itemsize": 16}, ()),
]


@swift
@pytest.mark.parametrize("dtype,shape", SWIFT_DTYPES)
def test_swift_dtypes(tmp_path, dtype, shape):
    dt = np.dtype(dtype)
    rng = np.random.default_rng(3)
    n = 29
    raw = rng.integers(0, 256, size=n * dt.itemsize * int(np.prod(shape, dtype=np.int64)), dtype=np.uint8)
    if dt.kind == "b":
        raw &= 1
    data = raw.view(dt).reshape((n,) + shape)
    np.save(tmp_path / "a.npy", data[:12])
    np.save(tmp_path / "b.npy", data[12:])
    dst = tmp_path / "d.rowpack"
    _run("import", tmp_path / "a.npy", dst, "--chunk-rows", "5", "--quiet")
    _run("append", dst, tmp_path / "b.npy")
    with rp.open_container(dst) as c:
        assert c.dtype == dt
        assert c.header.descr == rp.canonical_descr(dt)
        assert c.read_all().tobytes() == data.tobytes()
        assert c.verify() == []
        assert c.header.shuffle_element_size == shuffle_width(dt)
        assert_root_checksums(c)
        info = json.loads(_run("info", dst, "--json"))
        assert (info["dtype"], info["descr"]) == (c.info()["dtype"], c.header.descr)
        assert info["dtype"] == (c.header.descr if dt.names is not None else dt.str)
        for k in range(c.chunks):        # §4.2: writers use the dtype's width, filter 0 when it is 1
            offset, _ = c._chunk_extent(k)
            c._file.seek(offset + 33)
            filt, width = struct.unpack("<BH", c._file.read(3))
            assert (filt, width) == ((1, shuffle_width(dt)) if shuffle_width(dt) > 1 else (0, 1))


@swift
@pytest.mark.parametrize("name", BAD_RECORDS)
def test_swift_refuses_bad_records(tmp_path, name):
    # The reference reader refuses the same records as this one (§4, §4.1, §7.3).
    path = make_bad_record_file(tmp_path, name)
    assert json.loads(_run("info", path, "--json"))["rows"] == 4      # the commit itself is valid
    _run_failing("verify", path)
    _run_failing("export", path, tmp_path / "out.npy")


@swift
def test_swift_refuses_zero_byte_rows(tmp_path):
    w = make(tmp_path, dtype="<f4", row_shape=(2, 0), rows_per_chunk=4, codec=rp.CODEC_NONE, shuffle=False)
    assert "at least one byte" in _run_failing("info", w.path)


@swift
def test_swift_uses_stored_header_length(tmp_path):
    # §3.1: a valid but non-canonical descr (no spaces) and extra padding make the stored H differ
    # from the length a re-encoded header would have; readers must use the stored H.
    dt = np.dtype([(f"f{i}", "<f4") for i in range(12)])
    descr = rp.canonical_descr(dt).replace(" ", "")
    w = make(tmp_path, dtype=dt, rows_per_chunk=3, codec=rp.CODEC_ZLIB, descr=descr, extra_padding=16)
    data = np.arange(7 * 12, dtype="<f4").view(dt)
    w.append(data[:5])
    w.commit()
    w.append(data[5:])
    w.commit()
    w.junk(b"torn")                                   # force the backward scan, bounded below by H
    with rp.open_container(w.path) as c:
        assert c.header.length == len(encode_header(uuid=w.uuid, dtype=dt, row_shape=(), rows_per_chunk=3, codec=1,
                                                    level=6, filt=1, descr=descr)) + 16
        assert c.rows == 7
    info = json.loads(_run("info", w.path, "--json"))
    assert info["rows"] == 7 and info["descr"] == rp.canonical_descr(dt)
    _run("verify", w.path)
    _run("export", w.path, tmp_path / "out.npy")
    assert np.load(tmp_path / "out.npy").tobytes() == data.tobytes()


@swift
def test_swift_root_checksum_binds_root(tmp_path):
    # The commit whose trailer points at another commit's root is refused by both readers.
    w = make(tmp_path, dtype="<f4", row_shape=(3,), rows_per_chunk=4, codec=rp.CODEC_NONE)
    w.append(sample(2))
    w.commit()
    root2 = (w.trailer_offset - 36, 36)
    w.append(sample(1, start=2))
    w.commit()
    own = struct.unpack("<I", w.path.read_bytes()[w.trailer_offset + 104:w.trailer_offset + 108])[0]
    _bad_commit(w, rows=3, chunks=1, root_extent=root2, root_checksum=own)
    info = json.loads(_run("info", w.path, "--json"))
    assert (info["commits"], info["rows"]) == (3, 3)


@swift
@pytest.mark.parametrize("fields,message", [({"flags": (108, "I", 4)}, "unknown features"),
                                            ({"major": (12, "H", 2)}, "version 2")], ids=["flags", "major"])
def test_swift_unsupported_trailer_found_by_scan_stops_open(small, fields, message):
    patch_last_trailer(small, **fields)
    small.junk(b"torn")
    assert message in _run_failing("info", small.path)


@swift
def test_swift_unsupported_trailer_at_end_stops_open(small):
    patch_last_trailer(small, flags=(108, "I", 4))
    assert "unknown features" in _run_failing("info", small.path)


@swift
def test_swift_rows_times_row_bytes_must_fit_63_bits(tmp_path):
    w = make(tmp_path, dtype="<u2", rows_per_chunk=1 << 30, leaf_capacity=1 << 20, codec=rp.CODEC_NONE)
    leaf_at = w._append_bytes(bytes(20))
    _bad_commit(w, rows=1 << 62, chunks=1 << 32, root_page=encode_page(b"RPKR", 0, [(leaf_at, 20)] * (1 << 12)))
    info = json.loads(_run("info", w.path, "--json"))
    assert (info["commits"], info["rows"]) == (1, 0)


@swift
def test_swift_many_leaves_shared(tmp_path):
    data = (np.arange(5000 * 2) % 253).astype("u1").reshape(5000, 2)
    np.save(tmp_path / "a.npy", data[:4500])
    np.save(tmp_path / "b.npy", data[4500:4700])
    np.save(tmp_path / "c.npy", data[4700:])
    dst = tmp_path / "m.rowpack"
    _run("import", tmp_path / "a.npy", dst, "--chunk-rows", "1", "--codec", "none", "--quiet")
    _run("append", dst, tmp_path / "b.npy")
    _run("append", dst, tmp_path / "c.npy")
    commits = {}
    for sequence in (2, 3, 4):
        with rp.open_container(dst, sequence=sequence) as c:
            commits[sequence] = c.commit
            assert c.read_all().tobytes() == data[:c.rows].tobytes()
            assert c.verify() == []
    assert len(commits[4].leaves) == 2 and commits[4].leaves[0] == commits[3].leaves[0]  # §5.4


@swift
def test_swift_truncation_agrees_with_reference_reader(tmp_path):
    data = sample(11, (2,), "<f4")
    np.save(tmp_path / "a.npy", data[:5])
    np.save(tmp_path / "b.npy", data[5:])
    dst = tmp_path / "t.rowpack"
    _run("import", tmp_path / "a.npy", dst, "--chunk-rows", "4", "--quiet")
    with rp.open_container(dst) as c:
        first_end = c.commit.committed_length
    _run("append", dst, tmp_path / "b.npy")
    blob = dst.read_bytes()
    cut = tmp_path / "cut.rowpack"
    lengths = sorted(set(range(first_end, len(blob) + 1, 5)) | set(range(len(blob) - 130, len(blob) + 1)))
    for length in lengths:
        cut.write_bytes(blob[:length])
        with rp.open_container(cut) as c:
            rows = c.rows
            np.testing.assert_array_equal(c.read_all(), data[:rows])
        info = json.loads(_run("info", cut, "--json"))
        assert info["rows"] == rows == (11 if length == len(blob) else 5), length


# ---------------------------------------------------------------------------------------------
# §13: the worked example in FORMAT.md


def _example_bytes() -> bytes:
    text = (Path(__file__).resolve().parents[1] / "FORMAT.md").read_text()
    section = text.split("## 13. Worked example", 1)[1].split("## 14.", 1)[0]
    dump = section.split("Complete file (`xxd -g1`):", 1)[1].split("```", 2)[1]
    out = bytearray()
    for line in dump.strip().splitlines():
        offset, rest = line.split(": ", 1)
        assert int(offset, 16) == len(out)
        out += bytes.fromhex(rest[:48].replace(" ", ""))
    return bytes(out)


def test_worked_example_reads(tmp_path):
    blob = _example_bytes()
    assert len(blob) == 848
    p = tmp_path / "ex.rowpack"
    p.write_bytes(blob)
    with rp.open_container(p) as c:
        expected = np.array([[0x0102, 0x0304], [0x0506, 0x0708], [0x090A, 0x0B0C], [0x0D0E, 0x0F10]], dtype="<u2")
        np.testing.assert_array_equal(c.read_all(), expected)
        assert [k.rows for k in c.commits] == [0, 3, 4]
        assert c.commit.dead_bytes == 416 and c.verify() == []
        assert [k.root_checksum for k in c.commits] == [0x6A004683, 0x5BEEE776, 0xE55BC8CA]   # §13 text
        assert_root_checksums(c)


EXAMPLE_A = np.array([[0x0102, 0x0304], [0x0506, 0x0708], [0x090A, 0x0B0C]], dtype="<u2")
EXAMPLE_B = np.array([[0x0D0E, 0x0F10]], dtype="<u2")
EXAMPLE_TRAILERS = (124, 448, 720)


def _spec_writer_example(path, blob) -> bytes:
    """§13's two appends by the spec's writer, with the UUID and commit times found in `blob`."""
    times = [struct.unpack_from("<Q", blob, t + 96)[0] for t in EXAMPLE_TRAILERS]
    w = PyWriter(path, dtype="<u2", row_shape=(2,), rows_per_chunk=2, codec=rp.CODEC_NONE,
                 shuffle=True, uuid=blob[24:40], clock=iter(times).__next__)
    w.append(EXAMPLE_A)
    w.commit()
    w.append(EXAMPLE_B)
    w.commit()
    return w.path.read_bytes()


def test_worked_example_reproduced_by_spec_writer(tmp_path):
    """The spec's writer, given the example's UUID and clock values, writes the same 848 bytes."""
    blob = _example_bytes()
    assert _spec_writer_example(tmp_path / "ex.rowpack", blob) == blob


@swift
def test_swift_writes_the_worked_example(tmp_path):
    """§13's commands, run now: the reference writer's file equals the spec writer's (given its
    UUID and times) and differs from §13's dump only in the UUID, the times and the CRCs over them."""
    np.save(tmp_path / "a.npy", EXAMPLE_A)
    np.save(tmp_path / "b.npy", EXAMPLE_B)
    ex = tmp_path / "ex.rowpack"
    _run("import", tmp_path / "a.npy", ex, "--codec", "none", "--shuffle", "--chunk-rows", "2", "--quiet")
    _run("append", ex, tmp_path / "b.npy", "--quiet")
    blob = ex.read_bytes()
    assert _spec_writer_example(tmp_path / "py.rowpack", blob) == blob
    example = _example_bytes()
    assert len(blob) == len(example)
    variable = set(range(24, 40)) | set(range(100, 104))          # uuid, headerCRC
    for t in EXAMPLE_TRAILERS:
        variable |= set(range(t + 80, t + 104)) | set(range(t + 116, t + 120))  # uuid, time, trailerCRC
    assert {i for i in range(len(blob)) if blob[i] != example[i]} <= variable


@pytest.mark.parametrize("dtype,shape", [("<f4", (0,)), ("<i2", (3, 0, 2)), ("|V0", ()), ([], (4,))])
def test_zero_byte_rows_are_refused(tmp_path, dtype, shape):
    # §3, §10.2: rowBytes = 0 is invalid; readers refuse the header (even the empty creating commit).
    w = make(tmp_path, dtype=dtype, row_shape=shape, rows_per_chunk=4, codec=rp.CODEC_NONE, shuffle=False)
    with pytest.raises(rp.CorruptContainer, match="at least one byte"):
        rp.open_container(w.path)


# ---------------------------------------------------------------------------------------------
# §12: golden vectors, read by every version forever

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


HOSTILE = json.loads((VECTORS / "hostile" / "expected.json").read_text())
ERROR_CLASSES = {"corrupt": rp.CorruptContainer, "unsupported": rp.UnsupportedVersion}


def test_hostile_vectors_are_all_listed():
    assert sorted(HOSTILE) == sorted(p.name for p in (VECTORS / "hostile").glob("*.rowpack"))


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_vectors(name):
    # §12: each hostile file is refused with its class, where expected.json says; the rest reads.
    case = HOSTILE[name]
    path = VECTORS / "hostile" / name
    error = ERROR_CLASSES[case["error"]]
    if case["at"] == "open":
        with pytest.raises(error, match=case["message"]):
            rp.open_container(path)
        return
    with rp.open_container(path) as c:
        with pytest.raises(error, match=case["message"]) as caught:
            c.read_chunk(case["chunk"])
        assert caught.value.chunk == case["chunk"] and type(caught.value) is error
        for chunk in case["readable"]:
            c.read_chunk(chunk)
        assert any(case["message"] in problem for problem in c.verify())


@swift
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_swift_hostile_vectors(name, tmp_path):
    # The reference CLI refuses the same files with the same class ("newer version" names an
    # unsupported one) and reads the chunks that are sound.
    case = HOSTILE[name]
    path = VECTORS / "hostile" / name
    newer = "newer version" if case["error"] == "unsupported" else None
    if case["at"] == "open":
        stderr = _run_failing("info", path)
    else:
        stderr = _run_failing("verify", path)
        assert f"chunk {case['chunk']}" in stderr
        R = json.loads(_run("info", path, "--json"))["rows_per_chunk"]
        for chunk in case["readable"]:
            _run("read", path, "--rows", f"{chunk * R}:{chunk * R + 1}", "--out", tmp_path / f"{chunk}.npy")
    assert case["message"] in stderr
    assert (newer in stderr) if newer else ("newer version" not in stderr)


def test_width_one_header_says_no_filter(tmp_path):
    # §4.2: a writer whose shuffle width is 1 writes filter 0 in the header as in the records,
    # even when the shuffle was requested; the reader reports no shuffle even for an old header.
    w = make(tmp_path, dtype="|u1", row_shape=(3,), shuffle=True)
    w.append(np.arange(15, dtype="u1").reshape(5, 3))
    w.commit()
    assert w.path.read_bytes()[65] == 0
    with rp.open_container(w.path) as c:
        assert c.info()["shuffle"] is False
    with open(w.path, "r+b") as f:   # an earlier writer's header: filter 1 with width 1
        head = bytearray(f.read(w.H - 4))
        head[65] = rp.FILTER_SHUFFLE
        f.seek(0)
        f.write(bytes(head) + struct.pack("<I", rp.crc32c(head)))
    with rp.open_container(w.path) as c:
        assert c.header.filter == rp.FILTER_SHUFFLE and c.info()["shuffle"] is False
        assert c.read_all().tobytes() == bytes(range(15)) and c.verify() == []


def test_padding_bytes_are_data():
    # §10.2: the padding bytes of an aligned struct are stored and returned byte for byte.
    path = VECTORS / "struct_aligned_padding.rowpack"
    expected = np.load(path.with_suffix(".npy"))
    assert expected.dtype.itemsize == 12 and len(expected.dtype.names) == 3
    padding = [i for row in range(len(expected)) for i in (row * 12 + 1, row * 12 + 2, row * 12 + 3, row * 12 + 10, row * 12 + 11)]
    assert all(expected.tobytes()[i] != 0 for i in padding)
    with rp.open_container(path) as c:
        assert c.read_all().tobytes() == expected.tobytes()


@swift
def test_swift_width_one_header_says_no_filter(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(12, dtype="u1").reshape(4, 3))
    _run("import", tmp_path / "a.npy", tmp_path / "a.rowpack", "--shuffle", "-q")
    assert (tmp_path / "a.rowpack").read_bytes()[65] == 0
    assert json.loads(_run("info", tmp_path / "a.rowpack", "--json"))["shuffle"] is False
    assert (VECTORS / "u1_shuffle_requested.rowpack").read_bytes()[65] == 0


@pytest.mark.parametrize("path", sorted(VECTORS.glob("*.rowpack")), ids=lambda p: p.name)
def test_golden_vectors(path):
    expected = np.load(path.with_suffix(".npy"))
    with rp.open_container(path) as c:
        out = c.read_all()
        assert out.dtype == expected.dtype and out.shape == expected.shape
        assert out.tobytes() == expected.tobytes()
        assert c.header.descr == rp.canonical_descr(expected.dtype)
        assert c.verify() == []
        assert c.commits[0].sequence == 1
        assert_root_checksums(c)


# §6.2, §7.2: the vectors that decide which commit opens, and what a reader reports
SEARCH_VECTORS = VECTORS / "search"
SEARCH_EXPECTED = json.loads((SEARCH_VECTORS / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(SEARCH_EXPECTED))
def test_search_vectors(name, monkeypatch):
    expected = SEARCH_EXPECTED[name]
    path = SEARCH_VECTORS / f"{name}.rowpack"
    read = []
    original = rp._pread
    monkeypatch.setattr(rp, "_pread", lambda c, offset, length, what: read.append(length) or original(c, offset, length, what))
    with rp.open_container(path) as c:
        assert sum(read) < 2 * path.stat().st_size          # §7.2: the search reads less than twice the file
        assert c.commit.sequence == expected["sequence"] and c.rows == expected["rows"]
        assert (c.damaged_commit[0] if c.damaged_commit else None) == expected["damaged_trailer"]
        rows = c.read_all().tobytes()
        if expected["data"].startswith("u1_"):
            assert rows == np.load(VECTORS / f"{expected['data']}.npy")[:expected["rows"]].tobytes()
        else:
            assert rows.hex() == expected["data"]
        problems = c.verify()
        assert bool(problems) == (expected["damaged_trailer"] is not None), problems


@swift
@pytest.mark.parametrize("name", sorted(SEARCH_EXPECTED))
def test_search_vectors_reference_cli(name):
    expected = SEARCH_EXPECTED[name]
    path = SEARCH_VECTORS / f"{name}.rowpack"
    info = subprocess.run([ROWPACK, "info", str(path), "--json"], capture_output=True, text=True)
    assert info.returncode == 0, info.stderr
    report = json.loads(info.stdout)
    assert report["commits"] == expected["sequence"] and report["rows"] == expected["rows"]
    assert ("damaged_commit" in report) == (expected["damaged_trailer"] is not None)
    assert len(info.stderr.splitlines()) == (0 if expected["damaged_trailer"] is None else 1), info.stderr
    verify = subprocess.run([ROWPACK, "verify", str(path)], capture_output=True, text=True)
    assert verify.returncode == (0 if expected["damaged_trailer"] is None else 1), verify.stderr
