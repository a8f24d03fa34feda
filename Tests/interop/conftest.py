"""Shared fixtures for the Rowpack interop tests.

The tests drive the `rowpack` executable. It is found through the environment variable
`ROWPACK_BIN`, or defaults to `<repo>/.build/release/rowpack` (build it with
`swift build -c release --product rowpack`, or `make build`).
"""

import os
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from interop_util import Rowpack  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO / ".build" / "release" / "rowpack"


def _binary() -> pathlib.Path:
    return pathlib.Path(os.environ.get("ROWPACK_BIN") or DEFAULT_BIN)


@pytest.fixture(scope="session")
def rowpack_bin() -> pathlib.Path:
    path = _binary()
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(
            f"rowpack binary not found at {path}: build it with "
            "`swift build -c release --product rowpack` or set ROWPACK_BIN"
        )
    return path


@pytest.fixture(scope="session")
def rp(rowpack_bin) -> Rowpack:
    """Runs `rowpack` subcommands: `rp("info", path, "--json")` → CompletedProcess."""
    return Rowpack(rowpack_bin)


@pytest.fixture
def tmp(tmp_path) -> pathlib.Path:
    """A fresh directory for this test's files."""
    return tmp_path


@pytest.fixture
def rng(request):
    """A numpy Generator seeded from the test's name: reproducible, different per test."""
    import zlib

    import numpy as np

    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))
