"""bench/memory_planner.py's measuring: shared libraries' pages stay out of the deltas."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tests.bench.helpers import load_bench

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux's /proc")


def _resident_kib(starts: set[int]) -> tuple[int, int]:
    """Size and Rss (kB) summed over the /proc/self/smaps entries starting at ``starts``."""
    size = rss = 0
    current = False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = re.match(r"^([0-9a-f]+)-[0-9a-f]+ ", line)
        if head:
            current = int(head.group(1), 16) in starts
        elif current and line.startswith("Size:"):
            size += int(line.split()[1])
        elif current and line.startswith("Rss:"):
            rss += int(line.split()[1])
    return size, rss


def _rss_file() -> int:
    return int(re.search(r"RssFile:\s+(\d+) kB", Path("/proc/self/status").read_text()).group(1))


def test_map_libraries_makes_every_page_of_the_loaded_libraries_resident():
    import torch

    bench = load_bench("memory_planner")
    if not bench.map_libraries():
        pytest.skip("madvise(MADV_POPULATE_READ) needs Linux 5.14+")
    mappings = bench.library_mappings()
    assert any("libtorch_cpu" in path for _, _, path in mappings)
    size, rss = _resident_kib({start for start, _, _ in mappings})
    assert size > 100 * 1024 and rss == size
    # Code not run before (FFT, an eigen-solver) then maps no new library pages.
    before = _rss_file()
    torch.linalg.eigh(torch.eye(8) + torch.fft.rfft(torch.randn(8, 14)).real)
    assert _rss_file() - before < 256  # kB: a few pages of a file opened meanwhile, not code
