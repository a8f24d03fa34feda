"""The CLI's error contract (DESIGN.md §8): exit 1 with one line naming the file for runtime
errors, exit 64 for usage errors, never a crash; help with examples; the demo's report."""

import os
import random
import subprocess

import numpy as np
import pytest

from interop_util import EXIT_USAGE, assert_no_crash, assert_runtime_error, make_array

SUBCOMMANDS = ["import", "append", "info", "read", "export", "verify", "recover", "compact", "npy-append", "demo"]


@pytest.fixture
def files(rp, tmp, rng):
    """A good container, a good .npy, a garbage file and an empty file."""
    arr = make_array("<f4", (50, 3), rng)
    npy = tmp / "good.npy"
    np.save(npy, arr)
    container = tmp / "good.rowpack"
    rp.ok("import", npy, container, "--chunk-rows", "8", "-q")
    garbage = tmp / "garbage.bin"
    garbage.write_bytes(random.Random(1).randbytes(3000))
    empty = tmp / "empty.bin"
    empty.write_bytes(b"")
    return {
        "container": container,
        "npy": npy,
        "garbage": garbage,
        "empty": empty,
        "missing": tmp / "missing.rowpack",
        "arr": arr,
    }


def container_commands(bad, f, tmp):
    """Commands that expect a container at `bad`."""
    return [
        ["info", bad],
        ["info", bad, "--json"],
        ["read", bad, "--rows", "0:1"],
        ["read", bad, "--rows", "0:1", "--out", tmp / "o.npy"],
        ["export", bad, tmp / "o.npy"],
        ["verify", bad],
        ["compact", bad, tmp / "o.rowpack"],
        ["append", bad, f["npy"]],
    ]


def npy_commands(bad, f, tmp):
    """Commands that expect a .npy file at `bad`."""
    return [
        ["import", bad, tmp / "o.rowpack"],
        ["append", f["container"], bad],
        ["npy-append", bad, f["npy"]],
        ["npy-append", tmp / "target.npy", bad],
        ["export", f["container"], bad, "--append"],
    ]


@pytest.mark.parametrize("kind", ["garbage", "empty", "missing", "npy"])
def test_bad_container_argument(rp, tmp, files, kind):
    bad = files[kind]
    before = bad.read_bytes() if bad.exists() else None
    np.save(tmp / "target.npy", files["arr"])
    for cmd in container_commands(bad, files, tmp):
        res = rp(*cmd)
        assert_runtime_error(res, str(bad))
        assert not (tmp / "o.npy").exists() and not (tmp / "o.rowpack").exists(), f"{cmd}: output left behind"
        if before is not None:
            assert bad.read_bytes() == before, f"{cmd} modified {bad}"
        else:
            assert not bad.exists(), f"{cmd} created {bad}"


@pytest.mark.parametrize("kind", ["garbage", "empty", "missing", "container"])
def test_bad_npy_argument(rp, tmp, files, kind):
    bad = files[kind] if kind != "missing" else tmp / "missing.npy"
    before = bad.read_bytes() if bad.exists() else None
    np.save(tmp / "target.npy", files["arr"])
    target_before = (tmp / "target.npy").read_bytes()
    container_info = rp.info(files["container"])
    for cmd in npy_commands(bad, files, tmp):
        res = rp(*cmd)
        assert_runtime_error(res, str(bad))
        assert not (tmp / "o.rowpack").exists(), f"{cmd}: output left behind"
        if before is not None:
            assert bad.read_bytes() == before, f"{cmd} modified {bad}"
        else:
            assert not bad.exists(), f"{cmd} created {bad}"
    assert (tmp / "target.npy").read_bytes() == target_before
    assert rp.info(files["container"]) == container_info


@pytest.mark.parametrize("kind", ["garbage", "empty", "missing"])
def test_recover_bad_file(rp, tmp, files, kind):
    bad = files[kind]
    before = bad.read_bytes() if bad.exists() else None
    assert_runtime_error(rp("recover", bad), str(bad))
    if before is not None:
        assert bad.read_bytes() == before


def _npy_bytes(text, version=b"\x01\x00", data=b""):
    """A .npy file with header `text` padded to 64 bytes (no validation: for malformed files)."""
    body = text.encode("latin1")
    pad = 64 - ((10 + len(body) + 1) % 64)
    body = body + b" " * pad + b"\n"
    return b"\x93NUMPY" + version + len(body).to_bytes(2, "little") + body + data


MALFORMED = {
    "magic-only": b"\x93NUMPY",
    "past-eof": b"\x93NUMPY\x01\x00\x40\x00{'descr': '<f4'",
    "version-4": _npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", b"\x04\x00", b"\0" * 4),
    "not-a-dict": _npy_bytes("['descr', '<f4']", data=b"\0" * 4),
    "extra-key": _npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", data=b"\0" * 4),
    "short-data": _npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (9,), }", data=b"\0" * 35),
    "bad-descr": _npy_bytes("{'descr': '<zz', 'fortran_order': False, 'shape': (1,), }", data=b"\0" * 4),
    "negative-dim": _npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", data=b"\0" * 4),
    "junk-after-dict": _npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } x", data=b"\0" * 4),
    "shape-overflow": _npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }"),
    "huge-dim": _npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1180591620717411303424,), }"),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_npy(rp, tmp, files, name):
    bad = tmp / "bad.npy"
    bad.write_bytes(MALFORMED[name])
    before = bad.read_bytes()
    for cmd in (["import", bad, tmp / "o.rowpack"], ["npy-append", bad, files["npy"]], ["append", files["container"], bad], ["recover", bad]):
        res = rp(*cmd)
        assert_runtime_error(res, str(bad))
        assert bad.read_bytes() == before, f"{cmd} modified the file"
    assert not (tmp / "o.rowpack").exists()


def test_damaged_containers_never_crash(rp, tmp, files):
    """Truncations and byte flips anywhere: exit 0 or 1, one error line, never a crash; and a
    command that succeeds never returns wrong rows."""
    c = files["container"]
    arr = files["arr"]
    rp.ok("append", c, files["npy"], "-q")  # two data commits
    expected = np.concatenate([arr, arr])
    original = c.read_bytes()
    rand = random.Random(7)
    n = len(original)
    cuts = sorted(set(rand.sample(range(n), min(n, 60)) + [0, 1, 15, 16, n - 1, n - 128, n - 127]))
    flips = sorted(set(rand.sample(range(n), min(n, 60)) + [12, 40, n - 1, n - 64]))
    damaged = tmp / "damaged.rowpack"
    out = tmp / "out.npy"
    cases = [("cut", at, original[:at]) for at in cuts]
    for at in flips:
        data = bytearray(original)
        data[at] ^= 1 << rand.randrange(8)
        cases.append(("flip", at, bytes(data)))
    for what, at, data in cases:
        damaged.write_bytes(data)
        info = rp("info", damaged, "--json")
        assert info.returncode in (0, 1), (what, at, info)
        assert_no_crash(info)
        if info.returncode == 1:
            assert_runtime_error(info, str(damaged))
            continue
        res = rp("read", damaged, "--rows", ":", "--out", out)
        assert_no_crash(res)
        if res.returncode == 0:
            got = np.load(out)
            # Whatever commit survives, its rows are a correct prefix of what was written.
            assert got.shape[0] in (0, 50, 100), (what, at, got.shape)
            np.testing.assert_array_equal(got, expected[: got.shape[0]], err_msg=f"{what} at {at}: wrong data returned")
            os.unlink(out)
        else:
            assert_runtime_error(res, str(damaged))
        res = rp("verify", damaged)
        assert res.returncode in (0, 1), (what, at, res)
        assert_no_crash(res)


# --- usage errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["info", "{c}", "--bogus"],
        ["import", "{n}", "{t}/x.rowpack", "--frobnicate", "3"],
        ["read", "{c}", "--rows", "5:2"],
        ["read", "{c}", "--rows", "abc"],
        ["read", "{c}", "--rows", "1:2:3"],
        ["export", "{c}", "{t}/x.npy", "--rows", "9:1"],
        ["import", "{n}", "{t}/x.rowpack", "--codec", "lz4"],
        ["compact", "{c}", "{t}/x.rowpack", "--codec", "lz4"],
        ["import", "{n}", "{t}/x.rowpack", "--level", "99"],
        ["import", "{n}", "{t}/x.rowpack", "--codec", "zlib", "--level", "10"],
        ["import", "{n}", "{t}/x.rowpack", "--codec", "none", "--level", "3"],
        ["import", "{n}", "{t}/x.rowpack", "--chunk-rows", "0"],
        ["read", "{c}"],
        ["read", "{c}", "--out", "{t}/x.npy"],
        ["read", "{c}", "--rows", "0:1", "--rows-file", "{t}/list.txt"],
        ["import", "{n}"],
        ["append", "{c}"],
        ["npy-append", "{n}"],
        ["no-such-command"],
        ["demo", "--rows", "0"],
    ],
    ids=lambda a: " ".join(a),
)
def test_usage_errors_exit_64(rp, tmp, files, args):
    (tmp / "list.txt").write_text("0\n")
    argv = [a.format(c=files["container"], n=files["npy"], t=tmp) for a in args]
    before = files["container"].read_bytes()
    res = rp(*argv)
    assert res.returncode == EXIT_USAGE, f"exit {res.returncode}\n{res.stderr}"
    assert res.stderr.strip(), "a usage error must say what is wrong"
    assert_no_crash(res)
    assert not (tmp / "x.rowpack").exists() and not (tmp / "x.npy").exists()
    assert files["container"].read_bytes() == before


def test_rows_out_of_range_is_runtime_error(rp, tmp, files):
    res = rp("read", files["container"], "--rows", "10:51")
    assert_runtime_error(res, str(files["container"]), "51")


# --- help and demo ------------------------------------------------------------------------------


@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_help_shows_an_example(rp, sub):
    for argv in ([sub, "--help"], ["help", sub]):
        res = rp(*argv)
        assert res.returncode == 0, res.stderr
        text = res.stdout
        assert "Example" in text, f"`rowpack {' '.join(argv)}` shows no example"
        assert f"rowpack {sub}" in text, f"the example should show `rowpack {sub} …`"
        assert "USAGE" in text.upper()


def listed_subcommands(rp):
    text = rp("--help").stdout
    section = text.split("SUBCOMMANDS:", 1)[1]
    return [line.split()[0] for line in section.splitlines() if line.startswith("  ") and not line.startswith("   ") and line.split()[0] != "See"]


def test_top_level_help_lists_every_subcommand(rp):
    res = rp("--help")
    assert res.returncode == 0
    listed = listed_subcommands(rp)
    assert set(SUBCOMMANDS) <= set(listed), listed
    assert rp("--version").returncode == 0


def test_every_listed_subcommand_has_an_example(rp):
    """Subcommands added later (e.g. tail) keep the contract: --help exits 0 with an example."""
    for sub in listed_subcommands(rp):
        res = rp(sub, "--help")
        assert res.returncode == 0, (sub, res.stderr)
        assert "Example" in res.stdout and f"rowpack {sub}" in res.stdout, f"`rowpack {sub} --help` shows no example"


def test_demo(rp, tmp):
    res = rp("demo", "--rows", "20000", "--dir", tmp, timeout=120)
    assert res.returncode == 0, res.stderr
    assert_no_crash(res)
    lines = res.stdout.splitlines()
    for prefix in ("  append", "  stored", "  rows", "  slices", "  export", "  verify"):
        assert any(line.startswith(prefix) for line in lines), f"no line starting with {prefix!r}:\n{res.stdout}"
    assert "20000" in res.stdout
    # With --dir the files are kept and are what the report says.
    npy = tmp / "sensor.npy"
    arr = np.load(npy, mmap_mode="r")
    assert arr.shape == (20000, 64) and arr.dtype == np.float32
    rp.ok("verify", tmp / "sensor.rowpack")
    assert rp.info(tmp / "sensor.rowpack")["rows"] == 20000


def test_demo_default_dir_is_cleaned_up(rp, tmp):
    env_tmp = tmp / "t"
    env_tmp.mkdir()
    res = subprocess.run([str(rp.binary), "demo", "--rows", "3000"], capture_output=True, text=True, env={**os.environ, "TMPDIR": str(env_tmp) + "/"}, timeout=120)
    assert res.returncode == 0, res.stderr
    assert any(line.startswith("  verify") for line in res.stdout.splitlines())
    assert list(env_tmp.iterdir()) == [], "demo left files in its temporary directory"


# --- output that cannot be written ----------------------------------------------------------------


@pytest.fixture
def many_rows(rp, tmp):
    arr = np.arange(300_000 * 3, dtype="<i8").reshape(-1, 3)
    npy = tmp / "many.npy"
    np.save(npy, arr)
    c = tmp / "many.rowpack"
    rp.ok("import", npy, c, "-q")
    return c


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize(
    "args",
    [["read", "{c}", "--rows", "0:300000"], ["read", "{c}", "--rows", "0:10"], ["info", "{c}", "--json"], ["info", "{c}"]],
    ids=lambda a: " ".join(a),
)
def test_stdout_full_is_a_runtime_error(rp, many_rows, args):
    """stdout on a full disk (ENOSPC): exit 1 with one line on stderr, not a crash, not exit 0."""
    argv = [str(rp.binary)] + [a.format(c=many_rows) for a in args]
    with open("/dev/full", "w") as full:
        res = subprocess.run(argv, stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert_no_crash(res)
    assert res.returncode == 1, f"exit {res.returncode} although nothing could be written\n{res.stderr[:2000]}"
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr[:2000]


def _read_then_close(rp, c, restore_signals):
    proc = subprocess.Popen(
        [str(rp.binary), "read", str(c), "--rows", "0:300000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        restore_signals=restore_signals,
    )
    first = proc.stdout.read(64)
    proc.stdout.close()
    err = proc.stderr.read().decode(errors="replace")
    proc.wait(timeout=60)
    assert first.startswith(b"0\t0 1 2")
    return proc.returncode, err


def test_broken_pipe_default_sigpipe(rp, many_rows):
    """`rowpack read … | head -1`: the reader goes away; rowpack ends quietly with status 0
    (not "Broken pipe", exit 1; see test_cli_limits.py for the same from a shell)."""
    code, err = _read_then_close(rp, many_rows, restore_signals=True)
    assert (code, err) == (0, ""), (code, err[:2000])


def test_broken_pipe_sigpipe_ignored(rp, many_rows):
    """Same with SIGPIPE ignored (inherited from a parent that ignores it, e.g. Python with
    restore_signals=False, or `trap '' PIPE`): the write fails with EPIPE, which ends the
    command quietly, status 0 and nothing on stderr (as if the reader had read everything)."""
    code, err = _read_then_close(rp, many_rows, restore_signals=False)
    assert (code, err) == (0, ""), f"exit {code}\n{err[:2000]}"
