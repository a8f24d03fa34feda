#!/usr/bin/env python3
"""Reader soak: `rowpack tail --follow` processes follow a writer loop of `rowpack append`s.

Every row r of the container is `[r, (r * 2654435761) mod 2^31]` (int64), so a reader's output
can be checked line by line without keeping the data. The writer appends batches of random
sizes (1 row … 20k rows), one commit each, for the given time; readers poll every few ms. Some
readers start with the writer, others join while it runs. Each reader must print every row from
where it started to the end exactly once, in order, with the right values: no gap, no duplicate,
no torn commit.

    python3 Tests/reliability/soak_readers.py --seconds 60 --readers 4     # the long run
    python3 Tests/reliability/soak_readers.py --seconds 3 --readers 2      # a quick look

Prints a summary; exits 1 on the first violation. Uses $ROWPACK_BIN or .build/release/rowpack.
"""

import argparse
import os
import pathlib
import random
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[2]


def rowpack_binary():
    return pathlib.Path(os.environ.get("ROWPACK_BIN") or REPO / ".build" / "release" / "rowpack")


def rows_array(start, count):
    r = np.arange(start, start + count, dtype=np.int64)
    return np.stack([r, (r * 2654435761) % (1 << 31)], axis=1).astype("<i8")


def check_output(text, first, last, name):
    """`text` must be rows first..last-1, each once, in order, with the right values."""
    lines = text.splitlines()
    if len(lines) != last - first:
        missing = last - first - len(lines)
        raise AssertionError(f"{name}: printed {len(lines)} rows, expected {last - first} ({missing} missing or duplicated)")
    values = np.array([[int(v) for v in line.split()] for line in lines], dtype=np.int64) if lines else np.zeros((0, 3), np.int64)
    index = values[:, 0]
    bad = np.nonzero(index != np.arange(first, last))[0]
    if len(bad):
        raise AssertionError(f"{name}: line {bad[0]} is row {index[bad[0]]}, expected {first + bad[0]} (out of order, gap or duplicate)")
    expected = rows_array(first, last - first)
    bad = np.nonzero((values[:, 1:] != expected).any(axis=1))[0]
    if len(bad):
        raise AssertionError(f"{name}: row {first + bad[0]} has values {values[bad[0], 1:].tolist()}, expected {expected[bad[0]].tolist()}")


def soak(binary, directory, seconds, readers, seed, interval_ms=3, log=print):
    binary = str(binary)
    directory = pathlib.Path(directory)
    rand = random.Random(seed)
    container = directory / "follow.rowpack"
    batch = directory / "batch.npy"
    np.save(batch, rows_array(0, 0))
    subprocess.run([binary, "import", str(batch), str(container), "--chunk-rows", "256", "-q"], check=True)
    followers = []  # (name, process, output path, first row)

    def start_reader(first_row):
        name = f"reader{len(followers)}"
        out = directory / f"{name}.txt"
        handle = open(out, "w")
        # Early readers print everything there is (-n huge), whenever they get to open the
        # file; late ones only what is committed after they open (-n 0).
        lines = "1000000000000" if first_row == 0 else "0"
        proc = subprocess.Popen([binary, "tail", str(container), "--follow", "-n", lines, "--interval-ms", str(interval_ms)],
                                stdout=handle, stderr=subprocess.PIPE)
        handle.close()
        followers.append((name, proc, out, first_row))

    early = max(1, readers // 2)
    for _ in range(early):
        start_reader(0)
    time.sleep(0.05)
    rows = 0
    commits = 0
    started = time.monotonic()
    late_at = [started + seconds * (k + 1) / (readers - early + 1) for k in range(readers - early)]
    while time.monotonic() - started < seconds:
        n = rand.choice([1, 2, 7, 100, 255, 256, 257, 1000, rand.randrange(1, 20000)])
        np.save(batch, rows_array(rows, n))
        res = subprocess.run([binary, "append", str(container), str(batch), "-q"], capture_output=True, text=True)
        if res.returncode != 0:
            raise AssertionError(f"append failed: {res.stderr}")
        rows += n
        commits += 1
        while late_at and time.monotonic() >= late_at[0]:
            late_at.pop(0)
            # A late reader starts at whatever the container holds when it opens: at least
            # `rows` (tail -n 0 prints nothing already there); its first line tells where.
            start_reader(rows)
        time.sleep(rand.choice([0, 0, 0.001, 0.005, 0.02]))
    # Wait until every reader printed the last row, then stop it.
    deadline = time.monotonic() + 60
    for name, proc, out, _ in followers:
        while time.monotonic() < deadline:
            with open(out, "rb") as f:
                f.seek(0, 2)
                size = f.tell()
                f.seek(max(0, size - 200))
                tail = f.read().decode(errors="replace").splitlines()
            if tail and tail[-1].split("\t")[0] == str(rows - 1):
                break
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited {proc.returncode}: {proc.stderr.read().decode()}")
            time.sleep(0.02)
        else:
            raise AssertionError(f"{name} did not reach row {rows - 1} within 60 s of the last commit")
        proc.terminate()
        proc.wait(timeout=10)
    printed = 0
    for name, proc, out, first_row in followers:
        text = out.read_text()
        first = int(text.split("\t", 1)[0]) if text else rows
        if first_row == 0 and first != 0:
            raise AssertionError(f"{name} started with the writer but its first row is {first}")
        if first < first_row:
            raise AssertionError(f"{name} joined at {first_row} rows but printed row {first}, which it should not see")
        check_output(text, first, rows, name)
        printed += rows - first
    stats = dict(seconds=round(time.monotonic() - started, 1), commits=commits, rows=rows, readers=len(followers),
                 rows_checked=printed)
    log("reader soak: " + ", ".join(f"{k} {v}" for k, v in stats.items()))
    return stats


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    binary = rowpack_binary()
    if not binary.is_file():
        sys.exit(f"no rowpack binary at {binary}: run `swift build -c release --product rowpack`")
    with tempfile.TemporaryDirectory(prefix="rowpack-reader-soak-") as directory:
        try:
            soak(binary, directory, args.seconds, args.readers, args.seed)
        except AssertionError as error:
            print(f"VIOLATION: {error}", file=sys.stderr)
            sys.exit(1)


if __name__ == "__main__":
    main()
