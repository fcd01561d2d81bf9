"""Live sources (webcam, stream): bounded latency and steady labels.

`LatestFrameBuffer` holds ONE frame: a producer that is faster than the detector
overwrites the waiting frame instead of queueing it, so what is shown is never more
than one frame old; it counts what it dropped. `ScoreSmoother` keeps an exponential
moving average of each tracked face's fake probability, so a label does not flicker
between Real and Fake from one frame to the next.
"""
from __future__ import annotations

import threading
from typing import Any, Sequence

from deepfake_edge.runtime.tracking import IouTracker


class LatestFrameBuffer:
    """One-slot, drop-oldest, thread-safe frame hand-over between a reader and a worker."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Any = None
        self._has_frame = False
        self._closed = False
        self.put_count = 0
        self.dropped = 0

    def put(self, frame: Any) -> None:
        """Offer a frame; a frame still waiting is dropped (and counted)."""
        with self._cond:
            if self._has_frame:
                self.dropped += 1
            self._frame, self._has_frame = frame, True
            self.put_count += 1
            self._cond.notify()

    def get(self, timeout: float | None = None) -> Any | None:
        """The newest frame, waiting up to `timeout` seconds; None on timeout or once closed and empty."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._has_frame or self._closed, timeout=timeout):
                return None
            if not self._has_frame:
                return None
            frame, self._frame, self._has_frame = self._frame, None, False
            return frame

    def close(self) -> None:
        """Wake every waiting `get`; later `put`s still work but nobody needs to wait."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed


class ScoreSmoother:
    """Per-face exponential moving average of fake probabilities, keyed by IoU track.

    `alpha` is the weight of the newest score (1.0 = no smoothing).
    """

    def __init__(self, alpha: float = 0.3, min_iou: float = 0.3, max_missing: int = 10):
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        self.alpha = alpha
        self.tracker = IouTracker(min_iou=min_iou, max_missing=max_missing)
        self._ema: dict[int, float] = {}

    def update_key(self, key: int, score: float) -> float:
        """Blend `score` into track `key`'s average and return the smoothed value."""
        prev = self._ema.get(key)
        value = float(score) if prev is None else self.alpha * float(score) + (1 - self.alpha) * prev
        self._ema[key] = value
        return value

    def update(self, boxes: Sequence[Sequence[float]], scores: Sequence[float]) -> list[tuple[int, float]]:
        """(track id, smoothed score) for each face of one frame, in the given order."""
        ids = self.tracker.update(list(boxes))
        live = self.tracker.active_ids
        for gone in [k for k in self._ema if k not in live]:
            del self._ema[gone]
        return [(tid, self.update_key(tid, s)) for tid, s in zip(ids, scores)]

    def smooth_result(self, result, threshold: float) -> None:
        """Replace a DetectionResult's probabilities and labels by their smoothed values, in place.

        Labels follow the one rule of `runtime.preprocess.labels_for` at `threshold`.
        """
        self.smooth_tracks(result, threshold)

    def smooth_tracks(self, result, threshold: float) -> list[int]:
        """`smooth_result`, returning each face's track id (in the result's face order)."""
        from deepfake_edge.runtime.preprocess import labels_for

        smoothed = self.update([f.box for f in result.faces], [f.fake_probability for f in result.faces])
        labels = labels_for([value for _, value in smoothed], threshold)
        for face, (_, value), label in zip(result.faces, smoothed, labels):
            face.fake_probability = value
            face.label = label
        return [tid for tid, _ in smoothed]

    def reset(self) -> None:
        self.tracker.reset()
        self._ema.clear()
