#!/usr/bin/env python3
"""Side-by-side comparison: Rowpack against npy-append-array, h5py, PyTables, zarr v3 and python-blosc2.

    python3 Benchmarks/compare/compare.py            # full run: 256 MiB sensor data (~10-15 min here)
    python3 Benchmarks/compare/compare.py --quick    # smoke run: 32 MiB
    python3 Benchmarks/compare/compare.py --size-mib 128 --no-big-chunks

Installs its Python packages with pip (a package that cannot be installed makes its tool
"unavailable" in the results instead of failing), builds rowpack-probe (`swift build -c release`
in Benchmarks/), generates the datasets once, and measures every tool in one run on the same data
at the same chunk size (rows per chunk = chunk bytes / row bytes). Every figure is checked before
it is reported: data read back, random rows, slices and exports must equal the source.

Writes Benchmarks/RESULTS.md, Benchmarks/results.png and Benchmarks/results.json.
"""

import argparse
import datetime
import importlib
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCHMARKS = os.path.dirname(HERE)
ROOT = os.path.dirname(BENCHMARKS)

# module name -> pip requirement
PACKAGES = {
    "numpy": "numpy",
    "h5py": "h5py",
    "hdf5plugin": "hdf5plugin",
    "tables": "tables",
    "zarr": "zarr>=3",
    "blosc2": "blosc2",
    "npy_append_array": "npy-append-array",
    "matplotlib": "matplotlib",
}
DIST_NAMES = {"npy_append_array": "npy-append-array"}


def log(message):
    print(message, file=sys.stderr, flush=True)


def ensure_packages():
    """Imports each package, installing the missing ones with pip; returns {module: error}."""
    missing = {}
    for module, requirement in PACKAGES.items():
        try:
            importlib.import_module(module)
            continue
        except Exception:
            pass
        log(f"installing {requirement} ...")
        done = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", requirement], capture_output=True, text=True
        )
        importlib.invalidate_caches()
        try:
            importlib.import_module(module)
        except Exception as error:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [str(error)]
            missing[module] = f"pip install {requirement} failed: {tail[0]}"
            log(missing[module])
    if "numpy" in missing:
        sys.exit("numpy is required")
    return missing


def version(module):
    try:
        return importlib.metadata.version(DIST_NAMES.get(module, module))
    except Exception:
        return getattr(sys.modules.get(module), "__version__", "?")


# MARK: Datasets


def make_sensor(rows, seed=42):
    """float32 x 64: per channel a smooth random walk (an AR(1) drift integrated) + small noise."""
    import numpy as np

    rng = np.random.default_rng(seed)
    channels = 64
    step = rng.uniform(-1, 1, (rows, channels))
    drift = np.empty((rows, channels))
    d = np.zeros(channels)
    for t in range(rows):  # the AR(1) recursion has no vectorized form in numpy alone
        d *= 0.95
        d += 0.05 * step[t]
        drift[t] = d
    del step
    level = np.cumsum(drift, axis=0)
    level += np.arange(channels) * 10.0
    level += 0.01 * rng.uniform(-1, 1, (rows, channels))
    return level.astype(np.float32)


def make_embeddings(rows, seed=43):
    """float32 x 384: random unit vectors (close to incompressible)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    data = rng.standard_normal((rows, 384), dtype=np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    return data


def make_counts(rows, seed=44):
    """int64 x 16: small event counts (Poisson, mean 3)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return rng.poisson(3.0, (rows, 16)).astype(np.int64)


DATASETS = {
    "sensor": ("float32 × 64, smooth random walk + noise", 256, make_sensor),
    "embeddings": ("float32 × 384, random unit vectors", 1536, make_embeddings),
    "counts": ("int64 × 16, Poisson counts (mean 3)", 128, make_counts),
}


# MARK: Tools
#
# Each tool: create(path, data, rpc) -> writer with append(batch) and close();
# open(path) -> reader with row(i), rows(i, j), all(), close(); size(path).


def tree_size(path):
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)
    return os.path.getsize(path)


class ArrayReader:
    """Reads through any object indexed like a numpy array (h5py, PyTables, zarr, blosc2)."""

    def __init__(self, array, close=lambda: None):
        self.a = array
        self._close = close

    def row(self, i):
        return self.a[i]

    def rows(self, i, j):
        return self.a[i:j]

    def all(self):
        return self.a[:]

    def close(self):
        self._close()


class CallbackWriter:
    """A writer made of an append function and a close function."""

    def __init__(self, append, close=lambda: None):
        self.append = append
        self.close = close


class NpyAppendArrayTool:
    name = "npy-append-array"
    modules = ["npy_append_array"]
    suffix = ".npy"
    settings = "uncompressed .npy; reads through np.load(mmap_mode='r')"

    def create(self, path, data, rpc):
        from npy_append_array import NpyAppendArray

        return NpyAppendArray(path, delete_if_exists=True)

    def open(self, path):
        import numpy as np

        class Reader:
            def __init__(self):
                self.a = np.load(path, mmap_mode="r")

            def row(self, i):
                return np.array(self.a[i])

            def rows(self, i, j):
                return np.array(self.a[i:j])

            def all(self):
                return np.load(path)

            def close(self):
                del self.a

        return Reader()


class H5pyTool:
    name = "h5py"
    modules = ["h5py", "hdf5plugin"]
    suffix = ".h5"
    settings = "hdf5plugin.Zstd(clevel=1) + shuffle, chunk cache rdcc_nbytes = 16 MiB"

    def create(self, path, data, rpc):
        import h5py
        import hdf5plugin

        f = h5py.File(path, "w")
        shape = data.shape[1:]
        ds = f.create_dataset(
            "data", shape=(0,) + shape, maxshape=(None,) + shape, dtype=data.dtype, chunks=(rpc,) + shape,
            shuffle=True, **hdf5plugin.Zstd(clevel=1),
        )

        def append(batch):
            n = ds.shape[0]
            ds.resize(n + len(batch), axis=0)
            ds[n:] = batch

        return CallbackWriter(append, f.close)

    def open(self, path):
        import h5py
        import hdf5plugin  # noqa: F401  (registers the zstd filter)

        f = h5py.File(path, "r", rdcc_nbytes=16 << 20)
        return ArrayReader(f["data"], f.close)


class PyTablesTool:
    name = "PyTables"
    modules = ["tables"]
    suffix = ".h5"
    settings = "EArray, Filters(complib='blosc2:zstd', complevel=1, shuffle=True), CHUNK_CACHE_SIZE = 16 MiB"

    def create(self, path, data, rpc):
        import tables

        f = tables.open_file(path, "w")
        shape = data.shape[1:]
        arr = f.create_earray(
            f.root, "data", atom=tables.Atom.from_dtype(data.dtype), shape=(0,) + shape,
            filters=tables.Filters(complevel=1, complib="blosc2:zstd", shuffle=True), chunkshape=(rpc,) + shape,
            expectedrows=len(data),
        )

        return CallbackWriter(arr.append, f.close)

    def open(self, path):
        import tables

        f = tables.open_file(path, "r", CHUNK_CACHE_SIZE=16 << 20)
        return ArrayReader(f.root.data, f.close)


class ZarrTool:
    name = "zarr"
    modules = ["zarr"]
    suffix = ".zarr"
    settings = "zarr v3 local store, BloscCodec(cname='zstd', clevel=1, shuffle='shuffle') (v3 has shuffle only through blosc)"

    def create(self, path, data, rpc):
        import zarr
        import zarr.codecs

        shape = data.shape[1:]
        z = zarr.create_array(
            store=path, shape=(0,) + shape, chunks=(rpc,) + shape, dtype=data.dtype, zarr_format=3, overwrite=True,
            compressors=zarr.codecs.BloscCodec(cname="zstd", clevel=1, shuffle="shuffle"),
        )

        return CallbackWriter(lambda batch: z.append(batch, axis=0))

    def open(self, path):
        import zarr

        return ArrayReader(zarr.open_array(path, mode="r"))


class Blosc2Tool:
    name = "blosc2"
    modules = ["blosc2"]
    suffix = ".b2nd"
    settings = "NDArray on disk, CParams(codec=ZSTD, clevel=1, filters=[SHUFFLE]), default blocks and threads"

    def create(self, path, data, rpc):
        import blosc2

        shape = data.shape[1:]
        cparams = blosc2.CParams(codec=blosc2.Codec.ZSTD, clevel=1, filters=[blosc2.Filter.SHUFFLE], filters_meta=[0])
        a = blosc2.empty((0,) + shape, dtype=data.dtype, chunks=(rpc,) + shape, urlpath=path, mode="w", cparams=cparams)

        def append(batch):
            n = a.shape[0]
            a.resize((n + len(batch),) + shape)
            a[n:] = batch

        return CallbackWriter(append)

    def open(self, path):
        import blosc2

        return ArrayReader(blosc2.open(path, mode="r"))


PEERS = [NpyAppendArrayTool(), H5pyTool(), PyTablesTool(), ZarrTool(), Blosc2Tool()]
TOOLS = ["rowpack"] + [peer.name for peer in PEERS]


# MARK: Measuring a peer


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def remove(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)


def percentile(values, p):
    import numpy as np

    return float(np.percentile(np.asarray(values), p))


def measure_peer(tool, data, rpc, work, options, source_npy):
    import numpy as np

    raw = data.nbytes
    rows = len(data)
    result = {"tool": tool.name, "rows": rows, "raw_bytes": raw, "rows_per_chunk": rpc}
    path = os.path.join(work, "batches" + tool.suffix)

    # Append in batches of 1000 rows, then close; best of `repeat` runs.
    best = 0.0
    for _ in range(options.repeat):
        remove(path)
        start = time.perf_counter()
        writer = tool.create(path, data, rpc)
        for offset in range(0, rows, 1000):
            writer.append(data[offset : offset + 1000])
        writer.close()
        best = max(best, raw / (time.perf_counter() - start) / 1e6)
    result["append_mbps"] = best
    reader = tool.open(path)
    check(np.array_equal(reader.all(), data), "batch file differs from the source")
    reader.close()
    result["stored_bytes"] = tree_size(path)
    result["ratio"] = raw / result["stored_bytes"]

    # One row per append call, up to a row cap or a time cap, whichever comes first.
    rowwise_path = os.path.join(work, "rows" + tool.suffix)
    remove(rowwise_path)
    cap = min(rows, options.row_cap)
    deadline = time.perf_counter() + options.row_seconds
    start = time.perf_counter()
    writer = tool.create(rowwise_path, data, rpc)
    done = 0
    while done < cap:
        writer.append(data[done : done + 1])
        done += 1
        if done % 256 == 0 and time.perf_counter() > deadline:
            break
    writer.close()
    elapsed = time.perf_counter() - start
    reader = tool.open(rowwise_path)
    check(np.array_equal(reader.all(), data[:done]), "row-by-row file differs from the source")
    reader.close()
    remove(rowwise_path)
    result["rowwise_rows"] = done
    result["rowwise_rows_per_s"] = done / elapsed

    # Open: median of repeated opens (capped at ~2 s).
    opens = []
    limit = time.perf_counter() + 2
    while len(opens) < 200 and (len(opens) < 5 or time.perf_counter() < limit):
        start = time.perf_counter()
        reader = tool.open(path)
        opens.append(time.perf_counter() - start)
        reader.close()
    result["open_ms"] = percentile(opens, 50) * 1e3

    # Random rows and 100-row slices, each from a freshly opened file.
    rng = np.random.default_rng(options.seed)
    for key, span in (("random_row", 1), ("slice", 100)):
        reader = tool.open(path)
        times = []
        for first in rng.integers(0, rows - span + 1, options.samples):
            first = int(first)
            start = time.perf_counter()
            got = reader.row(first) if span == 1 else reader.rows(first, first + span)
            times.append(time.perf_counter() - start)
            want = data[first] if span == 1 else data[first : first + span]
            check(np.array_equal(got, want), f"{key} at {first} differs from the source")
        reader.close()
        result[f"{key}_p50_us"] = percentile(times, 50) * 1e6
        result[f"{key}_p99_us"] = percentile(times, 99) * 1e6

    # Full sequential read into a new array; best of `repeat` runs.
    best = 0.0
    for _ in range(options.repeat):
        reader = tool.open(path)
        start = time.perf_counter()
        everything = reader.all()
        best = max(best, raw / (time.perf_counter() - start) / 1e6)
        reader.close()
        check(np.array_equal(everything, data), "full read differs from the source")
        del everything
    result["full_read_mbps"] = best

    # Export to .npy: np.save of the whole array; for the .npy tool, numpy's own copy of the file.
    out = os.path.join(work, "export.npy")
    best = 0.0
    for _ in range(options.repeat):
        remove(out)
        os.sync()  # start each export with no dirty pages pending, as the probe does
        start = time.perf_counter()
        if isinstance(tool, NpyAppendArrayTool):
            np.save(out, np.load(path, mmap_mode="r"))
        else:
            reader = tool.open(path)
            np.save(out, reader.all())
            reader.close()
        best = max(best, raw / (time.perf_counter() - start) / 1e6)
        check(np.array_equal(np.load(out, mmap_mode="r"), data), "export differs from the source")
    remove(out)
    result["export_mbps"] = best
    remove(path)
    result["checks"] = "ok"
    return result


def measure_rowpack(probe, npy_path, rpc, work, options, open_chunks):
    command = [probe, npy_path, work, "--rows-per-chunk", str(rpc), "--samples", str(options.samples),
               "--seed", str(options.seed), "--repeat", str(options.repeat)]
    if open_chunks:
        command += ["--open-chunks", str(open_chunks)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise CheckFailed(done.stderr.strip() or f"rowpack-probe exited {done.returncode}")
    return json.loads(done.stdout)


# MARK: Reporting

# key, label, unit, higher is better
MEASURES = [
    ("append_mbps", "append, batches of 1000 rows", "MB/s", True),
    ("rowwise_rows_per_s", "append, one row at a time", "rows/s", True),
    ("ratio", "compression ratio", "×", True),
    ("open_ms", "open", "ms", False),
    ("random_row_p50_us", "random row p50", "µs", False),
    ("random_row_p99_us", "random row p99", "µs", False),
    ("slice_p50_us", "100-row slice p50", "µs", False),
    ("slice_p99_us", "100-row slice p99", "µs", False),
    ("full_read_mbps", "full sequential read", "MB/s", True),
    ("export_mbps", "export to .npy", "MB/s", True),
]


def advantage(rowpack, peer, higher):
    """How many times better Rowpack is: Rowpack/peer for rates, peer/Rowpack for times."""
    if rowpack is None or peer is None or rowpack <= 0 or peer <= 0:
        return None
    return rowpack / peer if higher else peer / rowpack


def fmt(value, unit=""):
    if value is None:
        return "—"
    if unit == "rows/s":
        if value < 1e4:
            return f"{value:,.0f}"
        return f"{value / 1e3:,.0f}k" if value < 1e6 else f"{value / 1e6:,.2f}M"
    if unit == "×":
        return f"{value:.2f}"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def fmt_ratio(value):
    if value is None:
        return "—"
    return f"**{value:.2f}×**" if value >= 1 else f"{value:.2f}×"


def run_label(dataset, chunk_kib):
    return f"{dataset} @ {chunk_kib} KiB chunks" if chunk_kib < 1024 else f"{dataset} @ {chunk_kib // 1024} MiB chunks"


def machine():
    info = {"nproc": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release()}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                info["cpu"] = line.split(":", 1)[1].strip()
    except Exception:
        pass
    try:
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
        info["memory"] = f"{kib / 1024 / 1024:.1f} GiB"
    except Exception:
        pass
    try:
        info["swift"] = subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    except Exception:
        pass
    return info


# DESIGN.md §6 targets. §6 states them at ~1 MiB chunks; Rowpack's default is 64 KiB, so both sensor runs
# are checked. "Best peer" is the best compressed peer (as in §6) except for one-row appends and export.
COMPRESSED = ["h5py", "PyTables", "zarr", "blosc2"]
TARGETS = [
    # measure key, label, target text, unit, peers considered, test(rowpack, best peer)
    ("append_mbps", "append, batches of 1000 rows", "≥ 3× the best compressed peer", "MB/s", COMPRESSED,
     lambda v, p: p is not None and v >= 3 * p),
    ("rowwise_rows_per_s", "append, one row at a time", "≥ 2.5M rows/s", "rows/s", None, lambda v, p: v >= 2.5e6),
    ("ratio", "compression ratio", "≥ peers at zstd-1 + shuffle", "×", COMPRESSED,
     lambda v, p: p is not None and v >= 0.995 * p),
    ("random_row_p50_us", "random single row p50", "≤ 40 µs (aim 20)", "µs", COMPRESSED, lambda v, p: v <= 40),
    ("slice_p50_us", "random 100-row slice p50", "≤ 40 µs", "µs", COMPRESSED, lambda v, p: v <= 40),
    ("full_read_mbps", "full sequential read", "≥ 1.5× blosc2", "MB/s", ["blosc2"],
     lambda v, p: p is not None and v >= 1.5 * p),
    ("export_mbps", "export to .npy", "≥ numpy's own copy", "MB/s", ["npy-append-array"],
     lambda v, p: p is not None and v >= p),
    ("open_ms", "open", "≤ 0.1 ms", "ms", COMPRESSED, lambda v, p: v <= 0.1),
    ("open_many_chunks_ms", "open, 1M chunks", "≤ 2 ms", "ms", [], lambda v, p: v <= 2),
]


def best_peer(tools, measure, names, higher):
    values = [(t[measure], n) for n, t in tools.items()
              if n != "rowpack" and measure in t and (names is None or n in names)]
    if not values:
        return None, None
    return max(values) if higher else min(values)


def targets(runs):
    """Rows of the §6 table: per target, per sensor run (64 KiB, 1 MiB) the Rowpack figure, best peer, verdict."""
    keys = [k for k in ("sensor@64", "sensor@1024") if k in runs]
    table = []
    for measure, label, text, unit, names, test in TARGETS:
        higher = unit in ("MB/s", "rows/s", "×")
        cells = []
        for key in keys:
            tools = runs[key]["tools"]
            value = tools.get("rowpack", {}).get(measure)
            peer_value, peer_name = best_peer(tools, measure, names, higher)
            if peer_name == "npy-append-array" and measure == "export_mbps":
                peer_name = "numpy copy"
            ok = value is not None and test(value, peer_value)
            cells.append((value, peer_value, peer_name, ok))
        table.append((label, text, unit, higher, cells))
    return keys, table


def write_report(results, path_md, path_png, path_json):
    with open(path_json, "w") as f:
        json.dump(results, f, indent=1, sort_keys=True)
    order = list(DATASETS)
    runs = dict(sorted(results["runs"].items(), key=lambda kv: (order.index(kv[1]["label"][0]), kv[1]["label"][1])))
    lines = [
        "# Rowpack compared with npy-append-array, h5py, PyTables, zarr and blosc2",
        "",
        f"Generated by `{results['command']}` on {results['date']} "
        f"(the run took {results['elapsed_s'] / 60:.1f} min). Do not edit by hand: rerun the script.",
        "",
        "## Machine and tools",
        "",
    ]
    m = results["machine"]
    lines.append(
        f"- Machine: {m.get('nproc')} cores ({m.get('cpu', '?')}), {m.get('memory', '?')} memory, "
        f"Linux {m.get('kernel')}, Python {m.get('python')}; {m.get('swift', '')}"
    )
    load = results.get("load") or [0]
    lines.append(f"- Other engineers build and test on the same 2-core machine (1-minute load average during this run: "
                 f"{min(load):.1f} to {max(load):.1f}; 2.0 = both cores busy): figures vary by up to ±50% between runs, so "
                 "compare tools within this one run (the ratios), not with another run's absolute figures. Rowpack "
                 "appends and reads on both cores, so other work on the machine costs it more than the one-threaded "
                 "peers.")
    lines.append("- Versions: " + ", ".join(f"{k} {v}" for k, v in sorted(results["versions"].items())))
    for module, reason in sorted(results["unavailable"].items()):
        lines.append(f"- Unavailable: {module}: {reason}")
    lines += [
        "",
        "## Settings",
        "",
        "- Same data for every tool, held in memory as one numpy array (Rowpack's probe reads the same `.npy`).",
        "- Same chunk: rows per chunk = chunk bytes / row bytes, for every tool. zstd level 1 + byte shuffle for "
        "every compressed tool; npy-append-array is uncompressed.",
        "- Rowpack: zstd-1 + shuffle, `durability: .none` (no fsync — the peers do not sync either; "
        "`append_durable_mbps` in results.json is the same append with the default durable commit), "
        "measured by `rowpack-probe` (Swift, release build).",
    ]
    for peer in PEERS:
        lines.append(f"- {peer.name}: {peer.settings}.")
    lines += [
        f"- append: the whole dataset in batches of 1000 rows into a new file, including close; best of "
        f"{results['options']['repeat']} runs (also for full read and export).",
        f"- one row at a time: one append call per row (a one-row view of the source), up to "
        f"{results['options']['row_cap']:,} rows or {results['options']['row_seconds']} s, whichever comes first, "
        "then close; rows/s over what was appended (Rowpack appends every row).",
        "- stored size: file (or directory) size after the batch append; ratio = raw / stored.",
        "- open: median time to open the file and reach the array (a file in the page cache).",
        f"- random row / 100-row slice: {results['options']['samples']} uniformly random rows (slices) from a freshly "
        "opened file (one reader for all picks), 16 MiB chunk cache where the tool has one (Rowpack, h5py, PyTables); each call returns a new "
        "array; p50 / p99 per call. The file is in the page cache (cold reader, warm OS).",
        "- full read: the whole array into a new array (`arr[:]`; `np.load` for .npy). Rowpack decodes "
        "on all cores (2 here), blosc2 also uses 2 threads by default; h5py, PyTables and zarr decode on one.",
        "- export: to a new `.npy` with no fsync: Rowpack `export(to:durability: .none)`, the peers "
        "`np.save(out, arr[:])`, and for npy-append-array numpy's own copy `np.save(out, np.load(src, mmap_mode='r'))`"
        " — the baseline.",
        "- Every figure was checked: data read back, each random row and slice, and each export equal the source.",
        "",
        "Ratios: **how many times better Rowpack is** than the peer — Rowpack/peer for rates and ratio, "
        "peer/Rowpack for times. Above 1 (bold) Rowpack is better.",
        "",
    ]
    keys, target_rows = targets(runs)
    if keys:
        lines += [
            "## DESIGN.md §6 targets (sensor data)",
            "",
            "§6 states its targets at ~1 MiB chunks; Rowpack's default chunk is 64 KiB. Each column pair is one "
            "run with every tool at that chunk size; \"best peer\" is the best compressed peer of that run "
            "(numpy's own copy for export, all peers for one-row appends).",
            "",
            "| measure | target | " + " | ".join(
                f"Rowpack @ {run_label(*runs[k]['label']).split(' @ ')[1]} | best peer | Rowpack vs peer | met"
                for k in keys) + " |",
            "|---|---|" + "---|---|---|---|" * len(keys),
        ]
        for label, text, unit, higher, cells in target_rows:
            row = f"| {label} | {text} |"
            for value, peer_value, peer_name, ok in cells:
                peer_text = f"{fmt(peer_value, unit)} {unit} ({peer_name})" if peer_value is not None else "—"
                row += (f" {fmt(value, unit)} {unit} | {peer_text} | {fmt_ratio(advantage(value, peer_value, higher))}"
                        f" | {'yes' if ok else '**no**'} |") if value is not None else " — | — | — | — |"
            lines.append(row)
        lines.append("")
    for key, run in runs.items():
        dataset, chunk_kib = run["label"]
        tools = run["tools"]
        rp = tools.get("rowpack", {})
        lines += [
            f"## {run_label(dataset, chunk_kib)}",
            "",
            f"{DATASETS[dataset][0]}; {run['rows']:,} rows, {run['raw_bytes'] / 2**20:.0f} MiB raw, "
            f"{run['rows_per_chunk']} rows per chunk.",
            "",
            "| measure | " + " | ".join(TOOLS) + " |",
            "|---|" + "---|" * len(TOOLS),
        ]
        for measure, label, unit, higher in MEASURES:
            cells = []
            for name in TOOLS:
                t = tools.get(name, {})
                if "unavailable" in t or "error" in t:
                    cells.append("n/a")
                else:
                    cells.append(fmt(t.get(measure), unit))
            lines.append(f"| {label} ({unit}) | " + " | ".join(cells) + " |")
        rowwise = [f"{n} {tools[n]['rowwise_rows']:,}" for n in TOOLS if "rowwise_rows" in tools.get(n, {})]
        lines += ["", "Rows appended one at a time: " + ", ".join(rowwise) + ".", ""]
        lines += [
            "Rowpack vs each peer (× better):",
            "",
            "| measure | " + " | ".join(TOOLS[1:]) + " |",
            "|---|" + "---|" * (len(TOOLS) - 1),
        ]
        for measure, label, unit, higher in MEASURES:
            cells = [fmt_ratio(advantage(rp.get(measure), tools.get(n, {}).get(measure), higher)) for n in TOOLS[1:]]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        for name in TOOLS:
            t = tools.get(name, {})
            if "unavailable" in t:
                lines.append(f"\n{name}: unavailable ({t['unavailable']}).")
            elif "error" in t:
                lines.append(f"\n{name}: failed ({t['error']}).")
        extra = []
        if "append_durable_mbps" in rp:
            extra.append(f"Rowpack append with durable commit: {fmt(rp['append_durable_mbps'])} MB/s")
        if "open_many_chunks_ms" in rp:
            extra.append(f"open of a container with {rp['open_many_chunks']:,} chunks: "
                         f"{fmt(rp['open_many_chunks_ms'])} ms")
        if extra:
            lines += ["", "; ".join(extra) + "."]
        lines.append("")
    lines += [
        "## Chart",
        "",
        "![Rowpack against each peer, per measure](results.png)",
        "",
        "## Reproduce",
        "",
        "```sh",
        "python3 Benchmarks/compare/compare.py           # this report (default sizes)",
        "python3 Benchmarks/compare/compare.py --quick   # 32 MiB smoke run",
        "cd Benchmarks && swift package benchmark        # the package-benchmark suite",
        "```",
        "",
    ]
    with open(path_md, "w") as f:
        f.write("\n".join(lines))
    try:
        chart(results, path_png)
    except Exception as error:  # matplotlib missing: the report still stands
        log(f"no chart: {error}")


def chart(results, path_png):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    order = list(DATASETS)
    runs = sorted(results["runs"].values(), key=lambda r: (order.index(r["label"][0]), r["label"][1]))
    peers = TOOLS[1:]
    colors = ["#7f7f7f", "#1f77b4", "#2ca02c", "#d62728", "#9467bd"]
    fig, axes = plt.subplots(len(runs), 1, figsize=(13, 3.6 * len(runs) + 0.6), squeeze=False)
    for ax, run in zip(axes[:, 0], runs):
        tools = run["tools"]
        rp = tools.get("rowpack", {})
        x = np.arange(len(MEASURES))
        width = 0.8 / len(peers)
        for k, (name, color) in enumerate(zip(peers, colors)):
            values = [advantage(rp.get(m), tools.get(name, {}).get(m), h) for m, _, _, h in MEASURES]
            heights = [v if v is not None else np.nan for v in values]
            label = name + " (uncompressed)" if name == "npy-append-array" else name
            ax.bar(x + (k - (len(peers) - 1) / 2) * width, heights, width, label=label, color=color)
        ax.axhline(1.0, color="black", linewidth=1)
        ax.set_yscale("log")
        ax.set_xticks(x)
        ax.set_xticklabels([label.replace(", ", ",\n") for _, label, _, _ in MEASURES], fontsize=8)
        ax.set_ylabel("Rowpack is N× better", fontsize=9)
        ax.set_title(run_label(*run["label"]) + f" — {DATASETS[run['label'][0]][0]}", fontsize=10)
        ax.grid(axis="y", which="both", alpha=0.3)
        ax.legend(fontsize=8, ncol=len(peers), loc="upper right")
    fig.suptitle("Rowpack vs each peer, same run, same data (above 1: Rowpack better; log scale)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path_png, dpi=110)
    plt.close(fig)


# MARK: Main


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=256, help="raw MiB of the sensor dataset (default 256)")
    parser.add_argument("--other-mib", type=int, help="raw MiB of the embeddings and counts datasets "
                        "(default: half of --size-mib)")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs for append, full read, export")
    parser.add_argument("--quick", action="store_true", help="smoke run: 32 MiB sensor, 16 MiB others, fewer samples")
    parser.add_argument("--datasets", default="sensor,embeddings,counts")
    parser.add_argument("--chunk-kib", type=int, default=64, help="chunk size for every tool (Rowpack's default 64)")
    parser.add_argument("--no-big-chunks", action="store_true", help="skip the extra sensor run at 1 MiB chunks")
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--samples", type=int, default=2000, help="random rows (and slices) per tool")
    parser.add_argument("--row-cap", type=int, default=100_000, help="most rows appended one at a time by a peer")
    parser.add_argument("--row-seconds", type=float, default=3.0, help="most seconds of one-row appends per peer")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work", help="work directory (default: a new temporary directory)")
    parser.add_argument("--out", default=BENCHMARKS, help="where RESULTS.md, results.png, results.json go")
    options = parser.parse_args()
    if options.quick:
        options.size_mib = 32
        options.samples = min(options.samples, 500)
        options.row_seconds = min(options.row_seconds, 1.5)
        options.repeat = min(options.repeat, 2)
    if options.other_mib is None:
        options.other_mib = max(8, options.size_mib // 2)
    began = time.time()

    unavailable = ensure_packages()
    import numpy as np

    log("building rowpack-probe (swift build -c release) ...")
    build = subprocess.run(["swift", "build", "-c", "release", "--product", "rowpack-probe"], cwd=BENCHMARKS,
                           capture_output=True, text=True)
    if build.returncode != 0:
        sys.exit("swift build failed:\n" + build.stdout[-3000:] + build.stderr[-3000:])
    bin_path = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=BENCHMARKS,
                              capture_output=True, text=True).stdout.strip()
    probe = os.path.join(bin_path, "rowpack-probe")

    wanted = options.tools.split(",")
    work = options.work or tempfile.mkdtemp(prefix="rowpack-compare-")
    os.makedirs(work, exist_ok=True)
    results = {
        "command": "python3 Benchmarks/compare/compare.py " + " ".join(sys.argv[1:]),
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "machine": machine(),
        "versions": {m: version(m) for m in PACKAGES if m not in unavailable and m != "matplotlib"},
        "unavailable": unavailable,
        "options": vars(options),
        "runs": {},
    }
    try:
        for dataset in options.datasets.split(","):
            description, row_bytes, make = DATASETS[dataset]
            mib = options.size_mib if dataset == "sensor" else options.other_mib
            rows = (mib << 20) // row_bytes
            log(f"generating {dataset}: {rows:,} rows ({mib} MiB) ...")
            data = make(rows)
            npy_path = os.path.join(work, f"{dataset}.npy")
            np.save(npy_path, data)
            with open(npy_path, "rb+") as f:  # its writeback must not run during the first measurements
                os.fsync(f.fileno())
            sizes = [options.chunk_kib]
            if dataset == "sensor" and not options.no_big_chunks and options.chunk_kib != 1024:
                sizes.append(1024)
            for chunk_kib in sizes:
                rpc = max(1, (chunk_kib << 10) // row_bytes)
                run = {"label": (dataset, chunk_kib), "rows": rows, "raw_bytes": data.nbytes, "rows_per_chunk": rpc,
                       "tools": {}}
                results["runs"][f"{dataset}@{chunk_kib}"] = run
                for name in TOOLS:
                    if name not in wanted:
                        continue
                    results.setdefault("load", []).append(os.getloadavg()[0])
                    tool_work = os.path.join(work, name)
                    os.makedirs(tool_work, exist_ok=True)
                    start = time.time()
                    try:
                        if name == "rowpack":
                            open_chunks = 1 << 20 if dataset == "sensor" and chunk_kib == sizes[0] else 0
                            measured = measure_rowpack(probe, npy_path, rpc, tool_work, options, open_chunks)
                        else:
                            peer = next(p for p in PEERS if p.name == name)
                            missing = [m for m in peer.modules if m in unavailable]
                            if missing:
                                run["tools"][name] = {"unavailable": unavailable[missing[0]]}
                                continue
                            measured = measure_peer(peer, data, rpc, tool_work, options, npy_path)
                        run["tools"][name] = measured
                    except CheckFailed as error:
                        run["tools"][name] = {"error": f"check failed: {error}"}
                    except Exception as error:
                        run["tools"][name] = {"error": f"{type(error).__name__}: {error}"}
                    shutil.rmtree(tool_work, ignore_errors=True)
                    t = run["tools"][name]
                    log(f"  {run_label(dataset, chunk_kib)}: {name:<17} {time.time() - start:5.1f} s  "
                        + (t.get("error") or t.get("unavailable") or
                           f"append {t['append_mbps']:.0f} MB/s, rows {t['rowwise_rows_per_s']:.0f}/s, "
                           f"ratio {t['ratio']:.3f}, row p50 {t['random_row_p50_us']:.1f} µs, "
                           f"slice p50 {t['slice_p50_us']:.1f} µs, read {t['full_read_mbps']:.0f} MB/s, "
                           f"export {t['export_mbps']:.0f} MB/s, open {t['open_ms']:.3f} ms"))
            os.remove(npy_path)
            del data
    finally:
        if not options.work:
            shutil.rmtree(work, ignore_errors=True)
    results["elapsed_s"] = time.time() - began
    out = options.out
    write_report(results, os.path.join(out, "RESULTS.md"), os.path.join(out, "results.png"),
                 os.path.join(out, "results.json"))
    log(f"done in {results['elapsed_s'] / 60:.1f} min: {os.path.join(out, 'RESULTS.md')}")
    failures = [f"{k}/{n}" for k, r in results["runs"].items() for n, t in r["tools"].items() if "error" in t]
    if failures:
        log("failed: " + ", ".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
