#!/usr/bin/env python3
"""Regenerates the seed corpus of every fuzz target (Tests/Fuzz/corpus/<Target>/) from the golden
vectors in Spec/vectors and from numpy's own .npy encoder.

The seeds are small real structures, cut out of real files, in the input layout each harness
expects (see the comment at the top of each Sources/<Target>/main.swift). Run it when a harness'
input layout changes: python3 Tests/Fuzz/make_corpus.py
"""

import io
import pathlib
import shutil
import struct

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
VECTORS = HERE.parents[1] / "Spec" / "vectors"
CORPUS = HERE / "corpus"
TRAILER = 128


def commits(data):
    """(trailer offset, header length, root (offset, length), leaves, records) per commit,
    newest first, following previousTrailer from the last trailer (past a torn tail)."""
    (hlen,) = struct.unpack_from("<I", data, 12)
    out = []
    end = data.rfind(b"LIARTKPR") + 8
    while True:
        t = end - TRAILER
        prev, root_off, root_len = struct.unpack_from("<Q", data, t + 56)[0], *struct.unpack_from("<QQ", data, t + 40)
        (count,) = struct.unpack_from("<I", data, root_off + 4)
        leaves = [struct.unpack_from("<QQ", data, root_off + 16 + 16 * i) for i in range(count)]
        records = []
        for off, length in leaves:
            (n,) = struct.unpack_from("<I", data, off + 4)
            records += [struct.unpack_from("<QQ", data, off + 16 + 16 * i) for i in range(n)]
        out.append((t, hlen, (root_off, root_len), leaves, records))
        if prev == 0:  # the creating commit
            return out
        end = prev + TRAILER


def main():
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    seeds = {}

    def add(target, name, blob):
        d = CORPUS / target
        d.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(bytes(blob))
        seeds[target] = seeds.get(target, 0) + 1

    # The golden vectors, and the hostile ones (refused by readers, but structurally whole).
    for path in sorted(VECTORS.glob("*.rowpack")) + sorted(VECTORS.glob("hostile/*.rowpack")):
        data = path.read_bytes()
        stem = path.stem
        add("FuzzOpen", stem, data)
        (hlen,) = struct.unpack_from("<I", data, 12)
        add("FuzzFileHeader", stem, data[:hlen])
        rows_per_chunk, row_bytes = struct.unpack_from("<QQ", data, 40)
        seen = set()
        for k, (t, _, (root_off, root_len), leaves, records) in enumerate(commits(data)):
            add("FuzzCommitTrailer", f"{stem}-commit{k}", data[t : t + TRAILER] + struct.pack("<II", rows_per_chunk, row_bytes))
            add("FuzzIndexPage", f"{stem}-root{k}", b"\x01" + struct.pack("<QQ", root_off, hlen) + data[root_off : root_off + root_len])
            for j, (off, length) in enumerate(leaves):
                add("FuzzIndexPage", f"{stem}-leaf{k}-{j}", b"\x00" + struct.pack("<QQ", off, hlen) + data[off : off + length])
            for j, (off, length) in enumerate(records):
                if off in seen or j > 3:
                    continue
                seen.add(off)
                add("FuzzChunkRecord", f"{stem}-chunk{j}-at{off}", data[off : off + length])

    # .npy headers: the vectors, and numpy's encoder on the shapes and dtypes that matter.
    for path in sorted(VECTORS.glob("*.npy")):
        add("FuzzNpyHeader", path.stem, path.read_bytes()[:256])
    arrays = {
        "scalar0d": np.array(3.5),
        "empty": np.zeros((0, 3), dtype="<i2"),
        "fortran": np.asfortranarray(np.arange(12, dtype=">i4").reshape(3, 4)),
        "bool3d": np.zeros((2, 1, 2), dtype=bool),
        "complex": np.zeros(4, dtype="<c16"),
        "bytes": np.zeros(2, dtype="|S7"),
        "timedelta": np.zeros(2, dtype="<m8[25s]"),
        "nested": np.zeros(2, dtype=[("pos", "<f4", (3,)), ("inner", [("a", "u1"), ("b", ">i8")]), ("t", "|V3")]),
        "titled": np.zeros(1, dtype=np.dtype({"names": ["a"], "formats": ["<i4"], "titles": ["Title A"]})),
        "padded": np.zeros(1, dtype=np.dtype({"names": ["x", "y"], "formats": ["u1", "<f8"], "offsets": [0, 8], "itemsize": 24})),
        "version3": np.zeros(1, dtype=[("温度", "<f4"), ("é", "u1")]),
    }
    for name, arr in arrays.items():
        buf = io.BytesIO()
        np.save(buf, arr)
        blob = buf.getvalue()
        add("FuzzNpyHeader", name, blob[: blob.index(b"\n") + 17])
    # Whole .npy files (FuzzNpyFile): the arrays above with their data, a header whose digits
    # straddle a 512-byte sector (the three-step rewrite), one with bytes after its data (an
    # interrupted append), and rows whose size overflows although the data is empty.
    for name, arr in arrays.items():
        buf = io.BytesIO()
        np.save(buf, arr)
        add("FuzzNpyFile", name, buf.getvalue())
    straddle = np.dtype([("n" * 427, "u1"), ("b", "<u2")])  # the sector ends 2 bytes into "1234"
    buf = io.BytesIO()
    np.save(buf, np.zeros(1234, straddle))
    add("FuzzNpyFile", "straddling_digits", buf.getvalue())
    buf = io.BytesIO()
    np.save(buf, np.arange(12, dtype="<i4").reshape(4, 3))
    add("FuzzNpyFile", "trailing_rows", buf.getvalue() + bytes(range(30)))
    text = "{'descr': '|u1', 'fortran_order': False, 'shape': (0, 1099511627776, 1099511627776), }"
    pad = 64 - ((10 + len(text) + 1) % 64)
    add("FuzzNpyFile", "row_overflow", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text) + pad + 1) + text.encode() + b" " * pad + b"\n")
    # Versions 2.0 and 3.0 with short headers (numpy reads them; it writes them only when needed).
    for version, text in ((2, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }"),
                          (3, "{'descr': [('\u00e9', '<f4')], 'fortran_order': False, 'shape': (1,), }")):
        body = text.encode("utf8")
        pad = 64 - ((12 + len(body) + 1) % 64)
        add("FuzzNpyHeader", f"version{version}_short", b"\x93NUMPY" + bytes([version, 0]) + struct.pack("<I", len(body) + pad + 1) + body + b" " * pad + b"\n")
    # A numpy < 1.24 header (no growth room) and one with spaces and a trailing-comma variant.
    text = "{'descr': '<f8', 'fortran_order': False, 'shape': (5,), }"
    hl = len(text) + 1
    pad = 64 - ((10 + hl) % 64)
    add("FuzzNpyHeader", "old_style", b"\x93NUMPY\x01\x00" + struct.pack("<H", hl + pad) + text.encode() + b" " * pad + b"\n")
    text = "{\"shape\": (2, 3L), \"fortran_order\": True, \"descr\": \"<u2\"}"
    hl = len(text) + 1
    pad = 64 - ((10 + hl) % 64)
    add("FuzzNpyHeader", "reordered_long", b"\x93NUMPY\x01\x00" + struct.pack("<H", hl + pad) + text.encode() + b" " * pad + b"\n")

    for k, text in enumerate([
        "'<f4'", "'|b1'", "'<i8'", "'>u2'", "'|S5'", "'<U3'", "'|V7'", "'<M8[ns]'", "'<m8[25s]'", "'<c16'",
        "'=f4'", "'i1'", "[('x', '<f4'), ('y', '<i8')]", "[('pos', '<f4', (3,)), ('id', '<u2')]",
        "[(('Title A', 'a'), '<i4')]", "[('', '|V7'), ('b', [('c', '>f8')], (2, 2))]", "'<f16'",
        "float32", "datetime64[us]", "uint64", "complex", "S3", "?",
    ]):
        add("FuzzDType", f"descr{k:02d}", text.encode())
    for target, n in sorted(seeds.items()):
        print(f"{target}: {n} seeds")


if __name__ == "__main__":
    main()
