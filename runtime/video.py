"""Video files: sample frames, classify faces, track them, and give a video verdict.

Frames are sampled every Nth frame or N per second. Each sampled frame goes through
`Detector.detect`; faces are linked across frames by IoU tracks. The verdict reports
the mean fake probability over all sampled faces and the mean of the top-k scores (a
robust aggregate for videos where only some frames are manipulated); the label comes
from `verdict_by` ("mean" by default) against the contract's threshold. The per-frame
timeline is data (`VideoResult.timeline`) and a PNG (`plot_timeline`).
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from deepfake_edge.runtime.errors import InputError

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"})


def is_video_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


@dataclass
class VideoInfo:
    path: str
    fps: float
    frame_count: int  # as the container reports it (may be 0 or wrong for some streams)
    width: int
    height: int


MAX_VIDEO_BYTES = 8 * 1024 ** 3  # 8 GB: larger files are refused rather than scanned


def open_video(path: str | Path):
    """An opened cv2.VideoCapture and its info; InputError naming the file if it cannot be opened."""
    import cv2

    from deepfake_edge.runtime.io import check_regular_file

    path = Path(path)
    # Regular files only: OpenCV blocks forever on a FIFO and reads a device without end.
    check_regular_file(path, "video", max_bytes=MAX_VIDEO_BYTES)
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise InputError(f"{path}: cannot open as a video (unsupported or corrupt container)")
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    info = VideoInfo(str(path), fps if math.isfinite(fps) and fps > 0 else 0.0,
                     int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0),
                     int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0))
    return cap, info


def sample_step(video_fps: float, every: int | None = None, fps: float | None = None) -> int:
    """Keep one frame in `step`: `every` N frames, or about `fps` per second of video."""
    if every is not None and fps is not None:
        raise InputError("choose either every N frames or N frames per second, not both")
    if every is not None:
        if every < 1:
            raise InputError(f"--every must be at least 1, got {every}")
        return int(every)
    if fps is not None:
        if fps <= 0:
            raise InputError(f"--fps must be positive, got {fps}")
        return max(1, int(round((video_fps or 30.0) / fps)))
    return 1


def iter_frames(path: str | Path, *, every: int | None = None, fps: float | None = None
                ) -> Iterator[tuple[int, float, np.ndarray]]:
    """(frame index, time in s, RGB frame) of the sampled frames; InputError if none decode."""
    import cv2

    cap, info = open_video(path)
    step = sample_step(info.fps, every, fps)
    index = decoded = 0
    try:
        while True:
            ok = cap.grab()
            if not ok:
                break
            if index % step == 0:
                ok, bgr = cap.retrieve()
                if ok and bgr is not None:
                    decoded += 1
                    t = index / info.fps if info.fps else float(index)
                    yield index, t, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            index += 1
    finally:
        cap.release()
    if decoded == 0:
        raise InputError(f"{path}: no video frames could be decoded (zero-frame or corrupt stream)")


@dataclass
class FrameRecord:
    index: int
    time_s: float
    faces: list[dict]  # each: track, box [x, y, w, h], fake_probability, label
    no_face: bool

    @property
    def max_fake(self) -> float | None:
        return max((f["fake_probability"] for f in self.faces), default=None)


# A face track counts toward the whole-video verdict only when it looks like a real face
# that stays in view: seen in at least this share of the sampled frames (and in at least
# two of them), with a mean detector score of at least MIN_TRACK_FACE_SCORE. A detector
# firing on a few frames of non-face content (a poster, a pattern, motion blur) would
# otherwise decide the verdict on its own.
MIN_TRACK_SHARE = 0.1
MIN_TRACK_FRAMES = 2
MIN_TRACK_FACE_SCORE = 0.6


def judge_tracks(tracks: dict[int, dict], frames_sampled: int) -> dict[int, dict]:
    """Mark each track kept or rejected (with the reason) by its length and face score."""
    need = max(MIN_TRACK_FRAMES, int(np.ceil(MIN_TRACK_SHARE * frames_sampled)))
    need = min(need, max(1, frames_sampled))
    for tid, t in tracks.items():
        if tid < 0:  # the whole image (--no-face whole): no detector involved
            t.update(kept=True, why=None)
        elif t["frames"] < need:
            t.update(kept=False, why=f"seen in {t['frames']} of {frames_sampled} sampled frames (needs {need})")
        elif t["mean_face_score"] < MIN_TRACK_FACE_SCORE:
            t.update(kept=False, why=f"mean face score {t['mean_face_score']:.2f} < {MIN_TRACK_FACE_SCORE}")
        else:
            t.update(kept=True, why=None)
    return tracks


@dataclass
class VideoResult:
    path: str
    info: VideoInfo
    frames: list[FrameRecord]
    threshold: float
    top_k: int
    verdict_by: str = "mean"
    tracks: dict[int, dict] = field(default_factory=dict)

    @property
    def kept_tracks(self) -> set[int]:
        """Tracks the verdict is made from (all of them when tracks were not judged)."""
        return {tid for tid, t in self.tracks.items() if t.get("kept", True)}

    @property
    def scores(self) -> np.ndarray:
        """Fake probabilities of the faces in kept tracks (spurious detections left out)."""
        kept = self.kept_tracks
        return np.asarray([f["fake_probability"] for fr in self.frames for f in fr.faces if f["track"] in kept],
                          dtype=np.float64)

    @property
    def mean_fake(self) -> float | None:
        s = self.scores
        return float(s.mean()) if s.size else None

    @property
    def topk_fake(self) -> float | None:
        s = np.sort(self.scores)[::-1]
        return float(s[: self.top_k].mean()) if s.size else None

    @property
    def label(self) -> str | None:
        value = self.mean_fake if self.verdict_by == "mean" else self.topk_fake
        if value is None:
            return None
        from deepfake_edge.runtime.preprocess import labels_for

        return labels_for([value], self.threshold)[0]

    @property
    def timeline(self) -> list[dict]:
        """One row per sampled frame: index, time, highest fake probability (None without face), faces."""
        return [{"frame": fr.index, "time_s": round(fr.time_s, 4), "fake_probability": fr.max_fake,
                 "faces": len(fr.faces)} for fr in self.frames]

    def summary(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "verdict_by": self.verdict_by,
            "mean_fake_probability": self.mean_fake,
            "topk_fake_probability": self.topk_fake,
            "top_k": self.top_k,
            "threshold": self.threshold,
            "frames_sampled": len(self.frames),
            "frames_with_faces": sum(1 for fr in self.frames if fr.faces),
            "faces": int(self.scores.size),
            "rejected_tracks": sum(1 for t in self.tracks.values() if not t.get("kept", True)),
            "tracks": {str(k): v for k, v in self.tracks.items()},
            "fps": self.info.fps,
            "size": [self.info.width, self.info.height],
        }

    def to_dict(self) -> dict[str, Any]:
        d = self.summary()
        d["timeline"] = self.timeline
        return d


def analyze_video(detector, path: str | Path, *, every: int | None = None, fps: float | None = None,
                  top_k: int = 5, verdict_by: str = "mean", annotated_out: str | Path | None = None,
                  progress: bool = False) -> VideoResult:
    """Run `detector` on the sampled frames of a video; optionally write an annotated copy."""
    if verdict_by not in ("mean", "topk"):
        raise InputError(f"verdict_by must be 'mean' or 'topk', got {verdict_by!r}")
    cap, info = open_video(path)
    cap.release()
    from deepfake_edge.runtime.live import LiveSession

    # The live path's tracking, without smoothing: the verdict averages each track's raw scores.
    session = LiveSession(detector, alpha=1.0, min_iou=0.3, max_missing=max(2, int(info.fps or 10)))
    frames: list[FrameRecord] = []
    track_scores: dict[int, list[float]] = {}
    writer = None
    iterator: Any = iter_frames(path, every=every, fps=fps)
    if progress:
        from tqdm import tqdm

        step = sample_step(info.fps, every, fps)
        iterator = tqdm(iterator, total=(info.frame_count // step) or None, desc=Path(path).name, unit="frame")
    try:
        for index, t, rgb in iterator:
            live = session.process(rgb)
            result, ids = live.result, live.tracks
            faces = []
            for tid, face in zip(ids, result.faces):
                faces.append({"track": tid, "box": list(face.box), "fake_probability": face.fake_probability,
                              "label": face.label, "face_score": face.face_score})
                track_scores.setdefault(tid, []).append((face.fake_probability, face.face_score))
            frames.append(FrameRecord(index, t, faces, result.no_face))
            if annotated_out is not None:
                writer = writer or _open_writer(annotated_out, rgb.shape, info.fps, sample_step(info.fps, every, fps))
                _write_frame(writer, rgb, result)
    finally:
        if writer is not None:
            writer.release()
    tracks = {tid: {"frames": len(s), "mean_fake_probability": float(np.mean([p for p, _ in s])),
                    "mean_face_score": float(np.mean([q for _, q in s]))} for tid, s in track_scores.items()}
    judge_tracks(tracks, len(frames))
    return VideoResult(str(path), info, frames, detector.contract.threshold, max(1, int(top_k)), verdict_by, tracks)


def _open_writer(out: str | Path, shape, video_fps: float, step: int):
    import cv2

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fps = max(1.0, (video_fps or 10.0) / step)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (shape[1], shape[0]))
    if not writer.isOpened():
        raise InputError(f"{out}: cannot write a video here (OpenCV VideoWriter failed)")
    return writer


def _write_frame(writer, rgb: np.ndarray, result) -> None:
    import cv2

    from deepfake_edge.runtime.annotate import annotate

    writer.write(cv2.cvtColor(annotate(rgb, result), cv2.COLOR_RGB2BGR))


def plot_timeline(result: VideoResult, out_png: str | Path) -> Path:
    """Fake probability per sampled frame (one line per track) against time, with the threshold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(8, 3.2), dpi=100)
    series: dict[int, tuple[list[float], list[float]]] = {}
    for fr in result.frames:
        for f in fr.faces:
            xs, ys = series.setdefault(f["track"], ([], []))
            xs.append(fr.time_s)
            ys.append(f["fake_probability"])
    for tid, (xs, ys) in sorted(series.items()):
        ax.plot(xs, ys, marker="o", ms=3, lw=1.2, label="whole image" if tid < 0 else f"face {tid}")
    no_face_t = [fr.time_s for fr in result.frames if not fr.faces]
    if no_face_t:
        ax.scatter(no_face_t, [0.0] * len(no_face_t), marker="x", color="grey", label="no face")
    ax.axhline(result.threshold, color="red", ls="--", lw=1, label=f"threshold {result.threshold:.2f}")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("time (s)" if result.info.fps else "frame")
    ax.set_ylabel("fake probability")
    verdict = result.label or "no face"
    mean = f"{result.mean_fake:.2f}" if result.mean_fake is not None else "-"
    topk = f"{result.topk_fake:.2f}" if result.topk_fake is not None else "-"
    ax.set_title(f"{Path(result.path).name}: {verdict} (mean {mean}, top-{result.top_k} {topk})", fontsize=10)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out_png)
    plt.close(fig)
    return out_png
