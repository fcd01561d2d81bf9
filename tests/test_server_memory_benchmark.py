"""benchmarks/server_memory.py's measurements: the RSS split, and which Python lines grew."""
from __future__ import annotations

import sys
import tracemalloc

import pytest

from tests.benchmark_scripts import load_benchmark


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_anonymous_memory_is_what_a_growing_buffer_adds():
    sm = load_benchmark("server_memory")
    rss, anon, mapped = sm.memory_mb()
    assert abs(rss - anon - mapped) < 2 and anon > 0 and mapped > 0
    held = bytearray(64 << 20)
    held[::4096] = b"\x01" * len(held[::4096])  # touch every page so it is resident
    _, anon_after, mapped_after = sm.memory_mb()
    assert 60 < anon_after - anon < 72 and abs(mapped_after - mapped) < 8
    del held


def test_python_growth_names_the_line_that_allocated():
    sm = load_benchmark("server_memory")
    tracemalloc.start(1)
    try:
        before = tracemalloc.take_snapshot()
        kept = [bytes(1000) for _ in range(3000)]  # ~3 MB held by this line
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown, where = sm.python_growth(before, after)[0]
    assert where.startswith("test_server_memory_benchmark.py:") and grown > 3_000_000
    assert len(kept) == 3000


def test_the_trend_tells_a_leak_from_a_fluctuation():
    sm = load_benchmark("server_memory")

    def run(anonymous):  # (seconds, RSS, anonymous, file-backed, frames, cached files) every 10 s
        return [(10.0 * i, a + 180, a, 180, 10 * i, 0) for i, a in enumerate(anonymous)]
    leak = sm.second_half_summary(run([200 + 2 * i for i in range(61)]), 600)
    assert "first minute 266 MB, over its last minute 314 MB (+48)" in leak
    peaks = sm.second_half_summary(run([250 + (40 if i % 9 == 0 else 0) for i in range(61)]), 600)
    assert "anonymous 250-290 MB" in peaks and "first minute 256 MB, over its last minute 256 MB (+0)" in peaks
    assert "1.0 frames/s served" in peaks


def test_result_files_are_read_back_and_drawn_side_by_side(tmp_path):
    sm = load_benchmark("server_memory")
    result = tmp_path / "run.md"
    result.write_text("# title\n\n- malloc arenas: the app default (2)\n\n| seconds | RSS |\n|---:|---:|\n"
                      "| 0 | 343 | 173 | 171 | 0 | 0 |\n| 10 | 384 | 202 | 183 | 77 | 236 |\n")
    label, rows = sm.read_samples(result)
    assert label == "malloc arenas: the app default (2)" and rows[1] == (10, 384, 202, 183, 77, 236)
    png = sm.plot_runs([result, result], tmp_path / "memory.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    empty = tmp_path / "notes.md"
    empty.write_text("# no table here\n")
    with pytest.raises(ValueError, match="notes.md: no sample table"):
        sm.read_samples(empty)
