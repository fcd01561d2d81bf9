"""Video analysis on a generated clip of a real face: sampling, tracking, verdict, timeline, bad videos."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from deepfake_edge.runtime.backends import open_backend
from deepfake_edge.runtime.detector import Detector
from deepfake_edge.runtime.errors import InputError
from deepfake_edge.runtime.faces import FaceDetector
from deepfake_edge.runtime.video import analyze_video, iter_frames, plot_timeline, sample_step
from tests.facekit import face_model_or_skip, grace_hopper, write_tiny_onnx

N_FRAMES, FPS = 12, 10.0


def write_face_video(path, n=N_FRAMES, blank_from=None):
    """640x480 clip: the Grace Hopper photo shrunk and drifting right by 4 px per frame."""
    face = cv2.resize(grace_hopper(), (256, 300), interpolation=cv2.INTER_AREA)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (640, 480))
    assert writer.isOpened()
    for i in range(n):
        frame = np.full((480, 640, 3), 90, np.uint8)
        if blank_from is None or i < blank_from:
            frame[90:390, 100 + 4 * i:356 + 4 * i] = face
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture(scope="module")
def detector(tmp_path_factory):
    model = write_tiny_onnx(tmp_path_factory.mktemp("m") / "model.onnx")
    backend = open_backend(model)
    with Detector(backend, FaceDetector(face_model_or_skip(), rule=backend.contract.crop_rule)) as det:
        yield det


def test_sampling_every_nth_frame_or_n_per_second(tmp_path):
    video = write_face_video(tmp_path / "clip.mp4")
    assert [i for i, _, _ in iter_frames(video, every=3)] == [0, 3, 6, 9]
    assert [i for i, _, _ in iter_frames(video, fps=5)] == [0, 2, 4, 6, 8, 10]
    idx, t, rgb = next(iter_frames(video))
    assert rgb.shape == (480, 640, 3) and t == 0.0
    assert sample_step(30.0, fps=10) == 3
    with pytest.raises(InputError):
        sample_step(30.0, every=0)
    with pytest.raises(InputError):
        sample_step(30.0, every=2, fps=5)


def test_video_verdict_tracks_one_face_and_matches_the_per_frame_scores(tmp_path, detector):
    video = write_face_video(tmp_path / "clip.mp4")
    result = analyze_video(detector, video, every=2, top_k=3)
    assert len(result.frames) == 6
    assert all(len(fr.faces) == 1 for fr in result.frames)
    assert {f["track"] for fr in result.frames for f in fr.faces} == {0}  # one face, one track
    xs = [fr.faces[0]["box"][0] for fr in result.frames]
    assert xs == sorted(xs) and xs[-1] - xs[0] > 20  # the box follows the drifting face
    scores = np.array([fr.faces[0]["fake_probability"] for fr in result.frames])
    assert result.mean_fake == pytest.approx(scores.mean())
    assert result.topk_fake == pytest.approx(np.sort(scores)[-3:].mean())
    assert result.label == ("Fake" if scores.mean() >= detector.contract.threshold else "Real")
    timeline = result.timeline
    assert [row["frame"] for row in timeline] == [0, 2, 4, 6, 8, 10]
    assert timeline[1]["time_s"] == pytest.approx(0.2)
    summary = result.summary()
    assert summary["frames_sampled"] == 6 and summary["faces"] == 6 and summary["tracks"]["0"]["frames"] == 6


def test_frames_without_a_face_are_counted_and_plotted(tmp_path, detector):
    video = write_face_video(tmp_path / "clip.mp4", blank_from=6)
    result = analyze_video(detector, video, annotated_out=tmp_path / "out" / "annotated.mp4")
    assert [len(fr.faces) for fr in result.frames] == [1] * 6 + [0] * 6
    assert result.timeline[-1]["fake_probability"] is None
    png = plot_timeline(result, tmp_path / "out" / "timeline.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    written = list(iter_frames(tmp_path / "out" / "annotated.mp4"))
    assert len(written) == 12 and written[0][2].shape == (480, 640, 3)


def test_zero_frame_video_is_a_clear_error(tmp_path, detector):
    empty = tmp_path / "empty.mp4"
    writer = cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (64, 64))
    writer.release()
    with pytest.raises(InputError) as err:
        analyze_video(detector, empty)
    assert str(empty) in str(err.value) and "\n" not in str(err.value)
    zero = tmp_path / "zero.mp4"
    zero.write_bytes(b"")
    with pytest.raises(InputError, match="zero.mp4: empty video file"):
        analyze_video(detector, zero)


def test_corrupt_video_is_a_clear_error(tmp_path, detector):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 20_000, dtype=np.uint8).tobytes())
    with pytest.raises(InputError) as err:
        analyze_video(detector, junk)
    assert str(junk) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(InputError, match="missing.mp4: file not found"):
        analyze_video(detector, tmp_path / "missing.mp4")


def test_a_face_seen_on_too_few_frames_gets_no_confident_verdict(tmp_path, detector):
    """A detection on 2 of 24 sampled frames (like a detector firing on non-face content) is no whole-video verdict."""
    face = cv2.resize(grace_hopper(), (256, 300), interpolation=cv2.INTER_AREA)
    path = tmp_path / "flash.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (640, 480))
    for i in range(24):
        frame = np.full((480, 640, 3), 90, np.uint8)
        if i in (10, 11):
            frame[90:390, 100:356] = face
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    result = analyze_video(detector, path)
    assert sum(len(fr.faces) for fr in result.frames) == 2  # the detector did fire
    assert result.label is None and result.mean_fake is None
    summary = result.summary()
    assert summary["rejected_tracks"] == 1 and summary["faces"] == 0
    (track,) = result.tracks.values()
    assert track["kept"] is False and "seen in 2 of 24" in track["why"]
    steady = analyze_video(detector, write_face_video(tmp_path / "steady.mp4", n=24))
    assert steady.label in ("Real", "Fake") and steady.summary()["rejected_tracks"] == 0
