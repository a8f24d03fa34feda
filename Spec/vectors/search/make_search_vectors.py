#!/usr/bin/env python3
"""Makes the hostile containers of Spec/FORMAT.md §12 that decide which commit opens (§6.2, §7.2),
and expected.json, what every reader must make of them. Derived from ../u1_multicommit.rowpack or
built structure by structure; deterministic. Run from anywhere: python3 make_search_vectors.py"""

import json
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tools"))
from rowpack_reader import crc32c  # noqa: E402

UUID = bytes(range(0x40, 0x50))


def sealed_page(magic, first, entries):
    out = bytearray(magic) + struct.pack("<IQ", len(entries), first)
    for offset, length in entries:
        out += struct.pack("<QQ", offset, length)
    return bytes(out + struct.pack("<I", crc32c(bytes(out))))


def trailer(at, sequence, rows, chunks, root, root_checksum, previous, uuid=UUID):
    out = bytearray(b"RPKTRAIL") + struct.pack("<IHHQ", 128, 1, 0, sequence)
    out += struct.pack("<7Q", rows, chunks, root[0], root[1], previous, at + 128, 0) + uuid
    out += struct.pack("<QIII", 0, root_checksum, 0, 0)
    return bytes(out + struct.pack("<I", crc32c(bytes(out))) + b"LIARTKPR")


def reseal_trailer(blob, at):
    blob[at + 116:at + 120] = struct.pack("<I", crc32c(bytes(blob[at:at + 116])))


def header(rows_per_chunk, leaf_capacity):
    """'|u1' scalar rows, codec none, no shuffle."""
    descr = b"'|u1'"
    length = (80 + len(descr) + 4 + 7) // 8 * 8
    out = bytearray(b"\x89RPK\r\n\x1a\n") + struct.pack("<HHIII", 1, 0, length, 0, 0) + UUID
    out += struct.pack("<QQII", rows_per_chunk, 1, 1, 0) + struct.pack("<BBHiII", 0, 0, 1, 0, leaf_capacity, len(descr))
    out += descr
    out += bytes(length - 4 - len(out))
    return bytes(out + struct.pack("<I", crc32c(bytes(out))))


def creating_commit(head):
    """Header, the empty root and trailer 1 (§8.1)."""
    root = sealed_page(b"RPKR", 0, [])
    return bytearray(head + root + trailer(len(head) + len(root), 1, 0, 0, (len(head), len(root)), crc32c(root[:-4]), 0))


def record(chunk, payload):
    out = bytearray(b"RPKC") + struct.pack("<IQQQBBHiI", len(payload), chunk, len(payload), len(payload), 0, 0, 1, 0, crc32c(payload))
    return bytes(out + struct.pack("<I", crc32c(bytes(out)))) + payload


def last_trailer(blob):
    return len(blob) - 128


def main():
    multi = bytearray((HERE.parent / "u1_multicommit.rowpack").read_bytes())
    t4 = last_trailer(multi)
    t3 = struct.unpack_from("<Q", multi, t4 + 56)[0]
    rows3 = struct.unpack_from("<Q", multi, t3 + 24)[0]
    expected = {}

    # One flipped bit in the newest trailer's time field: damage, not a torn write (§7.2).
    damaged = bytearray(multi)
    damaged[t4 + 96] ^= 0x01
    expected["damaged_trailer"] = dict(sequence=3, rows=rows3, data="u1_multicommit", damaged_trailer=t4)

    # The newest root does not end where its trailer starts (§6.2 check 10, a 1.0 rule since this revision).
    gap = bytearray(multi[:t4]) + bytes(16) + multi[t4:]
    struct.pack_into("<Q", gap, t4 + 16 + 64, t4 + 16 + 128)
    reseal_trailer(gap, t4 + 16)
    expected["root_not_before_trailer"] = dict(sequence=3, rows=rows3, data="u1_multicommit", damaged_trailer=t4 + 16)

    # A torn tail whose last 8 bytes are an end magic without a trailer: the S - 8 candidate is no
    # trailer, the scan starts below it, and the newest commit opens with nothing to report (§7.2).
    magic_tail = bytearray(multi) + b"\x11" * 120 + b"LIARTKPR"
    expected["tail_ends_in_end_magic"] = dict(sequence=4, rows=20, data="u1_multicommit", damaged_trailer=None)

    # Leaf capacity 1: commit 2 holds rows 0-3 in 2 chunks (2 leaves); commit 3 adds chunks 2 and 3
    # but its root lists leaves 0, 1, 3, 2: entries not increasing (§5.1, §6.2 check 12).
    blob = creating_commit(header(rows_per_chunk=2, leaf_capacity=1))
    previous = last_trailer(blob)
    leaves = []
    for commit, chunks in ((2, (0, 1)), (3, (2, 3))):
        new = []
        for c in chunks:
            at = len(blob)
            blob += record(c, bytes([2 * c, 2 * c + 1]))
            leaf = sealed_page(b"RPKL", c, [(at, 48 + 2)])
            new.append((len(blob), len(leaf)))
            blob += leaf
        listed = leaves + new if commit == 2 else leaves + new[::-1]
        leaves += new
        root = sealed_page(b"RPKR", 0, listed)
        root_at = len(blob)
        blob += root
        at = len(blob)
        blob += trailer(at, commit, 2 * len(leaves), len(leaves), (root_at, len(root)), crc32c(root[:-4]), previous)
        previous = at
    expected["root_entries_out_of_order"] = dict(sequence=2, rows=4, data="00010203", damaged_trailer=previous)

    # 1000 forged trailers (checksums valid), each naming as its root everything from the end of the
    # creating commit up to itself: reading each root whole would read 64 MiB; a reader bounded as
    # §7.2 requires reads less than twice the file, opens the creating commit, reports the newest forgery.
    forged = creating_commit(header(rows_per_chunk=1, leaf_capacity=1))
    base = len(forged)
    forged += b"\x33" * 20
    for i in range(1000):
        at = len(forged)
        n = (at - base - 20) // 16
        forged += trailer(at, i + 2, n, n, (base, at - base), 0, 0)
    expected["forged_trailers"] = dict(sequence=1, rows=0, data="", damaged_trailer=last_trailer(forged))

    for name, content in (("damaged_trailer", damaged), ("root_not_before_trailer", gap),
                          ("tail_ends_in_end_magic", magic_tail), ("root_entries_out_of_order", blob),
                          ("forged_trailers", forged)):
        (HERE / f"{name}.rowpack").write_bytes(bytes(content))
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
