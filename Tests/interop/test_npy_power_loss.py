"""Power loss during the .npy write paths (`npy-append`, `export --append`, `recover`), from the
write/sync sequence of a real run recorded with strace (Tests/reliability/power_loss.py): every
image, per 512-byte sector and per 4 KiB page, loads in numpy as the old or the new array, never
other rows, never zeros claimed as data, and still does after `rowpack recover`.

Short version (16 mixes per sync interval); long version: `python3 Tests/reliability/power_loss.py`."""

import pathlib
import sys

import numpy as np
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "reliability"))
import power_loss  # noqa: E402


@pytest.mark.parametrize("case", power_loss.CASES, ids=[c.name for c in power_loss.CASES])
def test_every_power_loss_image_loads_as_old_or_new(rowpack_bin, tmp, case):
    results, events = power_loss.run_case(rowpack_bin, case, tmp, (512, 4096), limit=16)
    for sector, (images, recovers, failures) in results.items():
        assert not failures, f"{sector}-byte sectors, {len(failures)} of {images} images: " + "\n".join(failures[:10])
        assert images > 0 and recovers == images
    # The run wrote in place (no rename) and synced between its steps.
    assert not any(e[0] == "replace" for e in events)
    data_offset = np.load(tmp / "d.npy", mmap_mode="r").offset
    header_writes = [e for e in events if e[0] == "write" and e[1] < data_offset]
    if case.command in ("npy-append", "export") and case.boundary is not None:
        # Digits across a sector boundary: the first append takes three one-sector header
        # writes (the second sector, the first, the second again), each synced.
        b = case.boundary
        assert [e[1] for e in header_writes[:3]] == [b, b - 512, b], header_writes
        assert [e[0] for e in events[-6:]] == ["write", "sync"] * 3 or len(case.adds) > 1
        assert all(len(e[2]) <= 512 and e[1] % 512 == 0 for e in header_writes)
    if case.command == "recover":
        assert header_writes == [] and ("truncate", npy_end(tmp / "d.npy")) in events


def npy_end(path):
    arr = np.load(path, mmap_mode="r")
    return arr.offset + arr.nbytes
