"""A worker gives the heap's free pages back after a request: what a page's buffers freed
does not stay resident (glibc keeps it otherwise)."""

from __future__ import annotations

import subprocess
import sys

import pytest

# a fresh interpreter, so that what this test frees is the only free heap there is
SCRIPT = """
import numpy as np
from ocrgate.workers import process
process.release_free_memory()                   # the baseline, as after a worker's first answer
blocks = [np.ones(100_000, np.uint8) for _ in range(3000)]   # 300 MB of heap chunks
grown = process.rss_mb()
del blocks[:-1]                                 # freed, but the last chunk pins the heap top
kept = process.rss_mb()
after = process.release_free_memory()
print(grown, kept, after)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc_trim")
def test_freed_heap_is_returned() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         check=True, encoding="utf-8").stdout.split()
    grown, kept, after = map(float, out)
    assert kept > grown - 50  # freed but still resident: what the trim is for
    assert after < kept - 200
