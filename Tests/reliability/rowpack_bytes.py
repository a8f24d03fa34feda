"""Builds Rowpack containers structure by structure, from Spec/FORMAT.md §3–§6, so tests can
make files that lie consistently (every checksum valid, sizes hostile). Pure Python; used by
Tests/interop/test_reliability.py and the long runs in this folder.
"""

import struct

# CRC-32C (Castagnoli, reflected 0x82F63B78), §2.
_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _TABLE.append(_c)


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = (crc >> 8) ^ _TABLE[(crc ^ b) & 0xFF]
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283

CODECS = {"none": 0, "zlib": 1, "zstd": 2}
UUID = bytes([0x5A] * 16)


def header(descr="'|u1'", item_size=1, row_shape=(), rows_per_chunk=4, codec="none", level=0, shuffle=False,
           leaf_capacity=4096, uuid=UUID):
    """The file header (§3)."""
    d = descr.encode()
    row_bytes = item_size
    for n in row_shape:
        row_bytes *= n
    fixed = 80
    unpadded = fixed + 8 * len(row_shape) + len(d) + 4
    length = (unpadded + 7) // 8 * 8
    out = bytearray(b"\x89RPK\r\n\x1a\n")
    out += struct.pack("<HHIII", 1, 0, length, 0, 0)
    out += uuid
    out += struct.pack("<QQII", rows_per_chunk, row_bytes, item_size, len(row_shape))
    out += struct.pack("<BBHiII", CODECS[codec], 1 if shuffle else 0, item_size if shuffle else 1, level, leaf_capacity, len(d))
    for n in row_shape:
        out += struct.pack("<Q", n)
    out += d
    out += b"\0" * (length - unpadded)
    out += struct.pack("<I", crc32c(out))
    assert len(out) == length
    return bytes(out)


def record(chunk, rows, raw_length, payload, codec="none", level=0, shuffle=False, element_size=1):
    """A chunk record: 48-byte header + payload (§4)."""
    out = bytearray(b"RPKC")
    out += struct.pack("<IQQQBBHiI", rows, chunk, raw_length, len(payload), CODECS[codec], 1 if shuffle else 0,
                       element_size, level, crc32c(payload))
    out += struct.pack("<I", crc32c(out))
    return bytes(out) + bytes(payload)


def page(kind, first, entries, count=None):
    """An index page (§5): kind 'leaf' or 'root', entries [(offset, length)]."""
    out = bytearray(b"RPKL" if kind == "leaf" else b"RPKR")
    out += struct.pack("<IQ", len(entries) if count is None else count, first)
    for off, length in entries:
        out += struct.pack("<QQ", off, length)
    out += struct.pack("<I", crc32c(out))
    return bytes(out)


def trailer(offset, rows, chunks, root, root_crc, previous=0, sequence=1, dead=0, uuid=UUID):
    """The 128-byte commit trailer at file offset `offset` (§6)."""
    out = bytearray(b"RPKTRAIL")
    out += struct.pack("<IHHQ", 128, 1, 0, sequence)
    out += struct.pack("<QQQQQQQ", rows, chunks, root[0], root[1], previous, offset + 128, dead)
    out += uuid
    out += struct.pack("<QIII", 0, root_crc, 0, 0)
    out += struct.pack("<I", crc32c(out))
    out += b"LIARTKPR"
    assert len(out) == 128
    return bytes(out)


def container(head, rows, records, rows_per_chunk, leaf_capacity=4096):
    """A one-commit container: `head` (from header()), the encoded records in chunk order,
    leaves, root and a trailer claiming `rows` rows. Every checksum is valid."""
    out = bytearray(head)
    entries = []
    for r in records:
        entries.append((len(out), len(r)))
        out += r
    leaves = []
    for first in range(0, len(entries), leaf_capacity):
        p = page("leaf", first, entries[first:first + leaf_capacity])
        leaves.append((len(out), len(p)))
        out += p
    root = page("root", 0, leaves)
    root_at = len(out)
    out += root
    chunks = -(-rows // rows_per_chunk)
    out += trailer(len(out), rows, chunks, (root_at, len(root)), crc32c(root[:-4]))
    return bytes(out)
