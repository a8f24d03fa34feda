#!/usr/bin/env python3
"""Kill soak: `rowpack append` is SIGKILLed at random moments, over and over, and nothing
committed is ever lost.

A driver loop (this script) appends batches to one container, one `rowpack append` process (one
commit) per batch, and prints each commit it completed. At a random moment it SIGKILLs the
append that is running. After every kill:

- the container opens (`rowpack info --json`) and `rowpack verify` exits 0;
- its row count is the last completed commit's or the one that was in progress (a commit is
  atomic: all of its rows or none), and its commit count matches;
- its rows equal the source prefix (`rowpack export`, then numpy);
- appending resumes from there (the next append cuts the torn tail).

    python3 Tests/reliability/kill_soak.py --kills 200          # the long run (~2-4 min)
    python3 Tests/reliability/kill_soak.py --kills 5 --seed 3   # a quick look

Prints one line per kill and a summary; exits 1 on the first violation. Uses
$ROWPACK_BIN or .build/release/rowpack.
"""

import argparse
import json
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


class Violation(AssertionError):
    pass


def check(condition, message):
    if not condition:
        raise Violation(message)


class BatchPool:
    """`size` .npy batches with varied row counts (1 row … 150k rows of 4 float32), batch i of
    the appended sequence is pool[i % size]."""

    def __init__(self, directory, size, seed):
        rng = np.random.default_rng(seed)
        self.arrays = []
        self.paths = []
        for k in range(size):
            kind = k % 10
            if kind < 5:
                n = int(rng.integers(1, 2000))
            elif kind < 8:
                n = int(rng.integers(2000, 30000))
            elif kind == 8:
                n = int(rng.integers(100_000, 150_000))
            else:
                n = 1
            # A random walk with noise: compresses a little, like sensor data.
            arr = (np.cumsum(rng.standard_normal((n, 4)), axis=0) + rng.standard_normal((n, 4)) * 0.01).astype("<f4")
            path = pathlib.Path(directory) / f"batch{k:03d}.npy"
            np.save(path, arr)
            self.arrays.append(arr)
            self.paths.append(path)

    def __len__(self):
        return len(self.arrays)

    def rows(self, index):
        return len(self.arrays[index % len(self)])


def run(binary, *args, timeout=300):
    return subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True, timeout=timeout)


def check_container(binary, container, expected_batches, pool, out_path, full_compare):
    """Checks the container holds exactly the batches `expected_batches` (pool indices, in
    order): info, verify, export + compare. Returns the info dict."""
    res = run(binary, "info", container, "--json")
    check(res.returncode == 0, f"info failed after a kill: {res.stderr.strip()}")
    info = json.loads(res.stdout)
    rows = sum(pool.rows(i) for i in expected_batches)
    check(info["rows"] == rows, f"container has {info['rows']} rows, expected {rows}")
    res = run(binary, "verify", container)
    check(res.returncode == 0, f"verify failed after a kill: {res.stderr.strip()}")
    # Compare everything, or (on big containers) the last few batches only.
    start_batch = 0 if full_compare else max(0, len(expected_batches) - 8)
    start_row = sum(pool.rows(i) for i in expected_batches[:start_batch])
    if out_path.exists():
        out_path.unlink()
    res = run(binary, "export", container, out_path, "--rows", f"{start_row}:", "-q")
    check(res.returncode == 0, f"export failed after a kill: {res.stderr.strip()}")
    got = np.load(out_path, mmap_mode="r")
    check(got.shape == (rows - start_row, 4) and got.dtype == np.dtype("<f4"), f"export has shape {got.shape} {got.dtype}")
    at = 0
    for i in expected_batches[start_batch:]:
        part = pool.arrays[i % len(pool)]
        check(np.array_equal(got[at:at + len(part)], part), f"rows {start_row + at}… differ from batch {i}: data lost or wrong")
        at += len(part)
    del got
    return info


def soak(binary, directory, kills, seed, pool_size=40, window=0.1, log=print, verbose=False):
    """Runs the soak until `kills` appends were killed; returns a dict of figures."""
    binary = pathlib.Path(binary)
    directory = pathlib.Path(directory)
    rand = random.Random(seed)
    pool = BatchPool(directory, pool_size, seed)
    container = directory / "soak.rowpack"
    out = directory / "export.npy"
    res = run(binary, "import", pool.paths[0], container, "--chunk-rows", "1000", "-q")
    check(res.returncode == 0, f"import failed: {res.stderr}")
    committed = [0]  # pool indices appended, in order, as committed
    commits = 2  # the creating commit and the import
    stats = dict(kills=0, rolled_back=0, in_progress_kept=0, torn_tails=0, appends_completed=0, checks=0, seconds=0.0)
    started = time.monotonic()
    next_batch = 1
    durations = {}  # pool index -> how long its last completed append took
    while stats["kills"] < kills:
        # Kill the `target`-th append of this run at a moment drawn from how long that batch's
        # append took last time (so kills land in start-up, reading, compressing, writing and
        # committing).
        target = rand.randrange(4)
        completed_this_run = 0
        while True:
            batch = next_batch
            path = pool.paths[batch % len(pool)]
            start = time.monotonic()
            proc = subprocess.Popen([str(binary), "append", str(container), str(path), "-q"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            timeout = None
            if completed_this_run == target:
                # Half the kills anywhere in the append's run, half in its last 40% (where it
                # writes records, the index and the trailer, and syncs).
                expected = durations.get(batch % len(pool), window)
                low = 0.0 if rand.random() < 0.5 else 0.6
                timeout = rand.uniform(low * expected, 1.05 * expected)
            try:
                _, err = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()  # SIGKILL
                _, err = proc.communicate()
                if proc.returncode == -9:
                    break
                # It finished just before the signal: a completed append after all.
            check(proc.returncode == 0, f"append of batch {batch} failed: {err.decode().strip()}")
            durations[batch % len(pool)] = time.monotonic() - start
            # The driver's record of what it completed: this commit is in the file.
            if verbose:
                log(f"  committed batch {batch} (commit {commits + 1}, {sum(pool.rows(i) for i in committed) + pool.rows(batch)} rows)")
            committed.append(batch)
            commits += 1
            next_batch += 1
            completed_this_run += 1
            stats["appends_completed"] += 1
            if completed_this_run > target:
                target = completed_this_run  # finished before the kill: kill the next one
        check(proc.returncode == -9, f"append exited {proc.returncode}, expected SIGKILL")
        stats["kills"] += 1
        # All or nothing: the file holds the completed commits, or those plus the one killed.
        res = run(binary, "info", container, "--json")
        check(res.returncode == 0, f"info failed after kill {stats['kills']}: {res.stderr.strip()}")
        info = json.loads(res.stdout)
        before = sum(pool.rows(i) for i in committed)
        after = before + pool.rows(batch)
        check(info["rows"] in (before, after), f"kill {stats['kills']}: {info['rows']} rows, expected {before} or {after}")
        if info["rows"] == after and pool.rows(batch) > 0:
            committed.append(batch)
            commits += 1
            next_batch += 1
            stats["in_progress_kept"] += 1
            outcome = "in-progress commit landed"
        else:
            stats["rolled_back"] += 1
            outcome = "rolled back to the last completed commit"
        check(info["commits"] == commits, f"kill {stats['kills']}: {info['commits']} commits, expected {commits}")
        if info["file_bytes"] > info["committed_bytes"]:
            stats["torn_tails"] += 1
        full = stats["kills"] % 10 == 0 or info["rows"] * 16 < (64 << 20)
        check_container(binary, container, committed, pool, out, full_compare=full)
        stats["checks"] += 1
        log(f"kill {stats['kills']:4d}: after {completed_this_run} appends, {outcome}; {info['rows']} rows in {info['commits']} commits"
            f"{', torn tail of %d bytes' % (info['file_bytes'] - info['committed_bytes']) if info['file_bytes'] > info['committed_bytes'] else ''}")
    # Appending resumes after the last kill, and everything is there.
    res = run(binary, "append", container, pool.paths[next_batch % len(pool)], "-q")
    check(res.returncode == 0, f"final append failed: {res.stderr}")
    committed.append(next_batch)
    info = check_container(binary, container, committed, pool, out, full_compare=True)
    check(info["file_bytes"] == info["committed_bytes"], "the final append did not cut the torn tail")
    stats.update(rows=info["rows"], commits=info["commits"], file_bytes=info["file_bytes"], seconds=round(time.monotonic() - started, 1))
    return stats


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--window", type=float, default=0.1, help="kill window (s) for a batch not timed yet")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--verbose", action="store_true", help="also print every commit the driver completed")
    args = parser.parse_args()
    binary = rowpack_binary()
    if not binary.is_file():
        sys.exit(f"no rowpack binary at {binary}: run `swift build -c release --product rowpack`")
    directory = tempfile.mkdtemp(prefix="rowpack-kill-soak-")
    try:
        stats = soak(binary, directory, args.kills, args.seed, window=args.window, verbose=args.verbose)
    except Violation as error:
        print(f"VIOLATION: {error} (files kept in {directory})", file=sys.stderr)
        sys.exit(1)
    if not args.keep:
        subprocess.run(["rm", "-rf", directory])
    print("kill soak: " + ", ".join(f"{k} {v}" for k, v in stats.items()))


if __name__ == "__main__":
    main()
