"""A memory-bounded cache of decoded face crops at the model's input size.

Training reads every image once per epoch. Decoding a JPEG and resizing it costs more
CPU than augmenting it (benchmarks/results/train_throughput.md: the pipeline delivers
more images per second augmenting cached crops than decoding without augmenting), and on
a laptop's few cores the input pipeline competes with the training step itself, so every
decode saved is time for training steps. Only the
deterministic part is cached (`read_rgb` -> `resize_crop`, uint8): augmentation still
draws fresh randomness every epoch, so cached and uncached training see the same pixels.

The cache holds at most `max_bytes`: once full it stops adding and the remaining images
are decoded every epoch as before, so a 140k-image folder trains as it did, just with
part of it cached. Entries are never evicted: with a shuffled epoch every image is equally
likely next, so keeping the first ones costs nothing and avoids churn.
"""
from __future__ import annotations

import logging
import threading

import numpy as np

log = logging.getLogger(__name__)

MB = 1024 * 1024


class CropCache:
    """path -> uint8 crop, up to `max_mb` megabytes; safe to share between decoder threads."""

    def __init__(self, max_mb: float):
        if max_mb < 0:
            raise ValueError(f"crop cache size must be >= 0 MB, got {max_mb}")
        self.max_bytes = int(max_mb * MB)
        self._crops: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()
        self.bytes = 0
        self.hits = 0
        self.full = False

    def get(self, key: str) -> np.ndarray | None:
        crop = self._crops.get(key)
        if crop is not None:
            self.hits += 1  # a statistic: a lost increment between threads does not matter
        return crop

    def put(self, key: str, crop: np.ndarray) -> None:
        """Keep a read-only copy of `crop` if it fits in what is left of the budget."""
        with self._lock:
            if key in self._crops or self.full:
                return
            if self.bytes + crop.nbytes > self.max_bytes:
                self.full = True
                log.info("crop cache full at %d crops (%.0f MB); the rest are decoded every epoch "
                         "(raise --cache-mb to keep more)", len(self._crops), self.bytes / MB)
                return
            kept = np.array(crop, np.uint8)  # a copy: augmentation must never write into the cache
            kept.flags.writeable = False
            self._crops[key] = kept
            self.bytes += kept.nbytes

    def __len__(self) -> int:
        return len(self._crops)

    def summary(self) -> str:
        return f"{len(self)} crops, {self.bytes / MB:.0f} of {self.max_bytes / MB:.0f} MB, {self.hits} hits"
