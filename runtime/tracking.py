"""Greedy IoU tracking of face boxes across frames, shared by video analysis and live streams.

A face keeps its track id while its box overlaps the track's last box by at least
`min_iou`; a track unseen for more than `max_missing` updates is forgotten. This is
enough to aggregate scores per face in a video and to smooth labels per face in a
webcam stream, without another dependency.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

Box = Sequence[float]  # (x, y, w, h)


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ax0, ay0, aw, ah = a[:4]
    bx0, by0, bw, bh = b[:4]
    ix = max(0.0, min(ax0 + aw, bx0 + bw) - max(ax0, bx0))
    iy = max(0.0, min(ay0 + ah, by0 + bh) - max(ay0, by0))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


@dataclass
class _Track:
    track_id: int
    box: tuple
    missing: int = 0


class IouTracker:
    """Assign stable integer track ids to the boxes of successive frames."""

    def __init__(self, min_iou: float = 0.3, max_missing: int = 5):
        self.min_iou = min_iou
        self.max_missing = max_missing
        self._tracks: list[_Track] = []
        self._next_id = 0

    def update(self, boxes: Sequence[Box]) -> list[int]:
        """Track ids for `boxes`, in the same order (best IoU pairs matched first)."""
        pairs = sorted(
            ((iou(t.box, b), ti, bi) for ti, t in enumerate(self._tracks) for bi, b in enumerate(boxes)),
            reverse=True,
        )
        ids: list[int | None] = [None] * len(boxes)
        used_tracks: set[int] = set()
        for score, ti, bi in pairs:
            if score < self.min_iou:
                break
            if ti in used_tracks or ids[bi] is not None:
                continue
            used_tracks.add(ti)
            ids[bi] = self._tracks[ti].track_id
            self._tracks[ti].box = tuple(boxes[bi][:4])
            self._tracks[ti].missing = 0
        for ti, t in enumerate(self._tracks):
            if ti not in used_tracks:
                t.missing += 1
        self._tracks = [t for t in self._tracks if t.missing <= self.max_missing]
        for bi, b in enumerate(boxes):
            if ids[bi] is None:
                ids[bi] = self._next_id
                self._tracks.append(_Track(self._next_id, tuple(b[:4])))
                self._next_id += 1
        return [int(i) for i in ids]

    @property
    def active_ids(self) -> set[int]:
        """Ids of the tracks still remembered."""
        return {t.track_id for t in self._tracks}

    def reset(self) -> None:
        self._tracks.clear()
        self._next_id = 0
