"""A live session: detection, face tracking and score smoothing for one stream of frames.

What the webcam window (`detect --webcam`), a browser tab of the web app and the video
path all do with consecutive frames, in one object (as MediaPipe Tasks gives a stream its
own mode): each frame goes through the detector, its faces are matched to the previous
frames' by box overlap (`runtime.tracking.IouTracker`), and each track's fake probability
is smoothed over time (`runtime.stream.ScoreSmoother`; `alpha=1` keeps the raw scores, as
the video verdict wants) so labels do not flicker. It also keeps the stream's frame rate.

    >>> session = LiveSession(detector)
    >>> frame = session.process(rgb)       # LiveFrame: the smoothed DetectionResult + track ids
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from deepfake_edge.runtime.stream import ScoreSmoother


@dataclass
class LiveFrame:
    result: object  # runtime.detector.DetectionResult, probabilities and labels smoothed per track
    tracks: list[int]  # track id of each face, in result.faces order


class LiveSession:
    """One stream's state over a detector (anything with `detect(rgb)` and `contract`)."""

    def __init__(self, detector, *, alpha: float = 0.3, min_iou: float = 0.3, max_missing: int = 10):
        self.detector = detector
        self.smoother = ScoreSmoother(alpha=alpha, min_iou=min_iou, max_missing=max_missing)
        self.frames = 0
        self._arrivals: deque[float] = deque(maxlen=30)

    def process(self, rgb) -> LiveFrame:
        """Detect, track and smooth one RGB frame."""
        result = self.detector.detect(rgb)
        whole = getattr(result, "whole_image", False)
        tracks = [-1] * len(result.faces) if whole else self.smoother.smooth_tracks(result, self.threshold)
        self.frames += 1
        self._arrivals.append(time.perf_counter())
        return LiveFrame(result, tracks)

    @property
    def threshold(self) -> float:
        return float(self.detector.contract.threshold)

    @property
    def fps(self) -> float:
        """Frames processed per second over the last 30 frames (0 before two frames)."""
        if len(self._arrivals) < 2:
            return 0.0
        span = self._arrivals[-1] - self._arrivals[0]
        return (len(self._arrivals) - 1) / span if span > 0 else 0.0

    def reset(self) -> None:
        self.smoother.reset()
        self._arrivals.clear()
        self.frames = 0
