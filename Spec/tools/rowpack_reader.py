#!/usr/bin/env python3
"""An independent reader of Rowpack containers, written from ``Spec/FORMAT.md`` alone.

Pure Python 3 + numpy + zlib (+ ``zstandard`` for zstd chunks). It validates every checksum,
bound and cross-reference the spec lists, finds the newest valid commit (including the backward
scan past a torn tail), and raises a :class:`RowpackError` naming the file, the byte offset and
the chunk for anything wrong: :class:`CorruptContainer`, :class:`UnsupportedVersion` or
:class:`NotAContainer` for the file's content, the base class itself for I/O errors. Section
numbers (§) refer to FORMAT.md.

API::

    c = open_container("data.rowpack")        # newest valid commit
    c.dtype, c.row_shape, c.rows, c.rows_per_chunk, c.chunks, c.commits
    c.read(10, 20)                            # np.ndarray of shape (10,) + row_shape
    c.read_all()
    c.verify()                                # list of problems ([] when sound)
    open_container("data.rowpack", sequence=2)   # an older commit (§7.4)

CLI::

    python3 rowpack_reader.py FILE [--out X.npy] [--rows A:B] [--verify] [--commits]

Without ``--out`` it prints a JSON summary. Exit status 0 success, 1 bad file, 64 usage error.
"""

from __future__ import annotations

import ast
import json
import os
import struct
import sys
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO, List, Optional, Sequence, Tuple

import numpy as np

try:  # only needed for zstd chunks
    import zstandard
except ImportError:  # pragma: no cover - exercised only without the package
    zstandard = None

__all__ = [
    "RowpackError", "NotAContainer", "UnsupportedVersion", "CorruptContainer",
    "Header", "Commit", "Container", "open_container", "crc32c", "shuffle", "unshuffle",
    "max_stored_length", "min_stored_length", "zstd_frame_size", "shuffle_width",
]

# ---------------------------------------------------------------------------------------------
# Constants (§3–§6, §9)

HEADER_MAGIC = b"\x89RPK\r\n\x1a\n"
RECORD_MAGIC = b"RPKC"
LEAF_MAGIC = b"RPKL"
ROOT_MAGIC = b"RPKR"
TRAILER_BEGIN = b"RPKTRAIL"
TRAILER_END = b"LIARTKPR"

MAJOR = 1
MINOR = 0

HEADER_FIXED = 80
HEADER_PREFIX = 16
RECORD_SIZE = 48
PAGE_HEADER = 16
ENTRY_SIZE = 16
TRAILER_SIZE = 128
EMPTY_PAGE = PAGE_HEADER + 4

MAX_U63 = (1 << 63) - 1
MAX_ROW_RANK = 63
MAX_DESCR_BYTES = 1 << 20
MIN_HEADER_BYTES = HEADER_FIXED + 4
MAX_HEADER_BYTES = (HEADER_FIXED + 8 * MAX_ROW_RANK + MAX_DESCR_BYTES + 4 + 7) // 8 * 8  # 1 049 168
MAX_ROWS_PER_CHUNK = (1 << 32) - 1
MAX_CHUNK_BYTES = 1 << 31
MAX_LEAF_CAPACITY = 1 << 20
MAX_ITEMSIZE = (1 << 31) - 1

CODEC_NONE, CODEC_ZLIB, CODEC_ZSTD = 0, 1, 2
CODEC_NAMES = {CODEC_NONE: "none", CODEC_ZLIB: "zlib", CODEC_ZSTD: "zstd"}
CODEC_LEVELS = {CODEC_NONE: (0, 0), CODEC_ZLIB: (0, 9), CODEC_ZSTD: (-131072, 22)}
FILTER_NONE, FILTER_SHUFFLE = 0, 1
FILTER_NAMES = {FILTER_NONE: "none", FILTER_SHUFFLE: "shuffle"}

SCAN_BLOCK = 1 << 20

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"  # u32 0xFD2FB528 (RFC 8878 §3.1.1)


def max_stored_length(raw_length: int) -> int:
    """§4, §9: the most payload bytes a chunk of ``raw_length`` raw bytes may store."""
    return raw_length + raw_length // 128 + 1024


def min_stored_length(raw_length: int, codec: int) -> int:
    """§4.1: the fewest payload bytes that can hold ``raw_length`` raw bytes in ``codec``."""
    return {0: raw_length, 1: raw_length // 1032, 2: raw_length // 32768}[codec]

# ---------------------------------------------------------------------------------------------
# Errors


class RowpackError(Exception):
    """A container could not be read. ``path``, ``offset`` and ``chunk`` say where."""

    def __init__(self, path: str, message: str, offset: Optional[int] = None, chunk: Optional[int] = None):
        self.path = path
        self.message = message
        self.offset = offset
        self.chunk = chunk
        where = []
        if chunk is not None:
            where.append(f"chunk {chunk}")
        if offset is not None:
            where.append(f"byte {offset}")
        super().__init__(f"{path}: {message}" + (f" ({', '.join(where)})" if where else ""))


class NotAContainer(RowpackError):
    """The file is not a Rowpack container at all (wrong magic, too short)."""


class UnsupportedVersion(RowpackError):
    """The file needs a newer reader: another major version or unknown required flags (§11)."""


class CorruptContainer(RowpackError):
    """The file breaks the format: a checksum, bound or cross-reference failed."""


class MisplacedTrailer(CorruptContainer):
    """A trailer with a valid checksum that belongs to another file or another offset (§6.2
    checks 7 and 8): a copy, not one of this file's commits, skipped like bytes without a trailer."""


class NoTrailer(CorruptContainer):
    """No trailer at all at this offset: a magic is missing (§6.2 check 2): a torn write or data."""


# ---------------------------------------------------------------------------------------------
# CRC-32C (§2)


def _crc_table() -> List[int]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
        table.append(crc)
    return table


_CRC_TABLE = _crc_table()


def crc32c(data, crc: int = 0) -> int:
    """CRC-32C (Castagnoli) of ``data``, continuing from ``crc`` (0 to start)."""
    table = _CRC_TABLE
    crc ^= 0xFFFFFFFF
    for b in memoryview(data).cast("B"):
        crc = (crc >> 8) ^ table[(crc ^ b) & 0xFF]
    return crc ^ 0xFFFFFFFF


# ---------------------------------------------------------------------------------------------
# Byte shuffle (§4.2)


def shuffle(raw: bytes, width: int) -> bytes:
    """Byte shuffle: byte j of element i goes to j*count + i; trailing bytes are copied."""
    n = len(raw)
    count = n // width if width > 0 else 0
    if width <= 1 or count == 0:
        return bytes(raw)
    body = count * width
    planes = np.frombuffer(raw, dtype=np.uint8, count=body).reshape(count, width).T
    return planes.tobytes() + bytes(raw[body:])


def unshuffle(data: bytes, width: int) -> bytes:
    """Inverse of :func:`shuffle`."""
    n = len(data)
    count = n // width if width > 0 else 0
    if width <= 1 or count == 0:
        return bytes(data)
    body = count * width
    elements = np.frombuffer(data, dtype=np.uint8, count=body).reshape(width, count).T
    return elements.tobytes() + bytes(data[body:])


# ---------------------------------------------------------------------------------------------
# dtype (§10)


def shuffle_width(dtype: np.dtype) -> int:
    """§4.2: the element width a writer uses for a dtype (1: records and header say filter 0)."""
    if dtype.names is not None or dtype.subdtype is not None:
        return 1 if dtype.itemsize == 0 else min(dtype.itemsize, 65535)
    kind = dtype.kind
    if kind in "iuf":
        return dtype.itemsize
    if kind == "c":
        return dtype.itemsize // 2
    if kind in "Mm":
        return 8
    if kind == "U":
        return 4
    return 1


def parse_descr(text: str) -> np.dtype:
    """The numpy dtype of a descr text; raises ValueError for anything not a fixed-size dtype."""
    try:
        literal = ast.literal_eval(text)
    except Exception as error:  # SyntaxError, ValueError, RecursionError, MemoryError …
        raise ValueError(f"dtype description {text[:80]!r} is not a Python literal ({error})") from None
    if not isinstance(literal, (str, list)):
        raise ValueError(f"dtype description must be a string or a list of fields, not {type(literal).__name__}")
    try:
        dtype = np.lib.format.descr_to_dtype(literal)
    except Exception as error:  # numpy raises many kinds for malformed descrs
        raise ValueError(f"dtype description {text[:80]!r} is not a numpy dtype ({error})") from None
    if dtype.hasobject:
        raise ValueError("object dtype is not supported (rows must be fixed-size)")
    return dtype


def canonical_descr(dtype: np.dtype) -> str:
    """The canonical descr text of §10.1: what ``np.save`` writes after ``'descr': ``."""
    return repr(np.lib.format.dtype_to_descr(dtype))


# ---------------------------------------------------------------------------------------------
# Structures


@dataclass(frozen=True)
class Header:
    """The file header (§3)."""

    major: int
    minor: int
    length: int
    optional_flags: int
    uuid: bytes
    rows_per_chunk: int
    row_bytes: int
    item_size: int
    row_shape: Tuple[int, ...]
    codec: int
    filter: int
    shuffle_element_size: int
    level: int
    leaf_capacity: int
    descr: str
    dtype: np.dtype


@dataclass(frozen=True)
class Commit:
    """One commit trailer (§6) plus its root's leaf extents."""

    offset: int
    minor: int
    sequence: int
    rows: int
    chunks: int
    root_offset: int
    root_length: int
    previous_trailer: int
    committed_length: int
    dead_bytes: int
    uuid: bytes
    time_ns: int
    root_checksum: int
    optional_flags: int
    leaves: Tuple[Tuple[int, int], ...] = field(repr=False)


@dataclass(frozen=True)
class ChunkRecord:
    """A chunk record header (§4)."""

    offset: int
    rows: int
    chunk: int
    raw_length: int
    stored_length: int
    codec: int
    filter: int
    element_size: int
    level: int
    payload_crc: int


def _u(fmt: str, buf, at: int):
    return struct.unpack_from("<" + fmt, buf, at)[0]


def _fits(offset: int, length: int, limit: int) -> bool:
    """offset + length <= limit, all non-negative (Python ints cannot overflow, but keep §9.2's form)."""
    return 0 <= offset <= limit and 0 <= length <= limit - offset


# ---------------------------------------------------------------------------------------------
# The container


class Container:
    """One commit of a container, open for reading. Use :func:`open_container`."""

    def __init__(self, path: str, file: BinaryIO, size: int, header: Header, commit: Commit, newest: Commit):
        self.path = path
        self._file = file
        self.size = size
        self.header = header
        self.commit = commit
        self._newest = newest
        self._leaf_cache: dict = {}
        self._commits: Optional[List[Commit]] = None
        # (trailer offset, message) of a damaged commit newer than the newest valid one (§7.2), or None.
        self.damaged_commit: Optional[Tuple[int, str]] = None

    # -- properties ------------------------------------------------------------------------

    @property
    def dtype(self) -> np.dtype:
        return self.header.dtype

    @property
    def row_shape(self) -> Tuple[int, ...]:
        return self.header.row_shape

    @property
    def rows(self) -> int:
        return self.commit.rows

    @property
    def chunks(self) -> int:
        return self.commit.chunks

    @property
    def rows_per_chunk(self) -> int:
        return self.header.rows_per_chunk

    @property
    def row_bytes(self) -> int:
        return self.header.row_bytes

    @property
    def commits(self) -> Sequence[Commit]:
        """Every commit up to this one, oldest first, by following ``previousTrailer`` (§7.4)."""
        if self._commits is None:
            chain = [self.commit]
            current = self.commit
            while current.previous_trailer != 0:
                previous = current.previous_trailer
                # §9.2 rule 6: the previous trailer ends at or before this commit's root, so the roots
                # read while walking are disjoint and the walk reads each byte at most once.
                if not (self.header.length <= previous and previous + TRAILER_SIZE <= current.root_offset):
                    raise CorruptContainer(self.path, f"commit {current.sequence} links to a trailer at {previous}, not below its root", offset=current.offset + 56)
                older = _load_commit(self, previous)
                if older.sequence + 1 != current.sequence:
                    raise CorruptContainer(self.path, f"commit {current.sequence} links to commit {older.sequence}", offset=current.offset + 56)
                chain.append(older)
                current = older
            if current.sequence != 1:
                raise CorruptContainer(self.path, f"the oldest linked commit is {current.sequence}, not 1", offset=current.offset + 16)
            self._commits = list(reversed(chain))
        return self._commits

    # -- reading -----------------------------------------------------------------------------

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start … stop-1`` as an array of shape ``(stop - start,) + row_shape``."""
        if not (isinstance(start, (int, np.integer)) and isinstance(stop, (int, np.integer))):
            raise TypeError("row numbers must be integers")
        start, stop = int(start), int(stop)
        if not (0 <= start <= stop <= self.rows):
            raise IndexError(f"rows {start}:{stop} are out of range (the container has {self.rows} rows)")
        count = stop - start
        out = bytearray(count * self.row_bytes)
        if count:
            R, rb = self.rows_per_chunk, self.row_bytes
            for c in range(start // R, (stop - 1) // R + 1):
                chunk_start = c * R
                data = self.read_chunk(c)
                lo, hi = max(start, chunk_start), min(stop, chunk_start + self._rows_in(c))
                out[(lo - start) * rb:(hi - start) * rb] = data[(lo - chunk_start) * rb:(hi - chunk_start) * rb]
        return np.frombuffer(out, dtype=self.dtype).reshape((count,) + self.row_shape)

    def read_all(self) -> np.ndarray:
        return self.read(0, self.rows)

    def read_chunk(self, c: int) -> bytes:
        """The decoded bytes of chunk ``c`` (§7.3, §4.3)."""
        if not 0 <= c < self.chunks:
            raise IndexError(f"chunk {c} is out of range (the container has {self.chunks} chunks)")
        offset, length = self._chunk_extent(c)
        n = self._rows_in(c)
        return _decode_chunk(self, offset, length, c, n)

    def _rows_in(self, c: int) -> int:
        return min(self.rows_per_chunk, self.rows - c * self.rows_per_chunk)

    def _chunk_extent(self, c: int) -> Tuple[int, int]:
        K = self.header.leaf_capacity
        j, i = divmod(c, K)
        return self._leaf(j)[i]

    def _leaf(self, j: int) -> List[Tuple[int, int]]:
        offset, length = self.commit.leaves[j]
        cached = self._leaf_cache.get(offset)
        if cached is not None:
            return cached
        K = self.header.leaf_capacity
        expected = min(K, self.chunks - j * K)
        if length != EMPTY_PAGE + ENTRY_SIZE * expected:
            raise CorruptContainer(self.path, f"index leaf {j} is {length} bytes, {expected} entries need {EMPTY_PAGE + ENTRY_SIZE * expected}", offset=offset)
        buf = _pread(self, offset, length, f"index leaf {j}")
        first, entries = _parse_page(self, buf, offset, LEAF_MAGIC, "leaf")
        if first != j * K or len(entries) != expected:
            raise CorruptContainer(self.path, f"index leaf {j} covers chunks {first}+{len(entries)}, expected {j * K}+{expected}", offset=offset)
        # §5.3: records are in chunk order across leaves too; check against the neighbours at hand.
        leaves = self.commit.leaves
        if j > 0 and leaves[j - 1][0] in self._leaf_cache:
            self._check_leaves_in_order(j - 1, self._leaf_cache[leaves[j - 1][0]], j, entries, j * K)
        if j + 1 < len(leaves) and leaves[j + 1][0] in self._leaf_cache:
            self._check_leaves_in_order(j, entries, j + 1, self._leaf_cache[leaves[j + 1][0]], j * K)
        self._leaf_cache[offset] = entries
        return entries

    def _check_leaves_in_order(self, i: int, earlier, j: int, later, c: int) -> None:
        (last_offset, last_length), (first_offset, _) = earlier[-1], later[0]
        if first_offset < last_offset + last_length:
            raise CorruptContainer(
                self.path, f"index leaf {j} lists a record at {first_offset}, inside or before the last record of leaf {i} "
                f"({last_offset}+{last_length})", offset=first_offset, chunk=c)

    # -- verification ------------------------------------------------------------------------

    def verify(self) -> List[str]:
        """Reads every leaf and chunk of this commit, checks the commit chain and the dead-byte
        count (§8.4), and reports a damaged newer commit (§7.2). Returns one message per problem; []
        when the container is sound."""
        problems: List[str] = []
        if self.damaged_commit is not None and self.commit is self._newest:
            problems.append(f"{self.path}: the newest commit (trailer at byte {self.damaged_commit[0]}) is damaged: "
                            f"{self.damaged_commit[1]}")
        live = self.header.length + self.commit.root_length + TRAILER_SIZE
        for j in range(len(self.commit.leaves)):
            try:
                entries = self._leaf(j)
            except RowpackError as error:
                problems.append(str(error))
                continue
            live += self.commit.leaves[j][1]
            for i, (_, length) in enumerate(entries):
                c = j * self.header.leaf_capacity + i
                live += length
                try:
                    self.read_chunk(c)
                except RowpackError as error:
                    problems.append(str(error))
        if live + self.commit.dead_bytes != self.commit.committed_length:
            problems.append(
                f"{self.path}: dead bytes {self.commit.dead_bytes} do not match: live bytes {live} + dead "
                f"!= committed length {self.commit.committed_length}")
        try:
            self.commits
        except RowpackError as error:
            problems.append(str(error))
        return problems

    # -- lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "Container":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def info(self) -> dict:
        h, t = self.header, self.commit
        return {
            "rows": t.rows, "dtype": h.descr if h.dtype.names is not None else h.dtype.str, "descr": h.descr,
            "row_shape": list(h.row_shape), "rows_per_chunk": h.rows_per_chunk,
            "chunks": t.chunks, "codec": CODEC_NAMES[h.codec], "level": h.level,
            "shuffle": h.filter == FILTER_SHUFFLE and shuffle_width(h.dtype) > 1, "commits": t.sequence, "file_bytes": self.size,
            "raw_bytes": t.rows * h.row_bytes, "dead_bytes": t.dead_bytes,
            "format_version": f"{h.major}.{h.minor}", "leaf_capacity": h.leaf_capacity,
            "committed_length": t.committed_length, "torn_tail_bytes": self.size - t.committed_length,
            **({"damaged_commit": {"trailer_offset": self.damaged_commit[0], "error": self.damaged_commit[1]}}
               if self.damaged_commit else {}),
        }


# ---------------------------------------------------------------------------------------------
# Low-level reads and parsers


def _pread(container, offset: int, length: int, what: str) -> bytes:
    if not _fits(offset, length, container.size):
        raise CorruptContainer(container.path, f"{what} ({length} bytes at {offset}) lies outside the file ({container.size} bytes)", offset=offset)
    try:
        container._file.seek(offset)
        data = container._file.read(length)
    except OSError as error:  # an I/O error is not corruption: it stops the open (§7.2)
        raise RowpackError(container.path, f"cannot read {what}: {error.strerror or error}", offset=offset) from None
    if len(data) != length:
        raise CorruptContainer(container.path, f"file ends inside {what}: need {length} bytes, got {len(data)}", offset=offset + len(data))
    return data


def _parse_header(path: str, file: BinaryIO, size: int) -> Header:
    """§3.1, in order."""
    if size < HEADER_PREFIX:
        raise NotAContainer(path, "file is empty, not a rowpack container" if size == 0 else f"file is too short ({size} bytes) to be a rowpack container")
    file.seek(0)
    prefix = file.read(HEADER_PREFIX)
    if prefix[:8] != HEADER_MAGIC:
        raise NotAContainer(path, "not a rowpack container (bad magic)", offset=0)
    major = _u("H", prefix, 8)
    if major != MAJOR:
        raise UnsupportedVersion(path, f"format version {major}.x is not supported (this reader reads {MAJOR}.x)", offset=8)
    length = _u("I", prefix, 12)
    if not (MIN_HEADER_BYTES <= length <= MAX_HEADER_BYTES and length % 8 == 0):
        raise CorruptContainer(path, f"header length {length} is not valid", offset=12)
    if length > size:
        raise CorruptContainer(path, f"file header claims {length} bytes, file has {size}", offset=12)
    file.seek(0)
    buf = file.read(length)
    if len(buf) != length:
        raise CorruptContainer(path, "file ends inside the header", offset=len(buf))
    if crc32c(buf[:length - 4]) != _u("I", buf, length - 4):
        raise CorruptContainer(path, "header checksum mismatch", offset=length - 4)
    minor = _u("H", buf, 10)
    required = _u("I", buf, 16)
    if required != 0:
        raise UnsupportedVersion(path, f"header requires unknown features (flags 0x{required:x})", offset=16)
    optional = _u("I", buf, 20)
    uuid = bytes(buf[24:40])
    rows_per_chunk = _u("Q", buf, 40)
    row_bytes = _u("Q", buf, 48)
    item_size = _u("I", buf, 56)
    rank = _u("I", buf, 60)
    codec = buf[64]
    filt = buf[65]
    shuffle_size = _u("H", buf, 66)
    level = _u("i", buf, 68)
    leaf_capacity = _u("I", buf, 72)
    descr_length = _u("I", buf, 76)

    def bad(message: str, at: int) -> CorruptContainer:
        return CorruptContainer(path, message, offset=at)

    if codec not in CODEC_NAMES:   # a newer minor version's codec or filter first (§3.1 step 7, §11)
        raise UnsupportedVersion(path, f"unknown default codec {codec} (written by a newer version)", offset=64)
    if filt not in FILTER_NAMES:
        raise UnsupportedVersion(path, f"unknown default filter {filt} (written by a newer version)", offset=65)
    if not 1 <= rows_per_chunk <= MAX_ROWS_PER_CHUNK:
        raise bad(f"rows per chunk {rows_per_chunk} must be in 1...{MAX_ROWS_PER_CHUNK}", 40)
    if rank > MAX_ROW_RANK:
        raise bad(f"row rank {rank} exceeds {MAX_ROW_RANK}", 60)
    low, high = CODEC_LEVELS[codec]
    if not low <= level <= high:
        raise bad(f"level {level} is not valid for {CODEC_NAMES[codec]} ({low}...{high})", 68)
    if not 1 <= leaf_capacity <= MAX_LEAF_CAPACITY:
        raise bad(f"leaf capacity {leaf_capacity} must be in 1...{MAX_LEAF_CAPACITY}", 72)
    if descr_length > MAX_DESCR_BYTES:
        raise bad(f"dtype description of {descr_length} bytes exceeds {MAX_DESCR_BYTES}", 76)
    descr_at = HEADER_FIXED + 8 * rank
    if descr_at + descr_length > length - 4:
        raise bad(f"row shape and dtype description ({descr_at + descr_length} bytes) do not fit in a {length}-byte header", 76)
    shape = tuple(_u("Q", buf, HEADER_FIXED + 8 * i) for i in range(rank))
    for i, dim in enumerate(shape):
        if dim > MAX_U63:
            raise bad(f"row shape dimension {dim} is out of range", HEADER_FIXED + 8 * i)
    try:
        descr = bytes(buf[descr_at:descr_at + descr_length]).decode("utf-8")
    except UnicodeDecodeError:
        raise bad("dtype description is not UTF-8", descr_at) from None
    try:
        dtype = parse_descr(descr)
    except ValueError as error:
        raise bad(str(error), descr_at) from None
    if dtype.itemsize > MAX_ITEMSIZE:
        raise bad(f"dtype itemsize {dtype.itemsize} exceeds {MAX_ITEMSIZE}", descr_at)
    if dtype.itemsize != item_size:
        raise bad(f"item size {item_size} does not match dtype {descr} ({dtype.itemsize})", 56)
    expected_row_bytes = item_size
    for dim in shape:
        expected_row_bytes *= dim
    if expected_row_bytes != row_bytes:
        raise bad(f"row bytes {row_bytes} do not match dtype and row shape ({expected_row_bytes})", 48)
    if row_bytes == 0:
        raise bad(f"rows of dtype {descr} and shape {shape} hold 0 bytes; rows must hold at least one byte", 48)
    if rows_per_chunk * row_bytes > MAX_CHUNK_BYTES:
        raise bad(f"a chunk of {rows_per_chunk} rows × {row_bytes} bytes exceeds {MAX_CHUNK_BYTES} bytes", 40)
    return Header(
        major=major, minor=minor, length=length, optional_flags=optional, uuid=uuid, rows_per_chunk=rows_per_chunk,
        row_bytes=row_bytes, item_size=item_size, row_shape=shape, codec=codec, filter=filt,
        shuffle_element_size=shuffle_size, level=level, leaf_capacity=leaf_capacity, descr=descr, dtype=dtype)


def _parse_page(container, buf: bytes, offset: int, magic: bytes, kind: str) -> Tuple[int, List[Tuple[int, int]]]:
    """An index page at ``offset`` (§5.1): returns (first, entries)."""
    path = container.path
    if len(buf) < EMPTY_PAGE:
        raise CorruptContainer(path, f"index {kind} page of {len(buf)} bytes is too short", offset=offset)
    if buf[:4] != magic:
        raise CorruptContainer(path, f"bad index {kind} page magic", offset=offset)
    count = _u("I", buf, 4)
    if len(buf) != EMPTY_PAGE + ENTRY_SIZE * count:
        raise CorruptContainer(path, f"index {kind} page of {len(buf)} bytes cannot hold {count} entries", offset=offset + 4)
    if crc32c(buf[:len(buf) - 4]) != _u("I", buf, len(buf) - 4):
        raise CorruptContainer(path, f"index {kind} page checksum mismatch", offset=offset + len(buf) - 4)
    first = _u("Q", buf, 8)
    if first > MAX_U63:
        raise CorruptContainer(path, f"index {kind} page first chunk {first} is out of range", offset=offset + 8)
    if magic == ROOT_MAGIC and first != 0:
        raise CorruptContainer(path, f"index root's first field is {first}, not 0", offset=offset + 8)
    entries = []
    for i in range(count):
        at = PAGE_HEADER + ENTRY_SIZE * i
        entry_offset, entry_length = struct.unpack_from("<QQ", buf, at)
        if entry_length < 1 or entry_offset < container.header.length or not _fits(entry_offset, entry_length, offset):
            raise CorruptContainer(
                path, f"index {kind} entry {i} ({entry_offset}+{entry_length}) does not lie between the header and its page",
                offset=offset + at)
        if entries and entry_offset < entries[-1][0] + entries[-1][1]:
            raise CorruptContainer(
                path, f"index {kind} entry {i} at {entry_offset} overlaps or precedes the previous entry (§5.1)",
                offset=offset + at)
        entries.append((entry_offset, entry_length))
    return first, entries


def _parse_trailer(container, buf: bytes, T: int) -> Commit:
    """Checks 1–10 of §6.2 on the 128 bytes at T, in order (NoTrailer for check 2, MisplacedTrailer for 7–8); raises RowpackError naming the first failure
    (UnsupportedVersion for check 4's major and check 6, CorruptContainer otherwise)."""
    path, header = container.path, container.header
    if not (T >= header.length and T + TRAILER_SIZE <= container.size) or len(buf) != TRAILER_SIZE:
        raise CorruptContainer(path, "commit trailer lies outside the file", offset=T)
    if buf[:8] != TRAILER_BEGIN or buf[120:128] != TRAILER_END:
        raise NoTrailer(path, "no commit trailer (bad magic)", offset=T)
    if crc32c(buf[:116]) != _u("I", buf, 116):
        raise CorruptContainer(path, "commit trailer checksum mismatch", offset=T + 116)
    if _u("I", buf, 8) != TRAILER_SIZE:
        raise CorruptContainer(path, f"commit trailer size is not {TRAILER_SIZE}", offset=T + 8)
    major = _u("H", buf, 12)
    if major != MAJOR:
        raise UnsupportedVersion(path, f"commit written by format version {major}.x", offset=T + 12)
    (sequence, rows, chunks, root_offset, root_length, previous, committed, dead) = struct.unpack_from("<8Q", buf, 16)
    names = ("rows", "chunks", "root offset", "root length", "previous trailer", "committed length", "dead bytes")
    for i, (name, value) in enumerate(zip(names, (rows, chunks, root_offset, root_length, previous, committed, dead))):
        if value > MAX_U63:
            raise CorruptContainer(path, f"commit trailer {name} {value} is out of range", offset=T + 24 + 8 * i)
    required = _u("I", buf, 108)
    if required != 0:
        raise UnsupportedVersion(path, f"commit requires unknown features (flags 0x{required:x})", offset=T + 108)
    if committed != T + TRAILER_SIZE:
        raise MisplacedTrailer(path, f"committed length {committed} does not end at this trailer", offset=T + 64)
    uuid = bytes(buf[80:96])
    if uuid != header.uuid:
        raise MisplacedTrailer(path, "commit trailer belongs to another file (UUID mismatch)", offset=T + 80)
    R = header.rows_per_chunk
    if chunks != (rows + R - 1) // R:
        raise CorruptContainer(path, f"{chunks} chunks cannot hold {rows} rows of {R} per chunk", offset=T + 32)
    if rows * header.row_bytes > MAX_U63:
        raise CorruptContainer(path, f"{rows} rows of {header.row_bytes} bytes exceed 2^63 - 1 bytes", offset=T + 24)
    if not (root_length >= EMPTY_PAGE and root_offset >= header.length and _fits(root_offset, root_length, T)
            and previous < T and dead <= T):
        raise CorruptContainer(path, "commit trailer points outside the committed bytes", offset=T + 40)
    if root_offset + root_length != T:
        raise CorruptContainer(path, f"index root {root_offset}+{root_length} does not end where its trailer starts", offset=T + 40)
    return Commit(
        offset=T, minor=_u("H", buf, 14), sequence=sequence, rows=rows, chunks=chunks, root_offset=root_offset,
        root_length=root_length, previous_trailer=previous, committed_length=committed, dead_bytes=dead, uuid=uuid,
        time_ns=_u("Q", buf, 96), root_checksum=_u("I", buf, 104), optional_flags=_u("I", buf, 112), leaves=())


def _load_commit(container, T: int) -> Commit:
    """A fully valid commit at T (§6.2 checks 1–12), with its root's leaf extents."""
    buf = _pread(container, T, TRAILER_SIZE, "the commit trailer") if _fits(T, TRAILER_SIZE, container.size) else b""
    return _load_root(container, _parse_trailer(container, buf, T))


def _load_root(container, commit: Commit) -> Commit:
    """Checks 11 and 12 of §6.2 for a trailer that passed checks 1–10."""
    K = container.header.leaf_capacity
    expected = (commit.chunks + K - 1) // K
    if commit.root_length != EMPTY_PAGE + ENTRY_SIZE * expected:      # check 11, before reading the root
        raise CorruptContainer(
            container.path, f"index root of {commit.root_length} bytes cannot list the {expected} leaves of "
            f"{commit.chunks} chunks", offset=commit.root_offset)
    root = _pread(container, commit.root_offset, commit.root_length, "the index root")
    first, leaves = _parse_page(container, root, commit.root_offset, ROOT_MAGIC, "root")
    # Check 12: rootChecksum is the CRC-32C of the root's bytes [0, rootLength - 4), i.e. its pageCRC (§2).
    if crc32c(root[:-4]) != commit.root_checksum:
        raise CorruptContainer(container.path, "index root checksum does not match its commit", offset=commit.root_offset)
    return Commit(**{**commit.__dict__, "leaves": tuple(leaves)})


def _newest_commit(container) -> Tuple[Commit, Optional[Tuple[int, str]]]:
    """§7.2: the newest valid commit, and the newest damaged candidate above it as (trailer offset,
    message), or None. Candidates are judged newest first: the trailer at EOF, then each end magic
    found scanning backwards. A candidate whose root was read moves the scan below that root, so the
    roots read are disjoint and the search reads each byte at most twice (plus block overlaps)."""
    size, H = container.size, container.header.length
    ceiling = size                       # candidates end at or below this
    damage: Optional[Tuple[int, str]] = None

    def judge(buf: bytes, T: int) -> Optional[Commit]:
        nonlocal ceiling, damage
        try:
            commit = _parse_trailer(container, buf, T)
        except (NoTrailer, MisplacedTrailer):
            return None                  # a torn write, data, or a copy of another file's or offset's trailer
        except CorruptContainer as error:  # a complete trailer failing its checks: damage (§7.2)
            damage = damage or (T, error.message)
            return None                  # UnsupportedVersion and I/O errors propagate: they stop the open
        ceiling = min(ceiling, commit.root_offset)
        try:
            return _load_root(container, commit)
        except CorruptContainer as error:
            damage = damage or (T, error.message)
            return None

    if size - TRAILER_SIZE >= H:
        found = judge(_pread(container, size - TRAILER_SIZE, TRAILER_SIZE, "the commit trailer"), size - TRAILER_SIZE)
        if found is not None:
            return found, damage
        ceiling = min(ceiling, size - 1)
    block_end = ceiling
    while block_end - H >= TRAILER_SIZE:
        block_start = max(H, block_end - SCAN_BLOCK)
        data = _pread(container, block_start, block_end - block_start, "the commit scan")
        position = min(len(data), ceiling - block_start)      # exclusive end of the bytes still to search
        while True:
            position = data.rfind(TRAILER_END, TRAILER_SIZE - len(TRAILER_END), position)
            if position < 0:
                break
            end = position + len(TRAILER_END)
            found = judge(data[end - TRAILER_SIZE:end], block_start + end - TRAILER_SIZE)
            if found is not None:
                return found, damage
            position = min(end - 1, ceiling - block_start)
            if position <= 0:
                break
        if block_start == H:
            break
        block_end = min(ceiling, block_start + TRAILER_SIZE - 1)   # blocks overlap so each trailer lies inside one
    if damage is not None:
        raise CorruptContainer(container.path, f"no valid commit found; the newest commit (trailer at byte {damage[0]}) is damaged: {damage[1]}", offset=damage[0])
    raise CorruptContainer(container.path, f"no valid commit found (file ends at {size} bytes)")


def _parse_record(container, buf: bytes, offset: int, c: int) -> ChunkRecord:
    """A chunk record header (§4), checked in the order of §4.3 step 1."""
    path = container.path
    if buf[:4] != RECORD_MAGIC:
        raise CorruptContainer(path, "bad chunk record magic", offset=offset, chunk=c)
    if crc32c(buf[:44]) != _u("I", buf, 44):
        raise CorruptContainer(path, "chunk record header checksum mismatch", offset=offset + 44, chunk=c)
    rows, chunk, raw_length, stored_length = struct.unpack_from("<IQQQ", buf, 4)
    codec, filt, element_size, level, payload_crc = struct.unpack_from("<BBHiI", buf, 32)
    if chunk > MAX_U63:
        raise CorruptContainer(path, f"chunk number {chunk} is out of range", offset=offset + 8, chunk=c)
    if raw_length > MAX_CHUNK_BYTES:
        raise CorruptContainer(path, f"raw length {raw_length} exceeds {MAX_CHUNK_BYTES}", offset=offset + 16, chunk=c)
    if stored_length > MAX_U63:
        raise CorruptContainer(path, f"stored length {stored_length} is out of range", offset=offset + 24, chunk=c)
    if codec not in CODEC_NAMES:   # a newer minor version's codec or filter (§4, §11)
        raise UnsupportedVersion(path, f"unknown codec {codec} (written by a newer version)", offset=offset + 32, chunk=c)
    if filt not in FILTER_NAMES:
        raise UnsupportedVersion(path, f"unknown filter {filt} (written by a newer version)", offset=offset + 33, chunk=c)
    if element_size < 1 or (filt == FILTER_NONE and element_size != 1):
        raise CorruptContainer(path, f"element size {element_size} is not valid for filter {FILTER_NAMES[filt]}",
                               offset=offset + 34, chunk=c)
    if stored_length < min_stored_length(raw_length, codec):
        raise CorruptContainer(
            path, f"stored length {stored_length} is too short to hold {raw_length} raw bytes in {CODEC_NAMES[codec]}",
            offset=offset + 24, chunk=c)
    if stored_length > max_stored_length(raw_length):
        raise CorruptContainer(
            path, f"stored length {stored_length} exceeds the bound for {raw_length} raw bytes "
            f"({max_stored_length(raw_length)})", offset=offset + 24, chunk=c)
    if codec == CODEC_NONE and raw_length != stored_length:
        raise CorruptContainer(path, f"uncompressed chunk stores {stored_length} bytes for {raw_length}", offset=offset + 24, chunk=c)
    return ChunkRecord(offset, rows, chunk, raw_length, stored_length, codec, filt, element_size, level, payload_crc)


def zstd_frame_size(data: bytes) -> Optional[int]:
    """Bytes of the Zstandard frame (RFC 8878 §3.1.1) at the start of ``data``, found by walking its
    header and block headers without decoding (what ``ZSTD_findFrameCompressedSize`` computes for a
    zstd frame); None when ``data`` does not start with a complete zstd frame. Skippable frames
    (magic 0x184D2A5?) count as "not a zstd frame": a payload is exactly one zstd frame (§4.1)."""
    n = len(data)
    if n < 5 or data[:4] != ZSTD_MAGIC:
        return None
    descriptor = data[4]
    if descriptor & 0x08:                          # reserved bit
        return None
    fcs_flag, single_segment, did_flag = descriptor >> 6, (descriptor >> 5) & 1, descriptor & 3
    at = 5 + (0 if single_segment else 1) + (0, 1, 2, 4)[did_flag]
    at += (1 if single_segment else 0, 2, 4, 8)[fcs_flag]
    while True:
        if at + 3 > n:
            return None
        block = data[at] | data[at + 1] << 8 | data[at + 2] << 16
        last, kind, size = block & 1, (block >> 1) & 3, block >> 3
        if kind == 3:                              # reserved block type
            return None
        at += 3 + (1 if kind == 1 else size)       # RLE blocks store one byte
        if at > n:
            return None
        if last:
            break
    at += 4 if descriptor & 0x04 else 0            # content checksum
    return at if at <= n else None


def _decompress(container, record: ChunkRecord, payload: bytes, c: int) -> bytes:
    """§4.1: one stream/frame filling the payload exactly, decoded with output bounded to rawLength,
    to exactly rawLength bytes."""
    path, n = container.path, record.raw_length
    at = record.offset + RECORD_SIZE
    if record.codec == CODEC_NONE:
        return payload
    if record.codec == CODEC_ZLIB:
        d = zlib.decompressobj()
        try:
            out = d.decompress(payload, max(n, 1))
            if len(out) == n and not d.eof and not d.unused_data:
                out += d.decompress(d.unconsumed_tail, 1)   # let the stream read its end; no more output
        except zlib.error as error:
            raise CorruptContainer(path, f"zlib payload does not decode: {error}", offset=at, chunk=c) from None
        if len(out) != n or not d.eof or d.unconsumed_tail or d.unused_data:
            raise CorruptContainer(path, f"zlib payload does not decode to exactly {n} bytes", offset=at, chunk=c)
        return out
    if zstd_frame_size(payload) != len(payload):
        raise CorruptContainer(path, f"zstd payload is not exactly one frame of {len(payload)} bytes", offset=at, chunk=c)
    if zstandard is None:
        raise RowpackError(path, "chunk uses zstd: install the 'zstandard' package to read it", offset=at, chunk=c)
    try:
        params = zstandard.get_frame_parameters(payload)
    except zstandard.ZstdError as error:
        raise CorruptContainer(path, f"zstd payload does not decode: {error}", offset=at, chunk=c) from None
    if params.dict_id != 0:   # a Dictionary_ID field may be present, but 0 means "no dictionary" (§4.1)
        raise CorruptContainer(path, f"zstd frame needs dictionary {params.dict_id}; chunks use none", offset=at, chunk=c)
    if params.content_size != zstandard.CONTENTSIZE_UNKNOWN and params.content_size != n:
        raise CorruptContainer(path, f"zstd frame says {params.content_size} bytes, record says {n}", offset=at, chunk=c)
    try:
        # With the content size known (== n) the output is exactly n bytes; otherwise bounded.
        out = zstandard.ZstdDecompressor().decompress(payload, max_output_size=max(n, 1), allow_extra_data=False)
    except zstandard.ZstdError as error:
        raise CorruptContainer(path, f"zstd payload does not decode: {error}", offset=at, chunk=c) from None
    if len(out) != n:
        raise CorruptContainer(path, f"zstd payload decodes to {len(out)} bytes, record says {n}", offset=at, chunk=c)
    return out


def _decode_chunk(container, offset: int, length: int, c: int, n: int) -> bytes:
    """§7.3 steps 3–4: read, check against the index, decode."""
    path = container.path
    expected_raw = n * container.row_bytes
    if not (RECORD_SIZE <= length and length - RECORD_SIZE <= max_stored_length(expected_raw)):  # before reading
        raise CorruptContainer(path, f"index entry of {length} bytes does not fit a chunk of {expected_raw} raw bytes",
                               offset=offset, chunk=c)
    buf = _pread(container, offset, length, f"chunk {c}")
    record = _parse_record(container, buf, offset, c)
    if (record.chunk != c or record.rows != n or record.raw_length != expected_raw
            or RECORD_SIZE + record.stored_length != length):
        raise CorruptContainer(
            path, f"chunk record says chunk {record.chunk} with {record.rows} rows, {record.raw_length} raw bytes in "
            f"{RECORD_SIZE + record.stored_length} bytes; index expects chunk {c} with {n} rows, {expected_raw} raw bytes "
            f"in {length} bytes", offset=offset, chunk=c)
    payload = buf[RECORD_SIZE:]
    if crc32c(payload) != record.payload_crc:
        raise CorruptContainer(path, "chunk payload checksum mismatch", offset=offset + 40, chunk=c)
    raw = _decompress(container, record, payload, c)
    if record.filter == FILTER_SHUFFLE:
        raw = unshuffle(raw, record.element_size)
    return raw


# ---------------------------------------------------------------------------------------------
# Entry point


def open_container(path, sequence: Optional[int] = None) -> Container:
    """Opens the newest valid commit of ``path`` (§7), or the older commit ``sequence`` (§7.4)."""
    path = os.fspath(path)
    try:
        file = open(path, "rb")
    except OSError as error:
        raise RowpackError(path, f"cannot open: {error.strerror or error}") from None
    try:
        size = os.fstat(file.fileno()).st_size
        header = _parse_header(path, file, size)
        shell = Container(path, file, size, header, commit=None, newest=None)  # type: ignore[arg-type]
        newest, shell.damaged_commit = _newest_commit(shell)
        shell.commit = shell._newest = newest
        if sequence is None or sequence == newest.sequence:
            return shell
        for commit in shell.commits:
            if commit.sequence == sequence:
                older = Container(path, file, size, header, commit, newest)
                older.damaged_commit = shell.damaged_commit
                return older
        raise RowpackError(path, f"no commit {sequence} (the newest is {newest.sequence})")
    except OSError as error:   # I/O errors are RowpackErrors too, but never "corrupt" (§7.2, §9.2 rule 7)
        file.close()
        raise RowpackError(path, f"cannot read: {error.strerror or error}") from None
    except BaseException:
        file.close()
        raise


def _main(argv: Optional[List[str]] = None) -> int:
    import argparse

    class Parser(argparse.ArgumentParser):
        def error(self, message):  # usage errors exit 64, as the rowpack CLI does
            self.print_usage(sys.stderr)
            print(f"{self.prog}: error: {message}", file=sys.stderr)
            sys.exit(64)

    parser = Parser(description="Read a Rowpack container (independent reader of Spec/FORMAT.md).")
    parser.add_argument("file")
    parser.add_argument("--out", help="write the rows to this .npy file")
    parser.add_argument("--rows", help="row range A:B (default: all)")
    parser.add_argument("--verify", action="store_true", help="decode every chunk; exit 1 on any problem")
    parser.add_argument("--commits", action="store_true", help="list every commit")
    parser.add_argument("--sequence", type=int, help="read this older commit instead of the newest")
    args = parser.parse_args(argv)
    try:
        with open_container(args.file, sequence=args.sequence) as container:
            start, stop = 0, container.rows
            if args.rows:
                try:
                    a, b = args.rows.split(":")
                    start = int(a) if a else 0
                    stop = int(b) if b else container.rows
                except ValueError:
                    parser.error(f"--rows must be A:B, not {args.rows!r}")
            if args.verify:
                problems = container.verify()
                for problem in problems:
                    print(problem, file=sys.stderr)
                if problems:
                    return 1
            if args.out:
                try:
                    array = container.read(start, stop)
                except IndexError as error:
                    print(f"{args.file}: {error}", file=sys.stderr)
                    return 1
                np.save(args.out, array, allow_pickle=False)
            else:
                info = container.info()
                if args.commits:
                    info["commit_list"] = [
                        {"sequence": c.sequence, "rows": c.rows, "chunks": c.chunks, "offset": c.offset,
                         "committed_length": c.committed_length, "dead_bytes": c.dead_bytes, "time_ns": c.time_ns}
                        for c in container.commits]
                print(json.dumps(info))
    except RowpackError as error:
        print(str(error), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main())
