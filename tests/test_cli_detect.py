"""`deepfake-edge detect --json` / `prepare` / `face-model`: the command-line contracts."""
from __future__ import annotations

import json
import time

import cv2
import numpy as np
import pytest

from deepfake_edge.app import cli
from tests.facekit import face_model_or_skip, grace_hopper, write_tiny_onnx


@pytest.fixture()
def only(monkeypatch):
    """Build the CLI with just the commands under test (others are tested in their own files)."""
    def use(*names):
        monkeypatch.setattr(cli, "COMMANDS", names)
    return use


@pytest.fixture()
def inputs(tmp_path):
    face_model_or_skip()
    d = tmp_path / "in"
    d.mkdir()
    cv2.imwrite(str(d / "face.jpg"), cv2.cvtColor(grace_hopper(), cv2.COLOR_RGB2BGR))
    yy, xx = np.mgrid[0:120, 0:160]
    cv2.imwrite(str(d / "noface.png"), np.stack([xx, yy, xx * 0 + 90], 2).astype(np.uint8))
    (d / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return d


def test_json_lists_every_input_and_exits_nonzero_after_all(tmp_path, inputs, only, capsys):
    only("detect")
    model = write_tiny_onnx(tmp_path / "model.onnx")
    missing = tmp_path / "missing.png"
    rc = cli.main(["detect", str(inputs / "broken.jpg"), str(inputs / "face.jpg"), str(missing),
                   str(inputs / "noface.png"), "--model", str(model), "--json", "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    doc = json.loads(out)  # stdout is exactly one JSON document
    assert rc != 0
    assert [e["path"] for e in doc] == [str(inputs / "broken.jpg"), str(inputs / "face.jpg"), str(missing),
                                        str(inputs / "noface.png")]
    broken, face, miss, noface = doc
    assert "broken.jpg" in broken["error"] and "\n" not in broken["error"]
    assert "not found" in miss["error"]
    assert len(face["faces"]) == 1
    f = face["faces"][0]
    x, y, w, h = f["box"]
    assert abs(x + w / 2 - 268) < 25 and abs(y + h / 2 - 243) < 25
    assert f["label"] in ("Real", "Fake") and 0.0 <= f["fake_probability"] <= 1.0
    assert f["label"] == ("Fake" if f["fake_probability"] >= 0.5 else "Real")
    assert noface["faces"] == [] and noface["no_face"] is True
    assert (tmp_path / "out" / "face.annotated.png").is_file()


def test_folder_input_all_good_exits_zero_and_no_face_whole(tmp_path, inputs, only, capsys):
    only("detect")
    (inputs / "broken.jpg").unlink()
    model = write_tiny_onnx(tmp_path / "model.onnx")
    rc = cli.main(["detect", str(inputs), "--model", str(model), "--json", "--no-face", "whole"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and len(doc) == 2
    by_name = {e["path"].rsplit("/", 1)[-1]: e for e in doc}
    assert by_name["noface.png"]["whole_image"] is True and by_name["noface.png"]["faces"][0]["box"] == [0, 0, 160, 120]


def test_video_entry_has_a_summary(tmp_path, only, capsys):
    only("detect")
    face_model_or_skip()
    from tests.test_video import write_face_video

    video = write_face_video(tmp_path / "clip.mp4")
    model = write_tiny_onnx(tmp_path / "model.onnx")
    rc = cli.main(["detect", str(video), "--model", str(model), "--json", "--every", "4", "--out", str(tmp_path / "o")])
    (entry,) = json.loads(capsys.readouterr().out)
    assert rc == 0
    v = entry["video"]
    assert v["frames_sampled"] == 3 and v["faces"] == 3 and len(v["timeline"]) == 3
    assert v["label"] in ("Real", "Fake") and len(entry["faces"]) == 1
    assert (tmp_path / "o" / "clip.timeline.png").is_file() and (tmp_path / "o" / "clip.annotated.mp4").is_file()


def test_bad_model_is_one_error_line_exit_2(tmp_path, only, capsys):
    only("detect")
    rc = cli.main(["detect", "x.jpg", "--model", str(tmp_path / "nope.onnx")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("deepfake-edge detect: error:") and "nope.onnx" in err and "\n" not in err


def test_webcam_without_display_is_a_clear_error(tmp_path, only, capsys, monkeypatch):
    only("detect")
    face_model_or_skip()
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    rc = cli.main(["detect", "--webcam", "0", "--model", str(write_tiny_onnx(tmp_path / "model.onnx"))])
    assert rc == 2 and "no display" in capsys.readouterr().err


def test_prepare_writes_kaggle_layout_crop_rule_and_skips(tmp_path, only, capsys):
    only("prepare")
    face_model_or_skip()
    from tests.test_video import write_face_video

    raw = tmp_path / "raw"
    for cls in ("Real", "Fake"):
        (raw / cls).mkdir(parents=True)
    face = grace_hopper()
    for i in range(4):
        cv2.imwrite(str(raw / "Real" / f"r{i}.jpg"), cv2.cvtColor(np.roll(face, 10 * i, axis=1), cv2.COLOR_RGB2BGR))
    write_face_video(raw / "Fake" / "clip.mp4")
    cv2.imwrite(str(raw / "Fake" / "blank.png"), np.full((100, 100, 3), 80, np.uint8))
    (raw / "Fake" / "bad.jpg").write_bytes(b"junk")
    out = tmp_path / "prepared"
    rc = cli.main(["prepare", str(raw), str(out), "--size", "64", "--fps", "5", "--margin", "0.3"])
    assert rc == 0
    crops = sorted(out.rglob("*.png"))
    assert len(crops) == 4 + 6  # 4 photos + 6 sampled video frames, one face each
    assert all(c.parent.parent.name in ("Train", "Validation", "Test") for c in crops)
    assert {c.parent.name for c in crops} == {"Real", "Fake"}
    video_splits = {c.parent.parent.name for c in crops if "clip" in c.name}
    assert len(video_splits) == 1  # all frames of one video stay in one split
    assert cv2.imread(str(crops[0])).shape == (64, 64, 3)
    assert json.loads((out / "crop_rule.json").read_text())["margin"] == 0.3
    report = json.loads((out / "prepare_report.json").read_text())
    assert report["written"] == 10 and report["skipped_count"] == 2
    reasons = {s["path"].rsplit("/", 1)[-1]: s["reason"] for s in report["skipped"]}
    assert reasons["blank.png"] == "no face found" and "bad.jpg" in reasons["bad.jpg"]
    assert "2 of 7 files skipped" in capsys.readouterr().out
    # Rerun resumes: nothing rewritten.
    assert cli.main(["prepare", str(raw), str(out), "--size", "64", "--fps", "5", "--margin", "0.3"]) == 0
    assert json.loads((out / "prepare_report.json").read_text())["kept_existing"] == 10


def test_face_model_command_installs_from_a_wheel(tmp_path, only, capsys, monkeypatch):
    import zipfile

    from deepfake_edge.runtime.faces import WHEEL_MEMBERS

    only("face-model")
    monkeypatch.setenv("DEEPFAKE_EDGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("DEEPFAKE_EDGE_FACE_MODEL", raising=False)
    assert cli.main(["face-model"]) == 2
    assert "--from-wheel" in capsys.readouterr().err
    wheel = tmp_path / "mediapipe-0.10.21-x.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(WHEEL_MEMBERS["short_range"], b"model")
    assert cli.main(["face-model", "--from-wheel", str(wheel)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].endswith("face_detection_short_range.tflite")


def test_prepare_keeps_the_splits_of_a_kaggle_layout_tree(tmp_path):
    from deepfake_edge.runtime.errors import InputError
    from deepfake_edge.train.prepare import list_sources

    raw = tmp_path / "raw"
    for rel in ("train/REAL/a.jpg", "train/Fake/b.png", "Test/real/c.jpg", "Validation/Fake/clip.mp4",
                "Test/real/notes.txt"):
        p = raw / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    found = {p.name: (cls, split) for p, cls, split in list_sources(raw)}
    assert found == {"a.jpg": ("Real", "Train"), "b.png": ("Fake", "Train"), "c.jpg": ("Real", "Test"),
                     "clip.mp4": ("Fake", "Validation")}
    empty = tmp_path / "empty"
    (empty / "Real").mkdir(parents=True)
    with pytest.raises(InputError, match="no images or videos"):
        list_sources(empty)


def test_out_keeps_same_named_inputs_apart_and_reports_a_failed_write(tmp_path, inputs, only, capsys):
    only("detect")
    other = tmp_path / "other"
    other.mkdir()
    (other / "face.jpg").write_bytes((inputs / "face.jpg").read_bytes())
    model = write_tiny_onnx(tmp_path / "model.onnx")
    out = tmp_path / "out"
    rc = cli.main(["detect", str(inputs / "face.jpg"), str(other / "face.jpg"), "--model", str(model), "--json",
                   "--out", str(out)])
    first, second = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert first["annotated"] == str(out / "face.annotated.png")  # the first keeps the plain name
    assert second["annotated"] == str(out / "face-2.annotated.png")
    assert cv2.imread(first["annotated"]) is not None and cv2.imread(second["annotated"]) is not None

    blocked = tmp_path / "blocked"
    (blocked / "face.annotated.png").mkdir(parents=True)  # a folder where the image should go
    rc = cli.main(["detect", str(inputs / "face.jpg"), "--model", str(model), "--json", "--out", str(blocked)])
    (entry,) = json.loads(capsys.readouterr().out)
    assert rc == 1 and "\n" not in entry["error"]
    assert str(blocked / "face.annotated.png") in entry["error"] and "cannot write" in entry["error"]


class FakeCamera:
    """cv2.VideoCapture stand-in: `frames` BGR frames, then read() fails (camera unplugged)."""

    instances: list["FakeCamera"] = []

    def __init__(self, index, frames=(), opens=True):
        self.index, self.frames, self.opens, self.released = index, list(frames), opens, False
        FakeCamera.instances.append(self)

    def isOpened(self):
        return self.opens

    def read(self):
        if not self.frames:
            return False, None
        time.sleep(0.01)  # a camera delivers frames at its own pace
        return True, self.frames.pop(0)

    def release(self):
        self.released = True


@pytest.fixture()
def window(monkeypatch):
    """A display, a fake camera with five frames of a face, and an OpenCV window that records."""
    face_model_or_skip()
    monkeypatch.setenv("DISPLAY", ":99")
    bgr = cv2.cvtColor(grace_hopper(), cv2.COLOR_RGB2BGR)
    FakeCamera.instances = []
    shown, keys = [], []
    state = {"frames": [bgr.copy() for _ in range(5)], "opens": True, "quit_after": None}
    monkeypatch.setattr(cv2, "VideoCapture", lambda i: FakeCamera(i, state["frames"], state["opens"]))
    monkeypatch.setattr(cv2, "imshow", lambda name, img: shown.append(img.copy()))

    def wait_key(ms):
        keys.append(ms)
        return ord("q") if state["quit_after"] == len(shown) else -1

    monkeypatch.setattr(cv2, "waitKey", wait_key)
    monkeypatch.setattr(cv2, "destroyAllWindows", lambda: state.__setitem__("destroyed", True))
    return state, shown, bgr


def test_webcam_window_shows_annotated_frames_until_q_and_releases_the_camera(tmp_path, only, window):
    only("detect")
    state, shown, bgr = window
    state["quit_after"] = 2
    rc = cli.main(["detect", "--webcam", "3", "--model", str(write_tiny_onnx(tmp_path / "model.onnx"))])
    assert rc == 0 and len(shown) == 2  # q after the second frame ends the loop
    cam = FakeCamera.instances[-1]
    assert cam.index == 3 and cam.released and state["destroyed"]
    view = shown[0]
    assert view.shape == bgr.shape and not np.array_equal(view, bgr)  # the box, label and latency were drawn
    changed = np.argwhere(np.abs(view.astype(int) - bgr.astype(int)).sum(2) > 60)
    above_status = changed[changed[:, 0] < bgr.shape[0] - 30]  # the bottom line is the latency text
    ys, xs = above_status[:, 0], above_status[:, 1]
    # the box and its label, around the face at x 171..365, y 146..340
    assert 120 < xs.min() < 200 and 330 < xs.max() < 420 and 80 < ys.min() < 180 and 320 < ys.max() < 420


def test_webcam_that_stops_delivering_ends_cleanly_and_unopenable_camera_is_one_line(tmp_path, only, window, capsys):
    only("detect")
    state, shown, _ = window
    model = str(write_tiny_onnx(tmp_path / "model.onnx"))
    assert cli.main(["detect", "--webcam", "0", "--model", model]) == 0
    assert 1 <= len(shown) <= 5 and FakeCamera.instances[-1].released  # newest frames shown, none after the end
    state["opens"] = False
    rc = cli.main(["detect", "--webcam", "7", "--model", model])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "cannot open camera 7" in err and "\n" not in err
