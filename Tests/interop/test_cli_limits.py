"""The CLI against extreme arguments and hostile claims: never a signal, one clear line.

- containers with valid checksums claiming 2^51 or 2^63 - 1 rows: every command stays small in
  memory under a 1 GiB address-space limit (nothing is sized by the claimed row count);
- every --rows / --slice against every size: rows or exit 1/64, never a trap;
- every numeric option fed Int.max, 2^63, -1, …: exit 64 for what is out of range;
- `ulimit -f` under a shell: writing commands report EFBIG in one line, not die by SIGXFSZ;
- a 20-million-line --rows-file streams in bounded memory;
- row lists with CRLF, from a FIFO, /dev/zero or a directory; compact --level against the
  source's codec; a closed stdout (`| head -1`) ends quietly with status 0.
"""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from interop_util import EXIT_USAGE, assert_no_crash, assert_runtime_error
from test_reliability import peak_rss_mib

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "reliability"))
import rowpack_bytes as rb  # noqa: E402

INT_MAX = 2**63 - 1


# --- Claimed row counts ---------------------------------------------------------------------


def claiming(rows, rows_per_chunk, row_shape=(), leaf_capacity=4096):
    """A container whose header, root and trailer (all checksums valid) claim `rows` rows of
    `row_shape` bytes; the root lists 1-byte "leaves" (each fails when read), so nothing but
    the claim is there. Tiny whatever the claim."""
    head = rb.header(descr="'|u1'", item_size=1, row_shape=row_shape, rows_per_chunk=rows_per_chunk,
                     leaf_capacity=leaf_capacity)
    chunks = -(-rows // rows_per_chunk)
    leaves = -(-chunks // leaf_capacity)
    out = bytearray(head) + bytes(leaves)
    root = rb.page("root", 0, [(len(head) + i, 1) for i in range(leaves)])
    root_at = len(out)
    out += root
    out += rb.trailer(len(out), rows, chunks, (root_at, len(root)), rb.crc32c(root[:-4]))
    return bytes(out)


def one_huge_row():
    """One row of 2 GiB in one chunk whose record (checksums valid) holds 100 bytes of zstd
    payload: no output may be allocated for the row before its record is checked."""
    head = rb.header(descr="'|u1'", item_size=1, row_shape=(2**31,), rows_per_chunk=1, codec="zstd", level=1)
    return rb.container(head, 1, [rb.record(0, 1, 2**31, b"\xab" * 100, codec="zstd")], 1)


CLAIMS = {
    "one-2GiB-row": one_huge_row(),
    "2^51-rows": claiming(2**51, 2**31),
    "2^63-1-rows": claiming(INT_MAX, 2**31, leaf_capacity=1 << 20),
    "2^51-rows-of-2-bytes": claiming(2**51, 2**30, row_shape=(2,)),
}

CLAIM_COMMANDS = {
    "tail --from 0": ["tail", "{f}", "--from", "0"],
    "tail -n": ["tail", "{f}", "-n", str(INT_MAX)],
    "read --rows :": ["read", "{f}", "--rows", ":"],
    "read --rows : --out": ["read", "{f}", "--rows", ":", "--out", "{o}/out.npy"],
    "read --rows : --slice": ["read", "{f}", "--rows", ":", "--slice", "0:1"],
    "read --rows-file": ["read", "{f}", "--rows-file", "{o}/list.txt"],
    "export": ["export", "{f}", "{o}/out.npy", "-q"],
    "export --rows": ["export", "{f}", "{o}/out.npy", "--rows", f"{2**40}:", "-q"],
    "compact": ["compact", "{f}", "{o}/out.rowpack", "-q"],
    "verify": ["verify", "{f}"],
    "info": ["info", "{f}"],
}


@pytest.mark.parametrize("command", list(CLAIM_COMMANDS))
@pytest.mark.parametrize("claim", list(CLAIMS))
def test_claimed_row_counts_stay_small_in_memory(rowpack_bin, tmp, claim, command):
    """Exit 0 or 1 (64 for a --slice the rows do not have), never a signal, under a 1 GiB
    address-space limit, peak RSS under 64 MiB: no allocation is sized by the claimed count."""
    f = tmp / "claim.rowpack"
    f.write_bytes(CLAIMS[claim])
    assert f.stat().st_size < 128 * 1024
    (tmp / "list.txt").write_text("0\n1\n")
    args = [a.format(f=f, o=tmp) for a in CLAIM_COMMANDS[command]]
    code, err, rss = peak_rss_mib(rowpack_bin, args)
    assert code in (0, 1), f"{command} on a file claiming {claim}: exit {code}\n{err[-1500:]}"
    assert "Fatal error" not in err and "Backtrace" not in err, err[-2000:]
    if command != "verify":  # verify lists every damaged structure, one line each
        assert len(err.strip().splitlines()) <= 1, err[-2000:]
    assert rss < 64, f"{command} on a file claiming {claim} peaked at {rss:.0f} MiB RSS"


# --- Ranges and slices against every size -----------------------------------------------------


@pytest.fixture(scope="module")
def small(rp, tmp_path_factory):
    d = tmp_path_factory.mktemp("small")
    arr = np.arange(10 * 3 * 2, dtype="<i4").reshape(10, 3, 2)
    np.save(d / "a.npy", arr)
    rp.ok("import", d / "a.npy", d / "c.rowpack", "--chunk-rows", "4", "-q")
    return d / "c.rowpack", arr


BOUNDS = ["", "0", "1", "3", "4", "9", "10", "11", "12", str(2**31), str(INT_MAX - 1), str(INT_MAX), str(2**63), "-1", "+1", "1e3"]


def expected_range(lo, hi, n):
    """(start, stop) when `lo:hi` selects rows of an axis of length n, 'usage' when it does not
    parse, 'range' when it parses but does not fit."""
    def value(text, default):
        if text == "":
            return default
        if not text.isdigit() or int(text) > INT_MAX:
            return None
        return int(text)

    a, b = value(lo, 0), value(hi, n)
    if a is None or b is None or (lo and hi and b < a):
        return "usage"
    return (a, b) if a <= b <= n else "range"


@pytest.mark.parametrize("hi", BOUNDS)
@pytest.mark.parametrize("lo", BOUNDS)
def test_rows_and_slices_against_every_size(rp, small, tmp, lo, hi):
    """`--rows lo:hi` on 10 rows, `--slice lo:hi` on an axis of 3 (and of 2 for axis 2): the
    rows numpy would give, or exit 1 with one line (out of range), or 64 (not a range)."""
    c, arr = small
    for what, args, n, pick in [
        ("rows", ["read", c, "--rows", f"{lo}:{hi}"], 10, lambda a, b: arr[a:b]),
        ("export", ["export", c, tmp / "e.npy", "--rows", f"{lo}:{hi}", "-q"], 10, lambda a, b: arr[a:b]),
        ("slice", ["read", c, "--rows", "2:5", "--slice", f"{lo}:{hi}"], 3, lambda a, b: arr[2:5, a:b]),
        ("slice axis 2", ["read", c, "--rows", ":", "--slice", f",{lo}:{hi}"], 2, lambda a, b: arr[:, :, a:b]),
    ]:
        (tmp / "e.npy").unlink(missing_ok=True)
        res = rp(*args)
        want = expected_range(lo, hi, n)
        if want == "usage":
            assert res.returncode == EXIT_USAGE, (what, lo, hi, res.returncode, res.stderr)
            assert_no_crash(res)
        elif want == "range":
            assert_runtime_error(res, "out")
        else:
            assert res.returncode == 0, (what, lo, hi, res.stderr)
            expected = pick(*want)
            if what == "export":
                np.testing.assert_array_equal(np.load(tmp / "e.npy"), expected)
            else:
                lines = res.stdout.splitlines()
                assert len(lines) == len(expected), (what, lo, hi, res.stdout[:500])
                for line, row in zip(lines, expected):
                    assert [int(v) for v in line.split()[1:]] == row.ravel().tolist()


# --- Numeric options ----------------------------------------------------------------------------

HUGE = ["9223372036854775807", "9223372036854775808", "18446744073709551616", "-1", "-9223372036854775808",
        "4294968", "4294967296", str(10**30)]

# Each option with the command it belongs to; values outside the documented range must be
# usage errors (exit 64), and no value may trap.
OPTIONS = {
    "tail --interval-ms": (["tail", "{c}", "-f", "--until-rows", "11", "--interval-ms={v}"], lambda v: not 1 <= v <= 3_600_000),
    "tail -n": (["tail", "{c}", "--lines={v}"], lambda v: v < 0),
    "tail --from": (["tail", "{c}", "--from={v}"], lambda v: v < 0),
    "tail --until-rows": (["tail", "{c}", "--until-rows={v}"], lambda v: v < 0),
    "read --cache-mib": (["read", "{c}", "--rows", "0:1", "--cache-mib={v}"], lambda v: not 0 <= v <= 1 << 20),
    "import --level": (["import", "{n}", "{t}/x.rowpack", "--level={v}"], lambda v: not -131072 <= v <= 22),
    "import --chunk-rows": (["import", "{n}", "{t}/x.rowpack", "--chunk-rows={v}"], lambda v: not 1 <= v <= 2**32 - 1),
    "compact --level": (["compact", "{c}", "{t}/x.rowpack", "--level={v}"], lambda v: not -131072 <= v <= 22),
    "compact --chunk-rows": (["compact", "{c}", "{t}/x.rowpack", "--chunk-rows={v}"], lambda v: not 1 <= v <= 2**32 - 1),
    "demo --rows": (["demo", "--rows={v}", "--dir", "{t}/demo"], lambda v: not 1 <= v <= 100_000_000),
    "demo --commit-every": (["demo", "--rows", "10", "--commit-every={v}", "--dir", "{t}/demo"], lambda v: v < 1),
}


def in_range(option, value):
    v = int(value)
    return -(2**63) <= v <= INT_MAX and not OPTIONS[option][1](v)


# Valid values of these options mean real work (a demo of 4,294,968 rows): not run.
LONG_WHEN_VALID = {"demo --rows"}


@pytest.mark.parametrize("option,value", [(o, v) for o in OPTIONS for v in HUGE if not (o in LONG_WHEN_VALID and in_range(o, v))])
def test_numeric_options_never_trap(rp, small, tmp, option, value):
    c, arr = small
    np.save(tmp / "n.npy", arr)
    template, _ = OPTIONS[option]
    args = [a.format(c=c, n=tmp / "n.npy", t=tmp, v=value) for a in template]
    res = rp(*args, timeout=60)
    assert_no_crash(res)
    if not in_range(option, value):
        assert res.returncode == EXIT_USAGE, f"{option} {value}: exit {res.returncode}\n{res.stderr}"
        assert res.stderr.strip(), "a usage error must say what is wrong"
    else:
        assert res.returncode in (0, 1), f"{option} {value}: exit {res.returncode}\n{res.stderr}"
        if res.returncode == 1:
            assert len(res.stderr.strip().splitlines()) == 1, res.stderr


# --- SIGXFSZ, from a shell ------------------------------------------------------------------------


def shell(script, **env):
    """Runs `script` with bash; Python's children get SIGXFSZ and SIGPIPE at their defaults
    (restore_signals), so this is what a user's shell does."""
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env}, restore_signals=True)


WRITERS = {
    "import": ("{b} import {t}/big.npy {t}/new.rowpack --codec none -q", "new.rowpack"),
    "append": ("{b} append {t}/c.rowpack {t}/big.npy -q", "c.rowpack"),
    "compact": ("{b} compact {t}/c.rowpack {t}/new.rowpack --codec none -q", "new.rowpack"),
    "export": ("{b} export {t}/c.rowpack {t}/new.npy -q", "new.npy"),
    "export --append": ("{b} export {t}/c.rowpack {t}/small.npy --append -q", "small.npy"),
    "npy-append": ("{b} npy-append {t}/small.npy {t}/big.npy -q", "small.npy"),
    "read --out": ("{b} read {t}/c.rowpack --rows : --out {t}/new.npy", "new.npy"),
    "read --rows-file --out": ("{b} read {t}/c.rowpack --rows-file {t}/list.txt --out {t}/new.npy", "new.npy"),
}


@pytest.mark.parametrize("command", list(WRITERS))
def test_file_size_limit_from_a_shell_is_one_line(rp, rowpack_bin, tmp, command):
    """`ulimit -f 64` (64 KiB) in bash, then a command writing ~1 MiB: exit 1 with one line
    naming the file and saying it is too large — not death by SIGXFSZ (status 153)."""
    control = shell(f"ulimit -f 1; head -c 4096 /dev/zero > {tmp}/control")
    assert control.returncode == 128 + 25, "the shell should die by SIGXFSZ: the test would prove nothing"
    big = np.arange(256 * 1024, dtype="<i4")
    np.save(tmp / "big.npy", big)
    np.save(tmp / "small.npy", big[:10])
    rp.ok("import", tmp / "big.npy", tmp / "c.rowpack", "--codec", "none", "-q")
    (tmp / "list.txt").write_text("\n".join(map(str, range(0, 256 * 1024, 2))) + "\n")
    script, name = WRITERS[command]
    res = shell("ulimit -f 64; " + script.format(b=rowpack_bin, t=tmp))
    line = assert_runtime_error(res, name)
    assert "too large" in line.lower(), line


# --- A long row list --------------------------------------------------------------------------


def row_list_blocks(blocks, seed):
    """Blocks of 1,000,000 row numbers in 0..9, the same for the same seed."""
    rng = np.random.default_rng(seed)
    for _ in range(blocks):
        yield rng.integers(0, 10, size=1_000_000).astype("u1")


def test_twenty_million_line_row_list_streams(rp, rowpack_bin, tmp):
    """20,000,000 lines (40 MB): `read --rows-file --out` under a 1 GiB address-space limit
    exits 0 with the rows in order, peak RSS under 64 MiB (it was 1.1 GB: the list was loaded
    whole, split into strings and gathered at once). The list is made and checked in blocks:
    the forked child's peak RSS includes this process's before its exec."""
    arr = np.arange(10, dtype="u1") * 7
    np.save(tmp / "a.npy", arr)
    c = tmp / "c.rowpack"
    rp.ok("import", tmp / "a.npy", c, "-q")
    with open(tmp / "list.txt", "wb") as f:
        for picks in row_list_blocks(20, seed=14):
            text = np.full(2 * len(picks), ord("\n"), dtype="u1")
            text[0::2] = picks + ord("0")
            f.write(text.tobytes())
    assert (tmp / "list.txt").stat().st_size == 40_000_000
    code, err, rss = peak_rss_mib(rowpack_bin, ["read", c, "--rows-file", tmp / "list.txt", "--out", tmp / "g.npy"])
    assert code == 0, err[-1500:]
    assert rss < 64, f"peak RSS {rss:.0f} MiB for a 20M-line list"
    got = np.load(tmp / "g.npy", mmap_mode="r")
    assert got.shape == (20_000_000,)
    for i, picks in enumerate(row_list_blocks(20, seed=14)):
        np.testing.assert_array_equal(got[i * 1_000_000:(i + 1) * 1_000_000], arr[picks])


def test_long_row_list_printed_in_bounded_memory(rp, rowpack_bin, tmp):
    arr = np.arange(10, dtype="<i2")
    np.save(tmp / "a.npy", arr)
    c = tmp / "c.rowpack"
    rp.ok("import", tmp / "a.npy", c, "-q")
    (tmp / "list.txt").write_bytes(b"3\r\n" * 2_000_000)
    code, err, rss = peak_rss_mib(rowpack_bin, ["read", c, "--rows-file", tmp / "list.txt"])
    assert code == 0, err[-1500:]
    assert rss < 64, f"peak RSS {rss:.0f} MiB printing a 2M-line list"


# --- Row lists: line endings, FIFOs, devices ---------------------------------------------------


def test_row_list_with_crlf_line_endings(rp, small, tmp):
    c, arr = small
    (tmp / "crlf.txt").write_bytes(b"9\r\n0\r\n\r\n 4 \r\n4")
    rp.ok("read", c, "--rows-file", tmp / "crlf.txt", "--out", tmp / "g.npy")
    np.testing.assert_array_equal(np.load(tmp / "g.npy"), arr[[9, 0, 4, 4]])


def test_row_list_from_a_fifo(rp, small, tmp):
    c, arr = small
    fifo = tmp / "fifo"
    os.mkfifo(fifo)
    res = shell(f"printf '2\\n7\\n' > {fifo} & {rp.binary} read {c} --rows-file {fifo} --out {tmp}/g.npy; status=$?; wait; exit $status")
    assert res.returncode == 0, res.stderr
    np.testing.assert_array_equal(np.load(tmp / "g.npy"), arr[[2, 7]])


@pytest.mark.parametrize("source,words", [
    ("/dev/zero", ["line 1", "longer than"]),
    ("{t}", ["is a directory"]),
    ("{t}/missing.txt", ["no such file"]),
    ("{t}/binary.txt", ["line 2", "\\x01"]),
    ("{t}/long-number.txt", ["line 1", "out of range"]),
    ("{t}/negative.txt", ["line 1", "'-1' is not a row number"]),
])
def test_bad_row_lists_are_one_line(rp, small, tmp, source, words):
    c, _ = small
    (tmp / "binary.txt").write_bytes(b"1\n\x01\x02\r\n")
    (tmp / "long-number.txt").write_text("9" * 100 + "\n")
    (tmp / "negative.txt").write_text("-1\n")
    path = source.format(t=tmp)
    res = rp("read", c, "--rows-file", path, "--out", tmp / "g.npy")
    line = assert_runtime_error(res, path)
    for word in words:
        assert word.lower() in line.lower(), line
    assert "permission" not in line.lower(), line
    assert not (tmp / "g.npy").exists()


@pytest.mark.parametrize("target,words", [("{t}", "is a directory"), ("{t}/missing.rowpack", "no such file")])
def test_recover_says_why_it_cannot_open(rp, tmp, target, words):
    """One line with the reason, not a Foundation error dump or a bare "cannot open"."""
    path = target.format(t=tmp)
    line = assert_runtime_error(rp("recover", path), path)
    assert words in line.lower() and "NSCocoaErrorDomain" not in line, line


@pytest.mark.parametrize("args", [["info", "/dev/zero"], ["verify", "/dev/null"], ["tail", "{fifo}"], ["import", "/dev/zero", "{t}/x.rowpack"],
                                  ["append", "{c}", "/dev/zero"], ["npy-append", "{t}/a.npy", "/dev/zero"]])
def test_devices_and_fifos_are_not_files(rp, small, tmp, args):
    """A device or FIFO given as a container or .npy is refused for what it is, in one line (a
    character device used to read as "file is empty")."""
    c, arr = small
    np.save(tmp / "a.npy", arr[:, 0, 0])
    os.mkfifo(tmp / "fifo")
    argv = [a.format(c=c, t=tmp, fifo=tmp / "fifo") for a in args]
    if "fifo" in args[-1]:  # opening a FIFO for reading waits for a writer: be one
        res = shell(f"exec 3<>{tmp}/fifo; {rp.binary} {' '.join(argv)}")
    else:
        res = rp(*argv)
    line = assert_runtime_error(res)
    assert "not a regular file" in line and ("device" in line or "FIFO" in line), line


# --- compact --level against the source's codec ---------------------------------------------------


@pytest.mark.parametrize("codec,args,code", [
    ("zlib", ["--level", "15"], EXIT_USAGE),
    ("zlib", ["--level", "9"], 0),
    ("zstd", ["--level", "15"], 0),
    ("zstd", ["--codec", "zlib", "--level", "15"], EXIT_USAGE),
    ("none", ["--level", "3"], EXIT_USAGE),
    ("none", ["--codec", "zstd", "--level", "3"], 0),
])
def test_compact_level_is_checked_against_the_sources_codec(rp, small, tmp, codec, args, code):
    _, arr = small
    np.save(tmp / "a.npy", arr)
    src = tmp / "src.rowpack"
    rp.ok("import", tmp / "a.npy", src, "--codec", codec, "-q")
    res = rp("compact", src, tmp / "out.rowpack", *args, "-q")
    assert res.returncode == code, res.stderr
    assert_no_crash(res)
    if code == EXIT_USAGE:
        assert "--level" in res.stderr
        assert not (tmp / "out.rowpack").exists()


# --- A closed stdout --------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["read {c} --rows :", "tail {c} -n 300000", "read {c} --rows-file {t}/list.txt"])
def test_closed_stdout_ends_quietly_from_a_shell(rp, tmp, command):
    """`rowpack … | head -1` in bash: head exits after one line; rowpack must end with status 0
    and nothing on stderr (not "Broken pipe", exit 1)."""
    arr = np.arange(300_000 * 3, dtype="<i8").reshape(-1, 3)
    np.save(tmp / "many.npy", arr)
    c = tmp / "many.rowpack"
    rp.ok("import", tmp / "many.npy", c, "-q")
    (tmp / "list.txt").write_text("5\n" * 300_000)
    script = f"{rp.binary} {command.format(c=c, t=tmp)} 2>{tmp}/err | head -1; echo \"${{PIPESTATUS[0]}}\""
    for prefix in ("", "trap '' PIPE; "):
        res = shell(prefix + script)
        first, status = res.stdout.splitlines()
        assert first.split("\t")[0] in ("0", "5", "299990"), first
        assert status == "0", f"{prefix}{command}: exit {status}; stderr: {(tmp / 'err').read_text()[:500]}"
        assert (tmp / "err").read_text() == ""
