"""Live-stream helpers: the one-slot drop-oldest buffer, score smoothing, IoU tracking, latency stats."""
from __future__ import annotations

import threading
import time

import pytest

from deepfake_edge.runtime.profile import machine_info, measure, summarize, time_calls
from deepfake_edge.runtime.stream import LatestFrameBuffer, ScoreSmoother
from deepfake_edge.runtime.tracking import IouTracker, iou


def test_buffer_keeps_only_the_newest_frame_and_counts_drops():
    buf = LatestFrameBuffer()
    for i in range(5):
        buf.put(i)
    assert buf.get(timeout=0.1) == 4
    assert buf.dropped == 4 and buf.put_count == 5
    assert buf.get(timeout=0.05) is None  # empty: times out instead of repeating a frame


def test_buffer_hands_frames_between_threads_without_queueing():
    buf = LatestFrameBuffer()
    got = []

    def consumer():
        while True:
            item = buf.get(timeout=1.0)
            if item is None:
                return
            got.append(item)
            time.sleep(0.005)  # slower than the producer

    t = threading.Thread(target=consumer)
    t.start()
    for i in range(300):
        buf.put(i)
        time.sleep(0.0005)
    time.sleep(0.05)
    buf.close()
    t.join(timeout=3)
    assert not t.is_alive()
    assert got == sorted(got) and got[-1] == 299  # in order, ends on the newest
    assert len(got) + buf.dropped == 300 and buf.dropped > 0


def test_close_wakes_a_waiting_consumer():
    buf = LatestFrameBuffer()
    out = []
    t = threading.Thread(target=lambda: out.append(buf.get(timeout=10)))
    t.start()
    time.sleep(0.05)
    buf.close()
    t.join(timeout=2)
    assert out == [None] and buf.closed


def test_iou_and_tracker_keep_ids_for_moving_faces():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    tr = IouTracker(min_iou=0.3, max_missing=1)
    assert tr.update([(0, 0, 50, 50), (200, 0, 50, 50)]) == [0, 1]
    assert tr.update([(205, 2, 50, 50), (4, 3, 50, 50)]) == [1, 0]  # order swapped, ids follow the faces
    assert tr.update([]) == []
    assert tr.update([]) == []  # missing twice > max_missing: forgotten
    assert tr.update([(4, 3, 50, 50)]) == [2]


def test_smoother_is_an_ema_per_face_and_stops_label_flicker():
    sm = ScoreSmoother(alpha=0.25)
    a, b = (0, 0, 50, 50), (300, 0, 50, 50)
    assert sm.update([a, b], [0.9, 0.1]) == [(0, 0.9), (1, 0.1)]
    (_, va), (_, vb) = sm.update([a, b], [0.1, 0.1])
    assert va == pytest.approx(0.25 * 0.1 + 0.75 * 0.9) and vb == pytest.approx(0.1)
    # A face alternating 0.8 / 0.3 around the 0.5 threshold: raw labels flip, smoothed ones settle.
    sm = ScoreSmoother(alpha=0.2)
    raw = [0.8, 0.3] * 10
    smoothed = [sm.update([a], [s])[0][1] for s in raw]
    labels = ["Fake" if v >= 0.5 else "Real" for v in smoothed[4:]]
    assert len(set(labels)) == 1
    with pytest.raises(ValueError):
        ScoreSmoother(alpha=0.0)


def test_smooth_result_rewrites_probability_and_label():
    from deepfake_edge.runtime.detector import DetectionResult, FaceResult

    sm = ScoreSmoother(alpha=0.5)
    for p, want in ((0.9, 0.9), (0.1, 0.5), (0.1, 0.3)):
        r = DetectionResult([FaceResult((10, 10, 40, 40), p, "x", 0.9)], {}, (100, 100))
        sm.smooth_result(r, threshold=0.5)
        assert r.faces[0].fake_probability == pytest.approx(want)
        assert r.faces[0].label == ("Fake" if want >= 0.5 else "Real")


def test_latency_summary_and_timed_runs():
    s = summarize([float(v) for v in range(1, 101)])
    assert s.runs == 100 and s.p50_ms == pytest.approx(50.5) and s.p95_ms == pytest.approx(95.05)
    assert s.fps == pytest.approx(1000 / 50.5) and s.min_ms == 1.0
    calls = []
    samples = time_calls(lambda: calls.append(1), warmup=2, min_runs=7, min_seconds=0.0)
    assert len(samples) == 7 and len(calls) == 9
    st = measure(lambda: time.sleep(0.002), warmup=1, min_runs=5, min_seconds=0.0)
    assert st.p50_ms >= 2.0
    with pytest.raises(ValueError):
        summarize([])
    info = machine_info()
    assert info["cores"] >= 1 and info["cpu"]


def test_live_session_tracks_faces_and_smooths_their_scores():
    """One object for every stream: the same face keeps its track id and its score is averaged."""
    from deepfake_edge.runtime.contract import ModelContract
    from deepfake_edge.runtime.detector import DetectionResult, FaceResult
    from deepfake_edge.runtime.live import LiveSession

    class Scripted:
        """A detector that returns one face per frame, drifting right, with the given fake scores."""
        contract = ModelContract(threshold=0.5)

        def __init__(self, scores):
            self.scores, self.i = list(scores), 0

        def detect(self, rgb):
            p = self.scores[self.i]
            face = FaceResult((100 + 3 * self.i, 80, 120, 120), p, "Fake" if p >= 0.5 else "Real", 0.9)
            self.i += 1
            return DetectionResult([face], {"total_ms": 1.0}, (640, 480))

    session = LiveSession(Scripted([0.9, 0.1, 0.1]), alpha=0.5)
    frames = [session.process(None) for _ in range(3)]
    assert [f.tracks for f in frames] == [[0], [0], [0]]  # one face, one track
    got = [f.result.faces[0].fake_probability for f in frames]
    assert got == pytest.approx([0.9, 0.5, 0.3])  # exponential average with alpha 0.5
    assert [f.result.faces[0].label for f in frames] == ["Fake", "Fake", "Real"]  # labels follow the smoothed score
    raw = LiveSession(Scripted([0.9, 0.1]), alpha=1.0)
    assert [raw.process(None).result.faces[0].fake_probability for _ in range(2)] == pytest.approx([0.9, 0.1])
    assert session.frames == 3 and session.fps > 0
