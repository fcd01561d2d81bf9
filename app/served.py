"""Files the web app hands to Gradio (annotated frames, plots): unique, complete, and removed in time.

Returning a numpy image lets Gradio name the cached file after a hash of its bytes and
write it in place, so identical frames from many clients write the same file while
others are downloading it (a truncated download), and every plot the app draws in a new
temporary folder stays on disk for good. Here each result is encoded once, written under
a unique name and renamed into place (a reader never sees half a file), and handed to
Gradio as a path, which Gradio copies into its own cache with an atomic rename. Only
the newest `keep` files are kept: by the time a file is evicted Gradio has long copied
it, and its cache copy is swept by the app's `CacheSweeper` (app/cache_sweep.py).
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import uuid
from collections import deque
from pathlib import Path

import numpy as np


class ServedFiles:
    """A bounded folder of result files; thread-safe (Gradio runs handlers on several threads)."""

    def __init__(self, keep: int = 256, root: str | Path | None = None):
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="deepfake-edge-served-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.keep = keep
        self._files: deque[Path] = deque()
        self._lock = threading.Lock()

    def path(self, stem: str, suffix: str) -> Path:
        """A fresh, unique path to write a result to (call `add` once it is written)."""
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in stem)[:60] or "result"
        return self.root / f"{safe}-{uuid.uuid4().hex[:12]}{suffix}"

    def add(self, path: Path) -> str:
        """Track a written file; evict the oldest beyond `keep`. Returns the path as a string."""
        with self._lock:
            self._files.append(Path(path))
            while len(self._files) > self.keep:
                self._files.popleft().unlink(missing_ok=True)
        return str(path)

    def image(self, rgb: np.ndarray, stem: str = "annotated", quality: int = 90) -> str:
        """`rgb` encoded as JPEG under a unique name, written atomically."""
        import cv2

        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise RuntimeError("OpenCV could not encode the annotated image")
        target = self.path(stem, ".jpg")
        partial = target.with_name(target.name + ".partial")
        partial.write_bytes(buf.tobytes())
        os.replace(partial, target)
        return self.add(target)

    def __len__(self) -> int:
        return len(self._files)

    def close(self) -> None:
        with self._lock:
            self._files.clear()
            shutil.rmtree(self.root, ignore_errors=True)
