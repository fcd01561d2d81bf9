"""The app's cache sweep keeps deleting old files while handlers keep adding new ones."""
from __future__ import annotations

import os
import threading
import time
from types import SimpleNamespace

from deepfake_edge.app.cache_sweep import CacheSweeper


def _fake_blocks(tmp_path, n_old: int, n_new: int):
    files: set[str] = set()
    old_time = time.time() - 3600
    for i in range(n_old + n_new):
        path = tmp_path / f"f{i}.jpg"
        path.write_bytes(b"x")
        if i < n_old:
            os.utime(path, (old_time, old_time))
        files.add(str(path))
    kept = tmp_path / "example.jpg"
    kept.write_bytes(b"x")
    files.add(str(kept))
    component = SimpleNamespace(keep_in_cache={str(kept)})
    return SimpleNamespace(blocks={1: component}, temp_file_sets=[files]), files, kept


def test_old_files_are_deleted_new_and_kept_ones_stay(tmp_path, monkeypatch):
    blocks, files, kept = _fake_blocks(tmp_path, n_old=5, n_new=3)
    real_lstat = os.lstat
    # st_ctime cannot be set from Python: age the five old files by their mtime instead
    monkeypatch.setattr("pathlib.Path.lstat", lambda self: SimpleNamespace(st_ctime=real_lstat(self).st_mtime))
    sweeper = CacheSweeper(blocks, every_s=60, max_age_s=600)
    assert sweeper.sweep(600) == 5
    assert sorted(os.path.basename(f) for f in files) == ["example.jpg", "f5.jpg", "f6.jpg", "f7.jpg"]
    assert sweeper.sweep(None) == 3 and files == {str(kept)} and kept.exists()  # shutdown: all but kept


def test_a_sweep_while_handlers_add_files_never_fails(tmp_path):
    """Gradio's own sweep raised 'Set changed size during iteration' here and never ran again."""
    blocks, files, _ = _fake_blocks(tmp_path, n_old=0, n_new=2000)
    stop, added = threading.Event(), []

    def handler():
        i = 0
        while not stop.is_set():
            path = tmp_path / f"new{i}.jpg"
            path.write_bytes(b"x")
            files.add(str(path))
            added.append(path)
            i += 1

    writer = threading.Thread(target=handler)
    writer.start()
    sweeper = CacheSweeper(blocks, every_s=60, max_age_s=0)
    try:
        deadline = time.time() + 2
        while time.time() < deadline:
            sweeper.sweep(0)  # everything is old enough: delete all it sees
    finally:
        stop.set()
        writer.join()
    assert sweeper.deleted >= 2000 and len(added) > 100
    sweeper.sweep(None)
    assert not files - {f for f in files if "example" in f}


def test_the_schedule_survives_a_failing_sweep(tmp_path):
    blocks, _, _ = _fake_blocks(tmp_path, n_old=0, n_new=1)
    sweeper = CacheSweeper(blocks, every_s=0.05, max_age_s=600)
    calls = []

    def flaky(age):
        calls.append(age)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return 0

    sweeper.sweep = flaky
    sweeper.start()
    time.sleep(0.4)
    sweeper._stop.set()
    assert len(calls) >= 3  # the first failure did not end the schedule
