"""Reliability through the CLI: "prove it loses nothing" (see Tests/RELIABILITY.md).

- SIGKILL of `rowpack append` at random moments (short version of Tests/reliability/kill_soak.py);
- a full disk (RLIMIT_FSIZE) during append, import, export, export --append and npy-append;
- a second writer in another process; a read-only file opened by an unprivileged user;
- readers in other processes following a writer (short version of soak_readers.py);
- `rowpack verify` naming every damaged chunk;
- hostile sizes: tiny files claiming huge sizes stay small in memory (peak RSS of the child).
"""

import fcntl
import json
import os
import pathlib
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile

import numpy as np
import pytest

from interop_util import assert_no_crash, assert_runtime_error

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "reliability"))
import kill_soak  # noqa: E402
import rowpack_bytes as rb  # noqa: E402
import soak_readers  # noqa: E402


def save(directory, name, arr):
    path = pathlib.Path(directory) / name
    np.save(path, arr)
    return path


def sensor(rows, seed, cols=4):
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.standard_normal((rows, cols)), axis=0).astype("<f4")


def export_all(rp, container, directory):
    out = pathlib.Path(directory) / "all.npy"
    if out.exists():
        out.unlink()
    rp.ok("export", container, out, "-q")
    return np.load(out)


# --- SIGKILL at random moments ------------------------------------------------------------------


def test_kill_append_at_random_moments(rowpack_bin, tmp):
    """Short kill soak: 8 kills of `rowpack append`; after each the file opens, verifies, holds
    exactly the completed commits (or also the killed one, whole), equals the source prefix,
    and appending resumes."""
    stats = kill_soak.soak(rowpack_bin, tmp, kills=8, seed=11, pool_size=12, log=lambda line: None)
    assert stats["kills"] == 8
    assert stats["rolled_back"] + stats["in_progress_kept"] == 8


# --- Write order --------------------------------------------------------------------------------


def test_append_writes_only_past_the_last_commit_in_durable_order(rp, rowpack_bin, tmp):
    """What makes a crash safe, watched at the system calls of `rowpack append` (durable mode):
    every pwrite lands at or past the previous commit's end (nothing committed is rewritten,
    even when a partial tail chunk grows), then fdatasync, then one 128-byte pwrite of the
    trailer at the very end, then fdatasync, then nothing. Needs strace (`.ci/run` installs it):
    without it the test fails rather than skip."""
    assert shutil.which("strace"), "needs strace (apt-get install strace)"
    c = tmp / "c.rowpack"
    rp.ok("import", save(tmp, "a.npy", sensor(2500, 9)), c, "--chunk-rows", "1000", "-q")  # chunk 2 partial
    for rows in (10, 3000):
        committed = rp.info(c)["committed_bytes"]
        trace = tmp / "trace.txt"
        res = subprocess.run(["strace", "-f", "-qq", "-e", "trace=pwrite64,write,fdatasync,fsync,ftruncate", "-o", str(trace),
                              str(rowpack_bin), "append", str(c), str(save(tmp, "b.npy", sensor(rows, rows))), "-q"],
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        calls = []
        for line in trace.read_text().splitlines():
            m = re.search(r"(pwrite64|fdatasync|fsync|ftruncate)\((\d+)(?:, .*, (\d+), (\d+)\) = (\d+))?", line)
            if m and (m.group(1) != "pwrite64" or m.group(3)):
                calls.append((m.group(1), int(m.group(4) or 0), int(m.group(5) or 0)))
        names = [name for name, _, _ in calls]
        assert names[-4:][1:] == ["fdatasync", "pwrite64", "fdatasync"], calls
        assert "ftruncate" not in names, calls
        trailer = calls[-2]
        assert trailer[2] == 128 and trailer[1] + 128 == c.stat().st_size, calls
        for name, offset, length in calls:
            if name == "pwrite64":
                assert offset >= committed, f"a write at {offset} below the last commit's end {committed}: {calls}"
        first_sync = names.index("fdatasync")
        assert all(name == "pwrite64" for name in names[:first_sync]) and first_sync == len(names) - 3, calls
        rp.ok("verify", c)


# --- Full disk: RLIMIT_FSIZE ------------------------------------------------------------------


def file_size_limit(nbytes):
    """A preexec_fn: the child may not grow any file past `nbytes`; writes past it fail with
    EFBIG instead of raising SIGXFSZ."""

    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))

    return apply


def run_limited(rowpack_bin, limit, *args):
    return subprocess.run([str(rowpack_bin), *map(str, args)], capture_output=True, text=True, timeout=120,
                          preexec_fn=file_size_limit(limit))


def test_full_disk_during_append_at_every_stage(rp, rowpack_bin, tmp):
    """The disk fills at 30 points of an append's writes (first record … the trailer's last
    byte): exit 1 with one line naming the file, the container back at its last commit (same
    bytes), verify ok; with exactly enough room the append succeeds; later appends work."""
    base = sensor(3000, 1)
    more = sensor(20000, 2)
    c = tmp / "c.rowpack"
    rp.ok("import", save(tmp, "base.npy", base), c, "--chunk-rows", "1000", "-q")
    src = save(tmp, "more.npy", more)
    pristine = c.read_bytes()
    probe = tmp / "probe.rowpack"
    shutil.copy(c, probe)
    rp.ok("append", probe, src, "-q")
    grown = probe.stat().st_size - len(pristine)
    assert grown > 1000
    limits = sorted({len(pristine) + d for d in [0, 1, 47, 48, 49, 500, grown - 129, grown - 128, grown - 127, grown - 20, grown - 1]
                     + [grown * k // 20 for k in range(1, 20)]})
    for limit in limits:
        res = run_limited(rowpack_bin, limit, "append", c, src, "-q")
        line = assert_runtime_error(res, str(c))
        assert "too large" in line.lower() or "no space" in line.lower(), line
        assert c.read_bytes() == pristine, f"limit {limit}: the file is not back at its last commit"
        rp.ok("verify", c)
    res = run_limited(rowpack_bin, len(pristine) + grown, "append", c, src, "-q")
    assert res.returncode == 0, f"an append with exactly enough room failed: {res.stderr}"
    rp.ok("append", c, save(tmp, "tail.npy", base[:7]), "-q")
    np.testing.assert_array_equal(export_all(rp, c, tmp), np.concatenate([base, more, base[:7]]))
    rp.ok("verify", c)


def test_full_disk_during_import_leaves_no_partial_file(rp, rowpack_bin, tmp):
    arr = sensor(50000, 3)
    src = save(tmp, "src.npy", arr)
    out = tmp / "out"
    out.mkdir()
    dst = out / "c.rowpack"
    res = run_limited(rowpack_bin, 100_000, "import", src, dst, "--chunk-rows", "1000", "-q")
    assert_runtime_error(res, str(dst))
    # The container appears only complete (FORMAT.md §8.1): a failed import leaves nothing, not
    # even a temporary file, and running it again is not refused.
    assert list(out.iterdir()) == []
    rp.ok("import", src, dst, "--chunk-rows", "1000", "-q")
    np.testing.assert_array_equal(export_all(rp, dst, tmp), arr)


def test_full_disk_during_export(rp, rowpack_bin, tmp):
    """A new export that runs out of room: exit 1, one line, no partial or temporary file; an
    existing destination stays as it was."""
    arr = sensor(40000, 4)
    c = tmp / "c.rowpack"
    rp.ok("import", save(tmp, "src.npy", arr), c, "-q")
    out = tmp / "out"
    out.mkdir()
    for limit in (0, 100, 64 * 1024, arr.nbytes // 2, arr.nbytes + 127):
        res = run_limited(rowpack_bin, limit, "export", c, out / "e.npy", "-q")
        assert_runtime_error(res, "e.npy")
        assert list(out.iterdir()) == [], f"limit {limit}: left {list(out.iterdir())}"
    keep = save(out, "keep.npy", arr[:10])
    before = keep.read_bytes()
    res = run_limited(rowpack_bin, arr.nbytes // 3, "export", c, keep, "-q")
    assert_runtime_error(res, "keep.npy")
    assert keep.read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["keep.npy"]
    res = run_limited(rowpack_bin, arr.nbytes + 128, "export", c, out / "fits.npy", "-q")
    assert res.returncode == 0, res.stderr
    np.testing.assert_array_equal(np.load(out / "fits.npy"), arr)


@pytest.mark.parametrize("command", ["export --append", "npy-append"])
def test_full_disk_while_appending_to_npy(rp, rowpack_bin, tmp, command):
    """Appending rows to a .npy on a full disk: exit 1, one line; the target still loads with
    its old rows (same bytes); after room is made the same append works."""
    arr = sensor(30000, 5)
    c = tmp / "c.rowpack"
    src = save(tmp, "src.npy", arr)
    rp.ok("import", src, c, "-q")
    target = save(tmp, "target.npy", arr[:100])
    before = target.read_bytes()
    args = ["export", c, target, "--append", "-q"] if command == "export --append" else ["npy-append", target, src, "-q"]
    res = run_limited(rowpack_bin, len(before) + arr.nbytes // 2, *args)
    assert_runtime_error(res, "target.npy")
    assert target.read_bytes() == before, "a failed append must leave the .npy as it was"
    np.testing.assert_array_equal(np.load(target), arr[:100])
    rp.ok(*args)
    np.testing.assert_array_equal(np.load(target), np.concatenate([arr[:100], arr]))


# --- Locks and permissions ------------------------------------------------------------------


def test_second_writer_in_another_process_is_refused(rp, tmp):
    """While another process holds the writer's lock (flock LOCK_EX, as ContainerWriter takes
    it), `rowpack append` exits 1 with one line saying so and changes nothing; readers are not
    blocked; once released, the append works."""
    arr = sensor(500, 6)
    c = tmp / "c.rowpack"
    src = save(tmp, "src.npy", arr)
    rp.ok("import", src, c, "--chunk-rows", "64", "-q")
    before = c.read_bytes()
    with open(c, "rb+") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        line = assert_runtime_error(rp("append", c, src, "-q"), str(c))
        assert "another writer" in line
        for args in (["info", c, "--json"], ["verify", c], ["read", c, "--rows", "0:3"], ["export", c, tmp / "x.npy", "-q"]):
            rp.ok(*args)
        assert c.read_bytes() == before
    rp.ok("append", c, src, "-q")
    assert rp.info(c)["rows"] == 1000


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to an unprivileged user")
def test_read_only_file_as_unprivileged_user(rp, rowpack_bin):
    """A container mode 0444 owned by root, read by user nobody: info, read, verify, tail and
    export work; append and recover fail with one clear line and change nothing."""
    arr = sensor(300, 7)
    top = pathlib.Path(tempfile.mkdtemp(prefix="rowpack-ro-"))
    try:
        os.chmod(top, 0o755)
        c = top / "c.rowpack"
        rp.ok("import", save(top, "src.npy", arr), c, "--chunk-rows", "64", "-q")
        os.chmod(c, 0o444)
        before = c.read_bytes()
        out = top / "out"
        out.mkdir()
        os.chown(out, 65534, 65534)
        # A copy of the binary nobody can reach (the checkout may sit under a 0700 directory).
        binary = top / "rowpack"
        shutil.copy(rowpack_bin, binary)
        os.chmod(binary, 0o755)

        def as_nobody(*args):
            def drop():
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)

            return subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True, timeout=60, preexec_fn=drop,
                                  cwd=top)

        for args in (["info", c, "--json"], ["verify", c], ["read", c, "--rows", "5:9"], ["tail", c, "-n", "2"],
                     ["export", c, out / "e.npy", "-q"]):
            res = as_nobody(*args)
            assert res.returncode == 0, f"{args[0]} as nobody: {res.stderr}"
        np.testing.assert_array_equal(np.load(out / "e.npy"), arr)
        for args in (["append", c, top / "src.npy", "-q"], ["recover", c]):
            line = assert_runtime_error(as_nobody(*args), str(c))
            assert "denied" in line.lower() or "permission" in line.lower(), line
        assert c.read_bytes() == before
    finally:
        shutil.rmtree(top)


# --- Readers following a writer -------------------------------------------------------------------


def test_followers_see_every_row_once_in_order(rowpack_bin, tmp):
    """Short reader soak: 3 `rowpack tail --follow` processes (one joining late) follow 3 s of
    appends: every row once, in order, with the right values."""
    stats = soak_readers.soak(rowpack_bin, tmp, seconds=3, readers=3, seed=5, log=lambda line: None)
    assert stats["commits"] > 10 and stats["rows_checked"] >= stats["rows"]


def test_follow_until_rows_stops_after_the_last_row(rp, tmp):
    """`--until-rows N` ends once N rows are committed, having printed each exactly once."""
    c = tmp / "c.rowpack"
    rp.ok("import", save(tmp, "b.npy", soak_readers.rows_array(0, 0)), c, "--chunk-rows", "32", "-q")
    final = 5000
    # -n huge: each prints from row 0 whenever it gets to open the file.
    followers = [rp.popen("tail", c, "--follow", "-n", 10**12, "--until-rows", final, "--interval-ms", "2",
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    rows = 0
    for n in [1, 31, 32, 33, 903, 4000]:
        rp.ok("append", c, save(tmp, "b.npy", soak_readers.rows_array(rows, n)), "-q")
        rows += n
    assert rows == final
    for k, follower in enumerate(followers):
        out, err = follower.communicate(timeout=60)
        assert follower.returncode == 0, err
        soak_readers.check_output(out, 0, final, f"follower {k}")


# --- verify names every damaged chunk ------------------------------------------------------------


def chunk_records(path):
    """(chunk, record offset, stored length) of the chunk records, walking the file."""
    data = path.read_bytes()
    (header_len,) = struct.unpack_from("<I", data, 12)
    records = []
    at = data.find(b"RPKC", header_len)
    while at >= 0 and at + 48 <= len(data) and data[at:at + 4] == b"RPKC":
        rows, chunk, raw, stored = struct.unpack_from("<IQQQ", data, at + 4)
        records.append((chunk, at, stored))
        at += 48 + stored
    return records


def test_verify_lists_every_damaged_chunk(rp, tmp):
    arr = sensor(700, 8)
    c = tmp / "c.rowpack"
    rp.ok("import", save(tmp, "x.npy", arr), c, "--chunk-rows", "100", "--codec", "zstd", "-q")
    records = chunk_records(c)
    assert [r[0] for r in records] == list(range(7))
    damaged = [1, 3, 6]
    data = bytearray(c.read_bytes())
    for chunk in damaged:
        _, at, stored = records[chunk]
        data[at + 48 + stored // 3] ^= 0x04
    c.write_bytes(bytes(data))
    res = rp("verify", c)
    assert res.returncode == 1, res
    assert_no_crash(res)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == len(damaged) + 1, f"one line per damaged chunk, then the summary:\n{res.stderr}"
    for chunk, line in zip(damaged, lines):
        assert re.search(rf"\(chunk {chunk}, byte \d+\)", line), line
        assert str(c) in line
    assert "3 damaged" in lines[-1], lines[-1]
    for chunk in set(range(7)) - set(damaged):
        assert not re.search(rf"chunk {chunk}\b", res.stderr)
    # The intact chunks still export.
    out = tmp / "ok.npy"
    rp.ok("export", c, out, "--rows", "400:600", "-q")
    np.testing.assert_array_equal(np.load(out), arr[400:600])


# --- Hostile sizes: bounded memory ---------------------------------------------------------------

TWO_GIB = 1 << 31


def hostile_files():
    """name -> bytes of small files that claim huge sizes."""
    files = {}
    h8 = rb.header(descr="'<i8'", item_size=8, rows_per_chunk=4)
    valid = rb.container(h8, 4, [rb.record(0, 4, 32, bytes(range(32)))], 4)
    hl = len(h8)
    # A header claiming ~4 GiB.
    files["header-claims-4GiB"] = valid[:12] + struct.pack("<I", 0xFFFFFFF8) + valid[16:64]
    # A trailer whose root would list 2^31 leaves (32 GiB of root).
    leaves = 1 << 31
    chunks = leaves * 4096
    files["root-of-2^31-leaves"] = h8 + rb.trailer(hl, chunks * 4, chunks, (hl, 20 + 16 * leaves), 0)
    # A root page whose count says 2^31 entries.
    root = rb.page("root", 0, [(hl, 52)], count=1 << 31)
    files["root-count-2^31"] = h8 + bytes(52) + root + rb.trailer(hl + 52 + len(root), 4, 1, (hl + 52, len(root)), rb.crc32c(root[:-4]))
    # A record claiming 2 GiB raw from 100 bytes, in an index that says 4 rows of 8 bytes.
    files["record-claims-2GiB-index-says-32B"] = rb.container(h8, 4, [rb.record(0, 4, TWO_GIB, b"\xab" * 100, codec="zstd")], 4)
    # Decompression bombs that agree with the index (32 KiB chunk): the payloads expand to 16 MiB.
    import zlib

    import zstandard

    h32k = rb.header(descr="'|u1'", item_size=1, row_shape=(1024,), rows_per_chunk=32, codec="zstd", level=1)
    zeros = bytes(16 << 20)
    files["zstd-bomb-16MiB-in-32KiB-chunk"] = rb.container(
        h32k, 32, [rb.record(0, 32, 32 << 10, zstandard.ZstdCompressor(level=19).compress(zeros), codec="zstd")], 32)
    files["zlib-bomb-16MiB-in-32KiB-chunk"] = rb.container(h32k, 32, [rb.record(0, 32, 32 << 10, zlib.compress(zeros, 9), codec="zlib")], 32)
    # Consistent claims of one 2 GiB chunk: header, index and record agree; the payload is 100
    # bytes (a zstd payload needs >= 64 KiB to expand to 2 GiB).
    h2g = rb.header(descr="'|u1'", item_size=1, rows_per_chunk=TWO_GIB, codec="zstd", level=1)
    files["one-2GiB-chunk-from-100B"] = rb.container(h2g, TWO_GIB, [rb.record(0, TWO_GIB, TWO_GIB, b"\xab" * 100, codec="zstd")], TWO_GIB)
    # The same with a real zstd frame that does not declare its size, and a real zlib stream
    # (1,000 zeros each: they cannot expand to 2 GiB either).
    no_size = zstandard.ZstdCompressor(level=1, write_content_size=False).compress(bytes(1000))
    files["one-2GiB-chunk-from-zstd-frame-without-size"] = rb.container(
        h2g, TWO_GIB, [rb.record(0, TWO_GIB, TWO_GIB, no_size, codec="zstd")], TWO_GIB)
    h2gz = rb.header(descr="'|u1'", item_size=1, rows_per_chunk=TWO_GIB, codec="zlib", level=6)
    files["one-2GiB-chunk-from-zlib-stream"] = rb.container(
        h2gz, TWO_GIB, [rb.record(0, TWO_GIB, TWO_GIB, zlib.compress(bytes(1000)), codec="zlib")], TWO_GIB)
    # Valid containers whose header chooses 2 GiB chunks: empty, and one row.
    files["empty-with-2GiB-chunks"] = rb.container(h2g, 0, [], TWO_GIB)
    files["one-row-with-2GiB-chunks"] = rb.container(h2g, 1, [rb.record(0, 1, 1, zstandard.compress(b"\x07"), codec="zstd")], TWO_GIB)
    return files


# Why a command failed here when these tests were written (see Tests/RELIABILITY.md, "Bugs
# found"); only used to explain a failure.
KNOWN_BUGS = {
    "verify": "a chunk's rows × rowBytes are allocated once its payload passes its checks, which a zstd frame without a "
    "declared size or any zlib stream does: bound the raw size by the payload's maximum expansion first",
    "read": "as verify",
    "tail": "as verify",
    "export": "the exporter reserves two blocks of at least one whole chunk each before decoding anything, even for one row",
}

COMMANDS = {
    "info": ["info", "{f}", "--json"],
    "verify": ["verify", "{f}"],
    "read": ["read", "{f}", "--rows", "0:1"],
    "export": ["export", "{f}", "{out}", "-q"],
    "tail": ["tail", "{f}", "-n", "1"],
}


ADDRESS_SPACE = 1 << 30


# Run by a bare interpreter (`python3 -I -S`): a forked child's peak RSS includes the memory of
# the process it was forked from until its exec, so forking this test process (numpy, earlier
# tests' arrays) would add tens of MiB to every figure.
_MEASURE = """
import os, resource, sys
limit, errors, argv = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
pid = os.fork()
if pid == 0:
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        os.dup2(os.open(errors, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), 2)
        os.execv(argv[0], argv)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def peak_rss_mib(binary, args, address_space=ADDRESS_SPACE):
    """Runs the binary with its address space capped (an allocation of a claimed size fails,
    and Swift traps on a failed allocation); returns (exit code, stderr, peak RSS in MiB of
    that child alone)."""
    with tempfile.TemporaryDirectory() as directory:
        errors = os.path.join(directory, "stderr")
        res = subprocess.run([sys.executable, "-I", "-S", "-c", _MEASURE, str(address_space), errors, str(binary), *map(str, args)],
                             capture_output=True, text=True, timeout=600, check=True)
        code, maxrss_kib = map(int, res.stdout.split())
        with open(errors, errors="replace") as f:
            return code, f.read(), maxrss_kib / 1024


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    directory = tmp_path_factory.mktemp("hostile")
    paths = {}
    for name, data in hostile_files().items():
        assert len(data) < 64 * 1024, (name, len(data))
        paths[name] = directory / f"{name}.rowpack"
        paths[name].write_bytes(data)
    return paths


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("name", list(hostile_files()))
def test_hostile_sizes_stay_small_in_memory(rowpack_bin, hostile, tmp, name, command):
    """Each CLI command on a small file claiming huge sizes exits 0 or 1 (never a signal) with
    its address space capped at 1 GiB, and its peak RSS stays under 256 MiB: nothing of a
    claimed size is allocated, let alone touched."""
    args = [a.format(f=hostile[name], out=tmp / "out.npy") for a in COMMANDS[command]]
    code, err, rss = peak_rss_mib(rowpack_bin, args)
    hint = f" [{KNOWN_BUGS[command]}]" if command in KNOWN_BUGS else ""
    assert code in (0, 1), f"{command} on {name} (address space capped at 1 GiB): exit {code}{hint}\n{err[-1500:]}"
    assert "Fatal error" not in err and "Backtrace" not in err, err[-2000:]
    assert rss < 256, f"{command} on a {hostile[name].stat().st_size}-byte file ({name}) peaked at {rss:.0f} MiB RSS{hint}"
