"""Gradio's cache of result and upload files, swept while handlers keep adding to it.

A live stream leaves ~10 annotated JPEGs a second in Gradio's cache, so the app must
delete old ones. Gradio's own `delete_cache=(frequency, age)` iterates each component's
file set in a worker thread while request handlers add to the same set; under load the
sweep raises "Set changed size during iteration" (gradio 6.31, `route_utils.
delete_files_created_by_app`), its scheduled task dies on the first such error, and from
then on nothing is deleted: the disk fills and the sets grow for as long as the server
runs (benchmarks/results/server_memory.md).

`CacheSweeper` does the same job safely: it copies each set before walking it (a copy of
a built-in set is taken whole under the GIL), deletes files older than `max_age_s` that
no component keeps, removes them from the live set with one atomic update, and never
lets one bad file or one error end the schedule. `close()` stops it and deletes
everything the app cached, as Gradio does at shutdown.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)


class CacheSweeper:
    """Every `every_s` seconds, delete the app's cached files older than `max_age_s`."""

    def __init__(self, blocks, every_s: float, max_age_s: float):
        self.blocks = blocks
        self.every_s = float(every_s)
        self.max_age_s = float(max_age_s)
        self.deleted = 0  # files deleted so far (all sweeps)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "CacheSweeper":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="gradio-cache-sweep", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.sweep(self.max_age_s)
            except Exception as exc:  # a sweep that fails must not end the schedule
                log.warning("cache sweep failed (%s: %s); trying again in %.0f s", type(exc).__name__, exc,
                            self.every_s)

    def sweep(self, max_age_s: float | None) -> int:
        """Delete cached files older than `max_age_s` (None: all); returns how many were deleted."""
        keep: set = set()
        for component in list(self.blocks.blocks.values()):
            keep.update(getattr(component, "keep_in_cache", ()) or ())
        now, deleted = time.time(), 0
        for file_set in list(getattr(self.blocks, "temp_file_sets", ())):
            removed = []
            for name in tuple(file_set):  # a snapshot: handlers may add while this walks it
                if name in keep:
                    continue
                try:
                    if max_age_s is None or now - Path(name).lstat().st_ctime > max_age_s:
                        os.remove(name)
                        removed.append(name)
                except FileNotFoundError:
                    removed.append(name)  # gone already: forget it too
                except OSError as exc:
                    log.warning("%s: cannot delete a cached file (%s)", name, exc)
            file_set.difference_update(removed)
            deleted += len(removed)
        self.deleted += deleted
        return deleted

    def close(self) -> None:
        """Stop sweeping and delete every file the app cached."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            self.sweep(None)
        except Exception as exc:
            log.warning("cache clean-up at shutdown failed (%s: %s)", type(exc).__name__, exc)
