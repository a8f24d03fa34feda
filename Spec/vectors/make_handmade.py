#!/usr/bin/env python3
"""Writes the vectors of Spec/FORMAT.md §12 that the reference writer cannot produce, with the
spec's own writer (``PyWriter`` of ``Spec/tools/test_reader.py``), every checksum valid:

- ``zstd_dictid0.rowpack`` (+ ``.npy``): a golden file whose zstd frames carry a Dictionary_ID
  field of value 0, which means "no dictionary" (§4.1): readers MUST read it.
- ``hostile/*.rowpack``: files readers MUST refuse, each listed in ``hostile/expected.json``
  with the error class (``corrupt`` or ``unsupported``), whether it is refused on opening or
  on reading a chunk (which chunk, and which chunks still read back), and a word the message
  contains.

Deterministic (fixed UUID and clock), so rerunning it rewrites the same bytes:
``python3 Spec/vectors/make_handmade.py``.
"""

from __future__ import annotations

import json
import struct
import sys
import zlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tools"))
import rowpack_reader as rp  # noqa: E402
from test_reader import PyWriter, compress  # noqa: E402

UUID = bytes(range(0xA0, 0xB0))


def with_dictionary_id(frame: bytes, dictionary: int) -> bytes:
    """``frame`` with a 1-byte Dictionary_ID field holding ``dictionary`` (RFC 8878 §3.1.1.1):
    the descriptor's Dictionary_ID_flag set to 1 and the byte inserted after the window
    descriptor (absent in single-segment frames)."""
    descriptor = frame[4]
    assert descriptor & 0x03 == 0, "the frame already has a Dictionary_ID field"
    at = 5 + (0 if descriptor & 0x20 else 1)
    return frame[:4] + bytes([descriptor | 0x01]) + frame[5:at] + bytes([dictionary]) + frame[at:]


def zstd_with_dictionary_id(dictionary: int):
    return lambda codec, level, data: with_dictionary_id(compress(codec, level, data), dictionary)


def rows_f4(n: int) -> np.ndarray:
    return (np.arange(n * 3, dtype=np.float64) * 0.25 - 3).astype("<f4").reshape(n, 3)


def writer(path: Path, **kwargs) -> PyWriter:
    kwargs.setdefault("dtype", "<f4")
    kwargs.setdefault("row_shape", (3,))
    kwargs.setdefault("rows_per_chunk", 4)
    return PyWriter(path, uuid=UUID, **kwargs)


def reseal_record(path: Path, offset: int, field: int, value: bytes) -> None:
    """Overwrites bytes of the record header at ``offset`` and recomputes its ``headerCRC`` (§4)."""
    with open(path, "r+b") as f:
        f.seek(offset)
        head = bytearray(f.read(44))
        head[field:field + len(value)] = value
        f.seek(offset)
        f.write(bytes(head) + struct.pack("<I", rp.crc32c(head)))


def reseal_header(path: Path, length: int, field: int, value: bytes) -> None:
    """Overwrites bytes of the file header and recomputes its ``headerCRC`` (§3)."""
    with open(path, "r+b") as f:
        head = bytearray(f.read(length - 4))
        head[field:field + len(value)] = value
        f.seek(0)
        f.write(bytes(head) + struct.pack("<I", rp.crc32c(head)))


def two_chunk_zstd(path: Path) -> PyWriter:
    w = writer(path, codec=rp.CODEC_ZSTD, shuffle=False)
    w.append(rows_f4(8))
    w.commit()
    return w


def main() -> None:
    hostile = HERE / "hostile"
    hostile.mkdir(exist_ok=True)
    expected = {}

    # §4.1 (i): a Dictionary_ID field present but 0 is "no dictionary": a golden file.
    w = writer(HERE / "zstd_dictid0.rowpack", codec=rp.CODEC_ZSTD, compressor=zstd_with_dictionary_id(0))
    w.append(rows_f4(10))
    w.commit()
    np.save(HERE / "zstd_dictid0.npy", rows_f4(10))

    # ... and a nonzero one names a dictionary, which chunks never use: corrupt.
    w = writer(hostile / "zstd_dictid1.rowpack", codec=rp.CODEC_ZSTD, compressor=zstd_with_dictionary_id(1))
    w.append(rows_f4(8))
    w.commit()
    expected[w.path.name] = dict(error="corrupt", at="read", chunk=0, readable=[], message="dictionary")

    # ... and a zlib stream with a preset dictionary (FDICT set, RFC 1950 §2.2): corrupt.
    def zlib_with_dictionary(codec, level, data):
        packer = zlib.compressobj(level, zdict=b"a preset dictionary no reader has")
        return packer.compress(data) + packer.flush()

    w = writer(hostile / "zlib_preset_dictionary.rowpack", codec=rp.CODEC_ZLIB, shuffle=False, compressor=zlib_with_dictionary)
    w.append(rows_f4(8))
    w.commit()
    expected[w.path.name] = dict(error="corrupt", at="read", chunk=0, readable=[], message="zlib payload does not decode")

    # §4 (b): a record whose storedLength is below minStoredLength for its codec (65536 raw bytes
    # in 10 zlib bytes; deflate needs at least 65536 div 1032 = 63), refused from its header.
    w = writer(hostile / "record_below_min_stored.rowpack", dtype="|u1", row_shape=(1024,), rows_per_chunk=64,
               codec=rp.CODEC_ZLIB, compressor=lambda codec, level, data: bytes(10) if len(data) == 65536 else compress(codec, level, data))
    w.append(np.zeros((65, 1024), dtype="|u1"))
    w.commit()
    expected[w.path.name] = dict(error="corrupt", at="read", chunk=0, readable=[1], message="too short")

    # §4, §11 (c): codec and filter values this version does not define are a newer minor
    # version's: the chunk is "unsupported", the rest of the file still reads.
    for name, field, value, word in [("record_codec_3", 32, 3, "codec"), ("record_filter_2", 33, 2, "filter")]:
        w = two_chunk_zstd(hostile / f"{name}.rowpack")
        reseal_record(w.path, w.entries[0][0], field, bytes([value]))
        expected[w.path.name] = dict(error="unsupported", at="read", chunk=0, readable=[1], message=word)
    # The order of §4.3 step 1 decides the class: an unknown codec is found before a storedLength
    # (2^40) far above maxStoredLength.
    w = two_chunk_zstd(hostile / "record_codec_3_oversized.rowpack")
    reseal_record(w.path, w.entries[0][0], 24, struct.pack("<Q", 1 << 40))
    reseal_record(w.path, w.entries[0][0], 32, bytes([3]))
    expected[w.path.name] = dict(error="unsupported", at="read", chunk=0, readable=[1], message="codec")
    for name, field, value, word in [("header_codec_3", 64, 3, "codec"), ("header_filter_2", 65, 2, "filter")]:
        w = two_chunk_zstd(hostile / f"{name}.rowpack")
        reseal_header(w.path, w.H, field, bytes([value]))
        expected[w.path.name] = dict(error="unsupported", at="open", chunk=None, readable=[], message=word)

    # ... before any other header field: codec 3 with a row rank of 1000 is still unsupported.
    w = two_chunk_zstd(hostile / "header_codec_3_bad_rank.rowpack")
    reseal_header(w.path, w.H, 60, struct.pack("<I", 1000))
    reseal_header(w.path, w.H, 64, bytes([3]))
    expected[w.path.name] = dict(error="unsupported", at="open", chunk=None, readable=[], message="codec")

    (hostile / "expected.json").write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
