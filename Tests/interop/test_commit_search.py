"""Finding the newest commit, from the CLI (Spec/FORMAT.md §7.2, §8.6): a damaged newest commit is
reported by every command and cut only by `recover --discard-damaged`; `tail --follow` survives a
writer cutting a torn tail and stops with one line when its file is replaced. Followers run from a
shell (`bash -c`), not straight from Python."""

import json
import pathlib
import subprocess
import time

import numpy as np

from interop_util import assert_no_crash, assert_runtime_error


def save(directory, name, arr):
    path = pathlib.Path(directory) / name
    np.save(path, arr)
    return path


def three_commits(rp, tmp):
    """A container of 3 commits (rows 0..29 of '<i4' × 2); returns its path and the array."""
    data = np.arange(60, dtype="<i4").reshape(30, 2)
    c = tmp / "c.rowpack"
    rp.ok("import", save(tmp, "a.npy", data[:10]), c, "--chunk-rows", "4", "-q")
    rp.ok("append", c, save(tmp, "b.npy", data[10:30]), "-q")
    return c, data


def flip_time_bit(path):
    """Flips one bit of the newest trailer's `time` field (the file ends in that trailer)."""
    blob = bytearray(path.read_bytes())
    trailer = len(blob) - 128
    blob[trailer + 96] ^= 0x01
    path.write_bytes(bytes(blob))
    return trailer


def test_damaged_newest_commit_is_reported_and_only_cut_when_asked(rp, tmp):
    c, data = three_commits(rp, tmp)
    trailer = flip_time_bit(c)
    damaged = c.read_bytes()

    res = rp("verify", c)
    assert res.returncode == 1, res.stderr
    assert f"trailer at byte {trailer}" in res.stderr and "damaged" in res.stderr
    assert_no_crash(res)

    info = rp("info", c, "--json")
    assert info.returncode == 0, info.stderr
    assert "damaged" in json.loads(info.stdout)["damaged_commit"]
    warnings = [line for line in info.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1 and f"byte {trailer}" in warnings[0] and "using commit 2 (10 rows)" in warnings[0], info.stderr
    for args in (("read", c, "--rows", "0:2"), ("export", c, tmp / "out.npy", "-q"), ("tail", c, "-n", "1")):
        res = rp(*args)
        assert res.returncode == 0, res.stderr
        assert len(res.stderr.splitlines()) == 1 and "damaged" in res.stderr, res.stderr
    assert (np.load(tmp / "out.npy") == data[:10]).all()

    # Writers refuse to cut it, naming the trailer and the commit they would keep; nothing changes.
    assert_runtime_error(rp("append", c, save(tmp, "more.npy", data[:1])), f"byte {trailer}", "keep commit 2")
    assert_runtime_error(rp("recover", c), f"byte {trailer}", "--discard-damaged")
    assert c.read_bytes() == damaged

    res = rp.ok("recover", c, "--discard-damaged")
    assert "discarded" in res.stdout and "commit 2 with 10 rows" in res.stdout, res.stdout
    rp.ok("verify", c)
    assert rp.info(c)["rows"] == 10


def follow(rp, c, *extra):
    """`rowpack tail C --follow …` started from a shell."""
    command = " ".join([f"exec '{rp.binary}' tail '{c}' --follow --interval-ms 20", *extra])
    return subprocess.Popen(["bash", "-c", command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_tail_follow_survives_a_writer_cutting_a_torn_tail(rp, tmp):
    c, data = three_commits(rp, tmp)
    with open(c, "ab") as f:
        f.write(b"\0" * (3 << 20))  # a torn tail, as a writer killed mid-append leaves
    follower = follow(rp, c, "-n", "0", "--until-rows", "31")
    time.sleep(0.3)
    rp.ok("append", c, save(tmp, "one.npy", data[:1]), "-q")  # cuts the tail, then commits
    out, err = follower.communicate(timeout=60)
    assert follower.returncode == 0, err
    assert err == ""
    assert len(out.splitlines()) == 1


def test_tail_follow_stops_when_its_file_is_replaced(rp, tmp):
    c, data = three_commits(rp, tmp)
    follower = follow(rp, c, "-n", "0")
    time.sleep(0.3)
    rp.ok("import", save(tmp, "other.npy", data[:3]), c, "--force", "-q")
    try:
        out, err = follower.communicate(timeout=30)
    finally:
        follower.kill()
    res = subprocess.CompletedProcess(follower.args, follower.returncode, out, err)
    assert_runtime_error(res, "replaced")
