"""Power-loss images of the .npy write paths, from the write/sync sequence of a real run.

`record()` runs a `rowpack` command under strace and returns the writes (with their bytes),
truncations and syncs it made to one file. `images()` then models a power loss at every point:
everything up to the last completed sync is on disk; of the writes after it, each 512-byte
sector (or 4 KiB page) holds its synced content or the content after any one of those writes,
and the file size is the synced one or the new one (bytes past the synced size that did not
land read as zeros). A sector is written whole or not at all.

Long run (every mix up to 256 per sync interval, else 256 sampled; both granularities;
`recover` on every image): `python3 Tests/reliability/power_loss.py --limit 256`.
"""

import argparse
import itertools
import os
import pathlib
import random
import re
import subprocess
import sys
import tempfile

LINE = re.compile(r"^(\d+)\s+(.*)$")
CALL = re.compile(r"^(\w+)\((.*)\)\s+=\s+(-?\d+)")
TRACED = "openat,pwrite64,write,pwritev,pwritev2,fdatasync,fsync,ftruncate,close,rename,renameat,renameat2"


def _unhex(text):
    """A strace `-xx` string literal, `"\\x41\\x42"`, as bytes."""
    body = text.strip()[1:-1]
    return bytes(int(h, 16) for h in body.split("\\x")[1:])


def _split(args):
    return [a.strip() for a in args.split(", ")]


def record(binary, args, target, cwd=None):
    """Runs `binary args` under strace; returns (exit status, [events on `target`]).

    Events: ("write", offset, bytes), ("truncate", length), ("sync",), ("replace",) for a
    rename onto `target`. Fails on writes it cannot model (plain `write`, `pwritev`)."""
    target = os.path.realpath(target)
    with tempfile.NamedTemporaryFile(suffix=".strace") as log:
        res = subprocess.run(
            ["strace", "-f", "-qq", "-xx", "-s", str(1 << 26), "-e", f"trace={TRACED}", "-e", "signal=none",
             "-o", log.name, str(binary), *map(str, args)],
            capture_output=True, cwd=cwd)
        lines = pathlib.Path(log.name).read_text().splitlines()
    pending = {}
    calls = []
    for line in lines:
        m = LINE.match(line)
        if not m:
            continue
        pid, rest = m.groups()
        if rest.endswith("<unfinished ...>"):
            pending[pid] = rest[: -len("<unfinished ...>")]
            continue
        resumed = re.match(r"^<\.\.\. \w+ resumed>(.*)$", rest)
        if resumed:
            rest = pending.pop(pid) + resumed.group(1)
        c = CALL.match(rest)
        if c:
            calls.append(c.groups())
    fds = set()
    events = []
    for name, args_text, result in calls:
        args_ = _split(args_text)
        if name == "openat":
            if int(result) >= 0 and os.path.realpath(_unhex(args_[1]).decode()) == target:
                fds.add(result)
        elif name == "close":
            fds.discard(args_[0])
        elif name in ("rename", "renameat", "renameat2"):
            new = args_[1] if name == "rename" else args_[3]
            if os.path.realpath(_unhex(new).decode()) == target:
                events.append(("replace",))
        elif args_ and args_[0] in fds:
            if name == "pwrite64":
                data = _unhex(args_[1])
                assert int(result) == len(data), f"short write: {args_text[:80]}"
                events.append(("write", int(args_[-1]), data))
            elif name in ("fdatasync", "fsync"):
                events.append(("sync",))
            elif name == "ftruncate":
                events.append(("truncate", int(args_[1])))
            else:
                raise AssertionError(f"unmodelled {name} on the target")
    return res, events


def _apply(buf, event):
    if event[0] == "write":
        _, off, data = event
        if len(buf) < off:
            buf.extend(bytes(off - len(buf)))
        buf[off:off + len(data)] = data
    elif event[0] == "truncate":
        del buf[event[1]:]
        buf.extend(bytes(max(0, event[1] - len(buf))))


def images(base, events, sector=512, limit=256, seed=0):
    """Yields (label, image bytes) for a power loss at every point of `events` applied to `base`."""
    rand = random.Random(seed)
    durable = bytearray(base)
    pending = []
    epoch = 0

    def crash():
        current = bytearray(durable)
        versions = {}  # sector index -> [contents after each pending write touching it]
        for event in pending:
            _apply(current, event)
            if event[0] == "write":
                _, off, data = event
                for s in range(off // sector, (off + len(data) - 1) // sector + 1):
                    versions.setdefault(s, []).append(bytes(current[s * sector:(s + 1) * sector]))
        sectors = sorted(versions)
        choices = [range(len(versions[s]) + 1) for s in sectors]
        total = 1
        for c in choices:
            total *= len(c)
        if total <= limit:
            picks = itertools.product(*choices)
        else:
            extremes = [tuple(0 for _ in sectors), tuple(len(c) - 1 for c in choices)]
            picks = extremes + [tuple(rand.choice(c) for c in choices) for _ in range(limit - 2)]
        sizes = sorted({len(durable), len(current)})
        for pick in picks:
            for size in sizes:
                img = bytearray(durable[:size])
                img.extend(bytes(size - len(img)))
                for s, v in zip(sectors, pick):
                    start = s * sector
                    if start >= size:
                        continue
                    if v == 0:
                        # not landed: the synced content, or zeros past the synced size
                        old = durable[start:min(size, start + sector)]
                        chunk = bytes(old) + bytes(min(size, start + sector) - start - len(old))
                    else:
                        chunk = versions[s][v - 1][: size - start]
                    img[start:start + len(chunk)] = chunk
                yield f"epoch {epoch} sectors {pick} size {size}", bytes(img)

    for event in events:
        if event[0] == "replace":
            raise AssertionError("the file was replaced by a rename: not an in-place write path")
        if event[0] == "sync":
            if pending:
                yield from crash()
                for e in pending:
                    _apply(durable, e)
                pending = []
            epoch += 1
        else:
            pending.append(event)
    if pending:
        yield from crash()
        for e in pending:
            _apply(durable, e)
    yield "after the run", bytes(durable)


def load(path):
    """The array numpy loads from `path`, or the exception it raises."""
    import numpy as np
    try:
        return np.load(path)
    except Exception as error:  # noqa: BLE001 — any failure to load is a verdict
        return error


def check_images(binary, base, events, states, workdir, sector, limit, seed=0, adopt=False):
    """Every image loads as one of `states` (numpy), before and after `rowpack recover`.
    Returns (images checked, recovers run, failures as strings)."""
    import numpy as np

    failures = []
    count = recovers = 0
    path = pathlib.Path(workdir) / "image.npy"

    def verdict(label, when):
        got = load(path)
        if isinstance(got, Exception):
            failures.append(f"{label} ({when}): numpy cannot load it: {got}")
            return
        if not any(got.dtype == s.dtype and got.shape == s.shape and np.array_equal(got, s) for s in states):
            failures.append(f"{label} ({when}): loads as shape {got.shape}, not one of {[s.shape for s in states]}")

    for label, img in images(base, events, sector=sector, limit=limit, seed=seed):
        path.write_bytes(img)
        verdict(label, "as left")
        count += 1
        args = [binary, "recover", path] + (["--adopt-trailing-rows"] if adopt else [])
        res = subprocess.run(list(map(str, args)), capture_output=True, text=True)
        recovers += 1
        if res.returncode != 0:
            failures.append(f"{label}: recover exit {res.returncode}: {res.stderr.strip()}")
        else:
            verdict(label, "after recover")
    return count, recovers, failures


# --- the cases: one real run of each .npy write path ------------------------------------------------


def straddling_dtype(rows, boundary, into, np):
    """A structured dtype whose canonical header for `rows` rows puts the sector `boundary`
    `into` bytes after the first digit of the row count (a long first field name moves it)."""
    import io
    for length in range(1, boundary + 64):
        dtype = np.dtype([("n" * length, "u1"), ("b", "<u2")])
        buf = io.BytesIO()
        np.save(buf, np.zeros(rows, dtype))
        pos = buf.getvalue().index(b"'shape': (") + len(b"'shape': (")
        if boundary - pos == into:
            return dtype
    raise AssertionError(f"no dtype puts {boundary} {into} bytes into the digits of {rows}")


class Case:
    def __init__(self, name, rows, boundary, into, adds, command):
        self.name, self.rows, self.boundary, self.into, self.adds, self.command = name, rows, boundary, into, adds, command


CASES = [
    Case("npy-append, 128-byte header", 10, None, None, [4, 3], "npy-append"),
    Case("npy-append, digits across 512", 12_345, 512, 2, [11_111], "npy-append"),
    Case("npy-append, digits across 4096", 12_345, 4096, 3, [11_111, 5], "npy-append"),
    Case("npy-append, 99999 -> 100000 across 512", 99_999, 512, 3, [1], "npy-append"),
    Case("export --append, digits across 512", 12_345, 512, 2, [11_111], "export"),
    Case("recover, digits across 512", 12_345, 512, 2, [11_111], "recover"),
    Case("recover --adopt-trailing-rows, across 512", 12_345, 512, 2, [11_111], "adopt"),
]


def run_case(binary, case, work, sectors, limit, seed=0):
    """Records one run of `case` and checks its power-loss images at each granularity in
    `sectors`; returns ({sector: (images, recovers, failures)}, events)."""
    import numpy as np

    rand = np.random.default_rng(seed)
    dtype = (np.dtype("<f8") if case.boundary is None
             else straddling_dtype(case.rows, case.boundary, case.into, np))
    shape = (3,) if case.boundary is None else ()

    def rows(n):
        raw = rand.integers(1, 255, size=n * dtype.itemsize * (3 if shape else 1), dtype=np.uint8)
        return raw.view(dtype).reshape((n,) + shape)

    work = pathlib.Path(work)
    for old in work.glob("*"):
        old.unlink()
    target = work / "d.npy"
    first = rows(case.rows)
    np.save(target, first)
    parts = [rows(n) for n in case.adds]
    states = [first]
    for part in parts:
        states.append(np.concatenate([states[-1], part]))
    if case.command == "npy-append":
        sources = []
        for i, part in enumerate(parts):
            np.save(work / f"s{i}.npy", part)
            sources.append(work / f"s{i}.npy")
        args = ["npy-append", target, *sources, "-q"]
    elif case.command == "export":
        np.save(work / "s.npy", np.concatenate(parts))
        subprocess.run([binary, "import", work / "s.npy", work / "c.rowpack", "-q"], check=True)
        args = ["export", work / "c.rowpack", target, "--append", "-q"]
        states = [states[0], states[-1]]
    else:
        with open(target, "ab") as f:  # rows an interrupted append left, never acknowledged
            f.write(np.concatenate(parts).tobytes() + b"\x07" * 2)
        args = ["recover", target] + (["--adopt-trailing-rows"] if case.command == "adopt" else [])
        states = [states[0]] if case.command == "recover" else [states[0], states[-1]]
    base = target.read_bytes()
    res, events = record(binary, args, target)
    assert res.returncode == 0, res.stderr.decode()
    final = np.load(target)
    assert np.array_equal(final, states[-1]) and final.shape == states[-1].shape, f"{case.name}: wrong result"
    results = {sector: check_images(binary, base, events, states, work, sector, limit, seed,
                                    adopt=case.command == "adopt")
               for sector in sectors}
    return results, events


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=256, help="mixes per sync interval before sampling")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    binary = os.environ.get("ROWPACK_BIN") or str(pathlib.Path(__file__).resolve().parents[2] / ".build/release/rowpack")
    total = recovers = 0
    bad = []
    with tempfile.TemporaryDirectory() as work:
        for case in CASES:
            results, _ = run_case(binary, case, pathlib.Path(work), (512, 4096), args.limit, args.seed)
            for sector, (n, r, failures) in results.items():
                print(f"{case.name:45} sector {sector:5}: {n:6} images, {r:6} recovers, {len(failures)} failures")
                total, recovers = total + n, recovers + r
                bad += [f"{case.name}, {sector}: {f}" for f in failures]
    print(f"{total} images, {recovers} recovers, {len(bad)} failures")
    for f in bad[:20]:
        print("  " + f)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
