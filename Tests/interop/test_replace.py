"""Replacing and creating files: every command that writes a whole file (import, compact, export,
read --out) builds it aside and publishes it in one step, so a destination holds its old content
or the complete new file — never a partial one — and nothing is left behind (issue 10, items
1, 2, 3, 18–21)."""

import fcntl
import os
import pathlib
import random
import re
import shutil
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pytest

from interop_util import assert_runtime_error, assert_same_array, concat

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "reliability"))
from test_npy_append import tight_old_style  # noqa: E402
from test_reliability import chunk_records, file_size_limit, save, sensor  # noqa: E402


def names(directory):
    return sorted(p.name for p in pathlib.Path(directory).iterdir())


def container(rp, directory, name, arr, *options):
    path = pathlib.Path(directory) / name
    rp.ok("import", save(directory, name + ".src.npy", arr), path, *options, "-q")
    os.unlink(pathlib.Path(directory) / (name + ".src.npy"))
    return path


def rows_of(rp, path, directory):
    out = pathlib.Path(directory) / "check.npy"
    rp.ok("export", path, out, "--force", "-q")
    arr = np.load(out)
    out.unlink()
    return arr


# --- kill -9 at random moments -------------------------------------------------------------------

KILLS = int(os.environ.get("ROWPACK_REPLACE_KILLS", "40"))  # the long run sets more


def kill_at_random_moments(rp, rowpack_bin, work, args, old_bytes, target, check_new, seed):
    """Runs `rowpack ARGS` KILLS times, each killed after a random delay within about its run
    time; after each, `target` holds exactly `old_bytes` or a complete new file (`check_new`),
    and the directory holds only the files it held before — except, for a kill between linking
    the finished file to its hidden name and renaming it over the target, that hidden name of the
    killed process, which the next command replacing a file there removes (checked at the end).
    Returns (old kept, new complete)."""
    before = names(work)
    started = time.monotonic()
    rp.ok(*args)
    duration = time.monotonic() - started
    check_new()
    rng = random.Random(seed)
    kept = complete = 0
    for _ in range(KILLS):
        target.write_bytes(old_bytes)
        proc = subprocess.Popen([str(rowpack_bin), *map(str, args)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0, duration * 1.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        left = set(names(work)) - set(before)
        hidden = re.compile(rf"\.rp-{proc.pid}-[0-9a-f]{{8}}\.tmp")
        assert all(hidden.fullmatch(name) for name in left), f"left behind: {left}"
        assert set(before) <= set(names(work)), f"lost: {set(before) - set(names(work))}"
        if target.read_bytes() == old_bytes:
            kept += 1
        else:
            check_new()
            complete += 1
    rp.ok(*args)  # a run that completes removes what killed ones left
    assert names(work) == before, f"left behind: {set(names(work)) - set(before)}"
    return kept, complete


def test_kill_import_force_at_random_moments(rp, rowpack_bin, tmp):
    """40 kills of `import --force` over a container of 300 rows: the destination always holds
    the old 300 rows (same bytes) or the whole new import (verify ok), never 0 rows; no
    temporary file is ever left in the directory."""
    old = sensor(300, 1)
    new = sensor(1_500_000, 2)
    dst = container(rp, tmp, "c.rowpack", old, "--chunk-rows", "64")
    src = save(tmp, "new.npy", new)
    old_bytes = dst.read_bytes()

    def check_new():
        assert rp.info(dst)["rows"] == len(new)
        rp.ok("verify", dst)

    kept, complete = kill_at_random_moments(
        rp, rowpack_bin, tmp, ["import", src, dst, "--force", "-q"], old_bytes, dst, check_new, seed=3)
    assert kept + complete == KILLS and kept > 0, (kept, complete)
    np.testing.assert_array_equal(rows_of(rp, dst, tmp), old if dst.read_bytes() == old_bytes else new)


def test_kill_compact_in_place_at_random_moments(rp, rowpack_bin, tmp):
    """40 kills of `compact X X --force` (recompressing): X always holds its old bytes or its
    complete compacted copy with the same rows (verify ok); nothing is left behind."""
    arr = sensor(1_200_000, 4)
    x = container(rp, tmp, "x.rowpack", arr[:1000], "--chunk-rows", "5000")
    rp.ok("append", x, save(tmp, "more.npy", arr[1000:]), "-q")
    os.unlink(tmp / "more.npy")
    old_bytes = x.read_bytes()
    assert rp.info(x)["dead_bytes"] > 0

    def check_new():
        info = rp.info(x)
        assert info["rows"] == len(arr) and info["level"] == 3, info
        rp.ok("verify", x)

    kept, complete = kill_at_random_moments(
        rp, rowpack_bin, tmp, ["compact", x, x, "--force", "--level", "3", "-q"], old_bytes, x, check_new, seed=5)
    assert kept + complete == KILLS and kept > 0, (kept, complete)
    np.testing.assert_array_equal(rows_of(rp, x, tmp), arr)


# --- failures while building: the destination keeps its content ----------------------------------


def test_compact_in_place_with_a_damaged_chunk_leaves_the_file_identical(rp, tmp):
    arr = sensor(1000, 6)
    x = container(rp, tmp, "x.rowpack", arr, "--chunk-rows", "100")
    _, at, stored = chunk_records(x)[7]
    data = bytearray(x.read_bytes())
    data[at + 48 + stored // 2] ^= 0x10
    x.write_bytes(bytes(data))
    line = assert_runtime_error(rp("compact", x, x, "--force", "-q"), str(x))
    assert "chunk 7" in line, line
    assert x.read_bytes() == bytes(data)
    assert names(tmp) == ["x.rowpack"]
    # A damaged source never clobbers another destination either, and a re-run is not refused.
    d = container(rp, tmp, "d.rowpack", arr[:5])
    d_bytes = d.read_bytes()
    assert_runtime_error(rp("compact", x, d, "--force", "-q"), "chunk 7")
    assert d.read_bytes() == d_bytes
    fresh = tmp / "fresh.rowpack"
    for _ in range(2):
        assert "file exists" not in assert_runtime_error(rp("compact", x, fresh, "-q"), "chunk 7")
    assert names(tmp) == ["d.rowpack", "x.rowpack"]


def bash_limited(rowpack_bin, kib, *args):
    """Runs rowpack from bash under `ulimit -f KIB` (SIGXFSZ not ignored, unlike under Python)."""
    command = f"ulimit -f {kib}; exec " + " ".join(f"'{a}'" for a in [rowpack_bin, *args])
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120)


def python_limited(rowpack_bin, nbytes, *args):
    return subprocess.run([str(rowpack_bin), *map(str, args)], capture_output=True, text=True, timeout=120,
                          preexec_fn=file_size_limit(nbytes))


@pytest.mark.parametrize("command", ["import", "compact", "compact-in-place", "export", "read --out"])
def test_full_disk_over_an_existing_destination_leaves_it_intact(rp, rowpack_bin, tmp, command):
    """The file size limit is hit at 5 points while replacing an existing destination, with
    RLIMIT_FSIZE set from Python (SIGXFSZ ignored: exit 1, one line naming it) and with
    `ulimit -f` from bash: the destination keeps its bytes and no temporary file is left."""
    arr = sensor(200_000, 7)
    src_npy = save(tmp, "src.npy", arr)
    c = container(rp, tmp, "c.rowpack", arr, "--chunk-rows", "2000")
    if command == "import":
        dst = container(rp, tmp, "d.rowpack", arr[:50])
        args = ["import", src_npy, dst, "--force", "--codec", "none", "-q"]
    elif command == "compact":
        dst = container(rp, tmp, "d.rowpack", arr[:50])
        args = ["compact", c, dst, "--force", "--codec", "none", "-q"]
    elif command == "compact-in-place":
        dst = c
        args = ["compact", c, c, "--force", "--codec", "none", "-q"]
    else:
        dst = save(tmp, "d.npy", arr[:50])
        args = (["export", c, dst, "--force", "-q"] if command == "export"
                else ["read", c, "--rows", ":", "--out", dst, "--force"])
    before = dst.read_bytes()
    listing = names(tmp)
    for limit in (0, 4096, arr.nbytes // 4, arr.nbytes // 2, arr.nbytes - 1):
        res = python_limited(rowpack_bin, limit, *args)
        assert_runtime_error(res, dst.name)
        res = bash_limited(rowpack_bin, limit // 1024, *args)
        assert res.returncode != 0, res
        assert dst.read_bytes() == before, f"{command}, limit {limit}: the destination changed"
        assert names(tmp) == listing, f"{command}, limit {limit}: left {set(names(tmp)) - set(listing)}"
    rp.ok(*args)
    np.testing.assert_array_equal(np.load(dst) if dst.suffix == ".npy" else rows_of(rp, dst, tmp), arr)


# --- live writers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["import", "compact", "compact-in-place", "export", "read --out"])
def test_replacing_a_file_a_writer_holds_is_refused(rp, tmp, command):
    """While another process holds the writer's lock on the destination (as `rowpack append` or
    `npy-append` would), replacing it with --force exits 1 saying so and changes nothing."""
    arr = sensor(300, 8)
    src_npy = save(tmp, "src.npy", arr)
    c = container(rp, tmp, "c.rowpack", arr)
    dst = {"import": tmp / "d.rowpack", "compact": tmp / "d.rowpack", "compact-in-place": c}.get(command, tmp / "d.npy")
    if dst.suffix == ".npy":
        save(tmp, dst.name, arr[:5])
    elif not dst.exists():
        container(rp, tmp, dst.name, arr[:5])
    args = {
        "import": ["import", src_npy, dst, "--force", "-q"],
        "compact": ["compact", c, dst, "--force", "-q"],
        "compact-in-place": ["compact", c, c, "--force", "-q"],
        "export": ["export", c, dst, "--force", "-q"],
        "read --out": ["read", c, "--rows", ":", "--out", dst, "--force"],
    }[command]
    before = dst.read_bytes()
    with open(dst, "rb+") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        line = assert_runtime_error(rp(*args), str(dst))
        assert "another writer" in line, line
        assert dst.read_bytes() == before
        assert os.fstat(holder.fileno()).st_ino == dst.stat().st_ino, "the held file was replaced"
    rp.ok(*args)


# --- destinations that must be refused ------------------------------------------------------------


def device_like_dev_full(tmp):
    """A character device behaving as /dev/full: a private node when root can make one (so
    an unfixed rowpack cannot replace the real /dev/full), else /dev/full itself."""
    if os.geteuid() == 0:
        node = tmp / "full"
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 7))
        return node
    return pathlib.Path("/dev/full")


@pytest.mark.parametrize("command", ["export", "read --out"])
def test_export_refuses_what_it_must_not_replace(rp, tmp, command):
    """Onto its own container (with and without --force), onto an existing file without --force,
    onto a symbolic link, a character device or a FIFO (with --force): exit 1 with one line,
    nothing changed, nothing left behind."""
    arr = sensor(100, 9)
    c = container(rp, tmp, "c.rowpack", arr)

    def run(dst, *extra):
        if command == "export":
            return rp("export", c, dst, "--rows", "0:10", *extra, "-q")
        return rp("read", c, "--rows", "0:10", "--out", dst, *extra)

    c_bytes = c.read_bytes()
    for extra in ([], ["--force"]):
        line = assert_runtime_error(run(c, *extra), str(c))
        assert "reads from" in line or "file exists" in line, line
        assert c.read_bytes() == c_bytes
    hard = tmp / "hard.rowpack"
    os.link(c, hard)
    assert "reads from" in assert_runtime_error(run(hard, "--force"), "hard.rowpack")

    existing = save(tmp, "e.npy", arr[:3])
    e_bytes = existing.read_bytes()
    assert "--force" in assert_runtime_error(run(existing), "e.npy")
    assert existing.read_bytes() == e_bytes

    link = tmp / "link.npy"
    link.symlink_to(existing)
    dangling = tmp / "dangling.npy"
    dangling.symlink_to(tmp / "nowhere.npy")
    for path in (link, dangling):
        for extra in ([], ["--force"]):
            assert "symbolic link" in assert_runtime_error(run(path, *extra), path.name)
        assert path.is_symlink()
    assert existing.read_bytes() == e_bytes and not (tmp / "nowhere.npy").exists()

    device = device_like_dev_full(tmp)
    fifo = tmp / "fifo"
    os.mkfifo(fifo)
    for path, kind in ((device, stat.S_ISCHR), (fifo, stat.S_ISFIFO)):
        assert "not a regular file" in assert_runtime_error(run(path, "--force"), path.name)
        assert kind(os.lstat(path).st_mode)
    directory = tmp / "dir.npy"
    directory.mkdir()
    assert "not a regular file" in assert_runtime_error(run(directory, "--force"), "dir.npy")

    expected = {"c.rowpack", "hard.rowpack", "e.npy", "link.npy", "dangling.npy", "fifo", "dir.npy"}
    assert set(names(tmp)) == expected | ({device.name} if device.parent == tmp else set())
    assert c.read_bytes() == c_bytes
    # With --force a regular file is replaced; the numpy file it becomes holds the rows.
    rp.ok(*(["export", c, existing, "--rows", "0:10", "--force", "-q"] if command == "export"
            else ["read", c, "--rows", "0:10", "--out", existing, "--force"]))
    np.testing.assert_array_equal(np.load(existing), arr[:10])


def test_import_refuses_its_own_source(rp, tmp):
    src = save(tmp, "a.npy", sensor(10, 10))
    before = src.read_bytes()
    assert "reads from" in assert_runtime_error(rp("import", src, src, "--force", "-q"), "a.npy")
    assert src.read_bytes() == before


def test_destination_names_of_250_bytes(rp, tmp):
    """import, compact, export and read --out to a 250-byte file name (temporary names are short)."""
    arr = sensor(100, 11)
    src = save(tmp, "a.npy", arr)
    long_name = lambda suffix: "n" * (250 - len(suffix)) + suffix  # noqa: E731
    c = tmp / long_name(".rowpack")
    rp.ok("import", src, c, "-q")
    rp.ok("compact", c, tmp / long_name(".2.rowpack"), "-q")
    rp.ok("compact", c, c, "--force", "-q")
    rp.ok("export", c, tmp / long_name(".npy"), "-q")
    rp.ok("read", c, "--rows", "0:7", "--out", tmp / long_name(".7.npy"))
    np.testing.assert_array_equal(np.load(tmp / long_name(".npy")), arr)
    np.testing.assert_array_equal(np.load(tmp / long_name(".7.npy")), arr[:7])
    assert len(names(tmp)) == 5


# --- publish order, watched with strace -----------------------------------------------------------

TRACED = "openat,link,linkat,rename,renameat,renameat2,unlink,unlinkat,truncate,ftruncate,pwrite64,write,fdatasync,fsync"


def publish_calls(rowpack_bin, tmp, args, destination):
    trace = tmp / "trace.txt"
    res = subprocess.run(["strace", "-f", "-qq", "-e", f"trace={TRACED}", "-o", str(trace), str(rowpack_bin), *map(str, args)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    lines = [re.sub(r"^\d+ +", "", line) for line in trace.read_text().splitlines()]
    trace.unlink()
    return lines


@pytest.mark.parametrize("command", ["import", "import --force", "compact --force", "compact-in-place", "export", "export --force"])
def test_publish_order(rp, rowpack_bin, tmp, command):
    """The destination's directory entry changes once, by a link (new file) or a rename (over an
    existing one), after every write to the new file and its fdatasync; the directory is
    fsynced after; no call opens the destination for writing, truncates or unlinks it."""
    arr = sensor(20000, 12)
    src = save(tmp, "a.npy", arr)
    c = container(rp, tmp, "c.rowpack", arr, "--chunk-rows", "1000")
    replacing = "--force" in command or command == "compact-in-place"
    if command.startswith("import"):
        dst, args = tmp / "d.rowpack", ["import", src, tmp / "d.rowpack", "-q"]
    elif command.startswith("compact") and command != "compact-in-place":
        dst, args = tmp / "d.rowpack", ["compact", c, tmp / "d.rowpack", "-q"]
    elif command == "compact-in-place":
        dst, args = c, ["compact", c, c, "-q"]
    else:
        dst, args = tmp / "d.npy", ["export", c, tmp / "d.npy", "-q"]
    if replacing:
        args.append("--force")
        if not dst.exists():
            container(rp, tmp, dst.name, arr[:10])
    lines = publish_calls(rowpack_bin, tmp, args, dst)
    quoted = f'"{dst}"'
    naming = [i for i, line in enumerate(lines) if quoted in line]
    publishing = [i for i in naming if re.match(r"(link|linkat|rename|renameat2?)\(", lines[i])]
    assert len(publishing) == 1, [lines[i] for i in naming]
    at = publishing[0]
    kind = "rename" if replacing else "link"
    assert lines[at].startswith(kind), lines[at]
    for i in naming:
        assert not re.match(r"(unlink|unlinkat|truncate)\(", lines[i]), lines[i]
        if lines[i].startswith("openat("):
            assert not re.search(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC", lines[i]), lines[i]
    # The new file: the descriptor opened with O_TMPFILE; every write to it, then fdatasync, come
    # before the publishing call.
    opened = next(line for line in lines if "O_TMPFILE" in line)
    fd = int(opened.rsplit("=", 1)[1])
    pattern = rf"(pwrite64|write|fdatasync|ftruncate)\({fd}[,)]"
    touching = [i for i, line in enumerate(lines) if re.match(pattern, line) and lines.index(opened) < i]
    assert touching and all(i < at for i in touching), [lines[i] for i in touching if i > at]
    assert lines[touching[-1]].startswith(f"fdatasync({fd})"), lines[touching[-1]]
    syncs = [i for i, line in enumerate(lines) if line.startswith("fsync(")]
    assert any(i > at for i in syncs), "the directory is not fsynced after the new entry"
    if dst.suffix == ".rowpack":
        rp.ok("verify", dst)
    else:
        np.testing.assert_array_equal(np.load(dst), arr)


def dead_pid():
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_hidden_file_of_a_dead_process_is_removed_by_the_next_replacement(rp, tmp):
    """With O_TMPFILE a hidden name exists only between the link and the rename of a
    replacement; one left there by a killed process goes with the next replacement."""
    c = container(rp, tmp, "c.rowpack", sensor(100, 14))
    stale = tmp / f".rp-{dead_pid()}-0123abcd.tmp"
    stale.write_bytes(b"stale")
    rp.ok("export", c, tmp / "e.npy", "-q")
    assert stale.exists(), "a new file (nothing replaced) needs no hidden name, so no listing"
    rp.ok("export", c, tmp / "e.npy", "--force", "-q")
    assert names(tmp) == ["c.rowpack", "e.npy"]


def test_rewrite_header_never_replaces_a_symbolic_link(rp, tmp, rng):
    """`npy-append --rewrite-header` rewrites the whole file: through a symbolic link it is
    refused (the link would become a copy and its target would stay old); appends that fit the
    header still go through the link, in place."""
    target, arr, _ = tight_old_style(tmp, "old.npy", 5, rng)
    link = tmp / "link.npy"
    link.symlink_to(target)
    more = save(tmp, "more.npy", arr)
    before = target.read_bytes()
    line = assert_runtime_error(rp("npy-append", link, more, "--rewrite-header", "-q"), "link.npy")
    assert "symbolic link" in line, line
    assert link.is_symlink() and target.read_bytes() == before
    rp.ok("npy-append", target, more, "--rewrite-header", "-q")
    rp.ok("npy-append", link, more, "-q")
    assert link.is_symlink()
    assert_same_array(np.load(target), concat([arr, arr, arr]))


# --- filesystems without O_TMPFILE: short hidden names, stale ones removed ------------------------

NO_TMPFILE_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
int open64(const char *path, int flags, ...) {
    va_list ap; va_start(ap, flags); int mode = va_arg(ap, int); va_end(ap);
    if ((flags & O_TMPFILE) == O_TMPFILE) { errno = EOPNOTSUPP; return -1; }
    int (*real)(const char *, int, ...) = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open64");
    return real(path, flags, mode);
}
int open(const char *path, int flags, ...) __attribute__((alias("open64")));
"""


@pytest.fixture(scope="module")
def no_tmpfile(tmp_path_factory):
    """An LD_PRELOAD library making O_TMPFILE fail with EOPNOTSUPP, as on filesystems without it."""
    directory = tmp_path_factory.mktemp("shim")
    (directory / "shim.c").write_text(NO_TMPFILE_SHIM)
    library = directory / "no_tmpfile.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-O1", "-o", str(library), str(directory / "shim.c"), "-ldl"], check=True)
    return {**os.environ, "LD_PRELOAD": str(library)}


def test_without_o_tmpfile_hidden_names_are_used_and_stale_ones_removed(rp, rowpack_bin, tmp, no_tmpfile):
    """Without O_TMPFILE the new file has a short hidden name: a kill -9 leaves it, the next
    command writing a file in that directory removes it (its process is gone), a live process's
    is kept; files still appear whole, and a 250-byte destination name works."""
    arr = sensor(1_500_000, 13)
    src = save(tmp, "a.npy", arr)

    def run(*args, **kw):
        return subprocess.Popen([str(rowpack_bin), *map(str, args)], env=no_tmpfile, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, **kw)

    c = tmp / ("n" * 242 + ".rowpack")
    proc = run("import", src, c, "-q")
    assert proc.wait() == 0, proc.stderr.read()
    assert names(tmp) == sorted(["a.npy", c.name])
    sleeper = subprocess.Popen(["sleep", "60"])
    live = tmp / f".rp-{sleeper.pid}-0badcafe.tmp"
    live.write_bytes(b"live")
    stale = []
    try:
        for _ in range(3):
            proc = run("export", c, tmp / "e.npy", "--force", "-q")
            while not any(n.startswith(".rp-") and n != live.name for n in names(tmp)) and proc.poll() is None:
                time.sleep(0.002)
            proc.kill()
            proc.wait()
            left = [n for n in names(tmp) if n.startswith(".rp-") and n != live.name]
            assert len(left) == 1 and re.fullmatch(r"\.rp-\d+-[0-9a-f]{8}\.tmp", left[0]), left
            stale.append(left[0])
            proc = run("export", c, tmp / "e.npy", "--force", "-q")
            assert proc.wait() == 0, proc.stderr.read()
            assert names(tmp) == sorted(["a.npy", c.name, "e.npy", live.name]), names(tmp)
        np.testing.assert_array_equal(np.load(tmp / "e.npy"), arr)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert live.read_bytes() == b"live"
    assert len(set(stale)) == 3
