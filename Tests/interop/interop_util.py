"""Helpers for the interop tests: running the CLI, making arrays, reading .npy headers."""

import ast
import hashlib
import json
import os
import pathlib
import struct
import subprocess

import numpy as np

# Exit codes of the CLI contract (DESIGN.md §8).
EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_USAGE = 64

# Signs that a Swift runtime trap or crash leaked to the user.
CRASH_MARKERS = ("Fatal error", "Stack dump", "Backtrace", "backtrace", "SIGSEGV", "SIGILL", "SIGTRAP", "Thread 0")


class Rowpack:
    """Runs the rowpack executable."""

    def __init__(self, binary):
        self.binary = pathlib.Path(binary)

    def __call__(self, *args, timeout=120, input=None):
        cmd = [str(self.binary), *[str(a) for a in args]]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input)

    def ok(self, *args, **kw):
        """Runs and asserts exit 0; returns the CompletedProcess."""
        res = self(*args, **kw)
        assert res.returncode == EXIT_OK, (
            f"rowpack {' '.join(map(str, args))} exited {res.returncode}\nstdout: {res.stdout}\nstderr: {res.stderr}"
        )
        return res

    def info(self, path):
        """`rowpack info PATH --json`, parsed."""
        return json.loads(self.ok("info", path, "--json").stdout)

    def popen(self, *args, **kw):
        return subprocess.Popen([str(self.binary), *[str(a) for a in args]], **kw)


def assert_runtime_error(res, *names, code=EXIT_RUNTIME):
    """Exit `code`, exactly one non-empty line on stderr that names every string in `names`,
    and no crash output."""
    assert res.returncode == code, f"exit {res.returncode}, expected {code}\nstdout: {res.stdout}\nstderr: {res.stderr}"
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected exactly one line on stderr, got {len(lines)}:\n{res.stderr}"
    for name in names:
        assert str(name) in lines[0], f"stderr does not mention {name!r}: {lines[0]!r}"
    assert_no_crash(res)
    return lines[0]


def assert_no_crash(res):
    text = (res.stdout or "") + (res.stderr or "")
    for marker in CRASH_MARKERS:
        assert marker not in text, f"crash marker {marker!r} in output:\n{text[:1500]}"
    assert res.returncode >= 0, f"killed by signal {-res.returncode}"


def sha(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Arrays


def make_array(dtype, shape, rng):
    """A random C-contiguous array of `dtype` and `shape` with every byte meaningful."""
    dtype = np.dtype(dtype)
    shape = tuple(shape)
    if dtype.subdtype is not None:  # only inside structs; handled by the caller
        base, sub = dtype.subdtype
        return make_array(base, shape + sub, rng)
    if dtype.names is not None:
        out = np.zeros(shape, dtype=dtype)
        for name in dtype.names:
            field = dtype.fields[name][0]
            if field.subdtype is not None:
                base, sub = field.subdtype
                out[name] = make_array(base, shape + sub, rng)
            else:
                out[name] = make_array(field, shape, rng)
        return out
    native = dtype.newbyteorder("=") if dtype.byteorder in "<>" else dtype
    kind = dtype.kind
    if kind == "b":
        out = rng.integers(0, 2, size=shape).astype(bool)
    elif kind in "iu":
        info = np.iinfo(native)
        out = rng.integers(info.min, info.max, size=shape, dtype=native, endpoint=True)
    elif kind == "f":
        out = (rng.standard_normal(size=shape) * 1000).astype(native)
    elif kind == "c":
        out = (rng.standard_normal(size=shape) + 1j * rng.standard_normal(size=shape)).astype(native)
    elif kind in "Mm":
        ints = rng.integers(-(2**40), 2**40, size=shape, dtype=np.int64)
        out = ints.view(native)
        if out.size:
            out.reshape(-1)[0] = np.array("NaT", dtype=native)
    elif kind == "S":
        raw = rng.integers(32, 127, size=shape + (dtype.itemsize,), dtype=np.uint8)
        # Vary the lengths: some trailing NULs.
        cut = rng.integers(0, dtype.itemsize + 1, size=shape)
        raw[np.arange(dtype.itemsize) >= cut[..., None]] = 0
        out = np.ascontiguousarray(raw).view(dtype).reshape(shape)
    elif kind == "U":
        n = dtype.itemsize // 4
        codes = rng.integers(32, 0x3000, size=shape + (n,), dtype=np.uint32)
        out = np.ascontiguousarray(codes).view(native).reshape(shape)
    elif kind == "V":
        raw = rng.integers(0, 256, size=shape + (dtype.itemsize,), dtype=np.uint8)
        out = np.ascontiguousarray(raw).view(dtype).reshape(shape)
    else:
        raise ValueError(f"no generator for {dtype}")
    return np.ascontiguousarray(out.astype(dtype))


def concat(parts):
    """np.concatenate that keeps the parts' dtype (numpy canonicalizes e.g. '>f8' to native)."""
    return np.ascontiguousarray(np.concatenate(parts).astype(parts[0].dtype, copy=False))


def same_array(a, b):
    """Same dtype, shape and bytes (NaN- and struct-safe)."""
    a = np.asarray(a)
    b = np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()


def assert_same_array(actual, expected):
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.dtype == expected.dtype, f"dtype {actual.dtype} != {expected.dtype}"
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}"
    if actual.dtype.kind in "biufc" and actual.dtype.names is None:
        assert np.array_equal(actual, expected, equal_nan=actual.dtype.kind in "fc")
    assert np.ascontiguousarray(actual).tobytes() == np.ascontiguousarray(expected).tobytes(), "bytes differ"


def descr_dtype(text):
    """np.dtype from `info --json`'s `dtype` (numpy descr text)."""
    try:
        descr = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        descr = text
    return np.lib.format.descr_to_dtype(descr)


# ---------------------------------------------------------------------------------------------
# .npy headers


def npy_header(path):
    """(version, header_len_field, data_offset, header_dict) of a .npy file."""
    with open(path, "rb") as f:
        magic = f.read(8)
        assert magic[:6] == b"\x93NUMPY", f"{path}: not a .npy file"
        major = magic[6]
        if major == 1:
            (hlen,) = struct.unpack("<H", f.read(2))
            start = 10
        else:
            (hlen,) = struct.unpack("<I", f.read(4))
            start = 12
        text = f.read(hlen)
    encoding = "utf8" if major >= 3 else "latin1"
    return (magic[6], magic[7]), hlen, start + hlen, ast.literal_eval(text.decode(encoding))


def canonical_header(dtype, shape):
    """The exact header bytes np.save writes for an array of `dtype` and `shape` (numpy ≥ 1.24)."""
    import io

    d = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": tuple(int(x) for x in shape)}
    buf = io.BytesIO()
    try:
        from numpy.lib import _format_impl as impl
    except ImportError:  # numpy < 2
        from numpy.lib import format as impl
    impl._write_array_header(buf, d)
    return buf.getvalue()


def old_style_npy(path, arr):
    """Writes `arr` with a numpy < 1.24 header: no growth room, padded (1…64) to 64 bytes."""
    descr = np.lib.format.dtype_to_descr(arr.dtype)
    text = "{'descr': %r, 'fortran_order': False, 'shape': %r, }" % (descr, tuple(int(d) for d in arr.shape))
    hlen = len(text) + 1
    pad = 64 - ((10 + hlen) % 64)
    header = b"\x93NUMPY\x01\x00" + struct.pack("<H", hlen + pad) + text.encode("latin1") + b" " * pad + b"\n"
    assert len(header) % 64 == 0
    with open(path, "wb") as f:
        f.write(header)
        f.write(np.ascontiguousarray(arr).tobytes())
    return len(header)


def file_size(path):
    return os.path.getsize(path)
