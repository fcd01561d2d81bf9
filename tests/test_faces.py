"""Face detection on real photos, the crop rule's geometry, and offline face-model resolution."""
from __future__ import annotations

import zipfile

import numpy as np
import pytest

from deepfake_edge.runtime.contract import CropRule
from deepfake_edge.runtime.errors import FaceModelError, InputError
from deepfake_edge.runtime.faces import (FaceBox, FaceDetector, MODEL_FILES, WHEEL_MEMBERS, crop_box, crop_faces,
                                         install_from_wheel, keep_faces, resolve_face_model)
from tests.facekit import face_model_or_skip, grace_hopper, orl_faces


# -- crop geometry (no model needed) ---------------------------------------------------
def test_crop_box_is_square_with_margin_around_the_face_centre():
    rule = CropRule(margin=0.25)
    x0, y0, x1, y1 = crop_box(FaceBox(100, 100, 40, 60), (480, 640, 3), rule)
    assert (x1 - x0, y1 - y0) == (90, 90)  # 60 + 2 * 0.25 * 60
    assert ((x0 + x1) / 2, (y0 + y1) / 2) == (120, 130)  # the face centre


def test_crop_box_shifts_inside_the_image_when_it_fits():
    x0, y0, x1, y1 = crop_box(FaceBox(0, 0, 40, 40), (200, 300, 3), CropRule(margin=0.25))
    assert (x0, y0, x1, y1) == (0, 0, 60, 60)
    x0, y0, x1, y1 = crop_box(FaceBox(270, 170, 30, 30), (200, 300, 3), CropRule(margin=0.5))
    assert (x0, y0, x1, y1) == (240, 140, 300, 200)


def test_crop_box_clips_when_larger_than_the_image():
    x0, y0, x1, y1 = crop_box(FaceBox(10, 5, 80, 90), (100, 300, 3), CropRule(margin=0.25))
    assert (y0, y1) == (0, 100)  # 135 px does not fit in 100: clipped
    assert x1 - x0 == 135 and x0 >= 0 and x1 <= 300


def test_crop_box_non_square_keeps_aspect_and_zero_margin_is_the_box():
    assert crop_box(FaceBox(50, 60, 40, 20), (480, 640, 3), CropRule(margin=0.0, square=False)) == (50, 60, 90, 80)


def test_crop_faces_returns_the_pixels_of_crop_box():
    img = np.arange(100 * 120 * 3, dtype=np.uint32).reshape(100, 120, 3).astype(np.uint8)
    rule = CropRule(margin=0.1)
    box = FaceBox(30, 20, 40, 40)
    (crop,) = crop_faces(img, [box], rule)
    x0, y0, x1, y1 = crop_box(box, img.shape, rule)
    assert np.array_equal(crop, img[y0:y1, x0:x1])


def test_keep_faces_applies_confidence_and_size_and_sorts_largest_first():
    rule = CropRule(min_confidence=0.6, min_face_px=20)
    boxes = [FaceBox(0, 0, 30, 30, 0.9), FaceBox(0, 0, 10, 50, 0.99), FaceBox(0, 0, 80, 80, 0.5),
             FaceBox(0, 0, 50, 50, 0.7)]
    assert [(b.w, b.score) for b in keep_faces(boxes, rule)] == [(50, 0.7), (30, 0.9)]


# -- model resolution (offline) --------------------------------------------------------
def test_missing_face_model_error_says_how_to_provide_one(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPFAKE_EDGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("DEEPFAKE_EDGE_FACE_MODEL", raising=False)
    with pytest.raises(FaceModelError) as err:
        resolve_face_model()
    msg = str(err.value)
    assert "\n" not in msg and "--from-wheel" in msg and "--download" in msg and str(tmp_path) in msg


def test_explicit_path_and_env_are_checked(tmp_path, monkeypatch):
    with pytest.raises(FaceModelError, match="nope.tflite: face-detector model file not found"):
        resolve_face_model(tmp_path / "nope.tflite")
    model = tmp_path / "m.tflite"
    model.write_bytes(b"x")
    monkeypatch.setenv("DEEPFAKE_EDGE_FACE_MODEL", str(model))
    assert resolve_face_model() == model


def test_install_from_wheel_extracts_both_models_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPFAKE_EDGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("DEEPFAKE_EDGE_FACE_MODEL", raising=False)
    wheel = tmp_path / "mediapipe-0.10.21-cp311-cp311-linux_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(WHEEL_MEMBERS["short_range"], b"short" * 10)
        zf.writestr(WHEEL_MEMBERS["full_range"], b"full" * 10)
        zf.writestr("mediapipe/__init__.py", "")
    installed = install_from_wheel(wheel)
    assert installed["short_range"].read_bytes() == b"short" * 10
    assert installed["full_range"].name == MODEL_FILES["full_range"]
    assert resolve_face_model() == installed["short_range"]
    assert resolve_face_model(kind="full_range") == installed["full_range"]


def test_install_from_wheel_rejects_wheels_without_the_model(tmp_path):
    wheel = tmp_path / "mediapipe-1.2.3.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("mediapipe/__init__.py", "")
    with pytest.raises(FaceModelError, match="mediapipe<=0.10.21"):
        install_from_wheel(wheel, cache=tmp_path / "c")
    bad = tmp_path / "bad.whl"
    bad.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="bad.whl: not a valid wheel"):
        install_from_wheel(bad, cache=tmp_path / "c")


def test_a_non_model_file_gives_one_line_face_model_error(tmp_path):
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"\0" * 64)
    with pytest.raises(FaceModelError) as err:
        FaceDetector(junk)
    assert str(junk) in str(err.value) and "\n" not in str(err.value)


# -- real photos -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def detector():
    with FaceDetector(face_model_or_skip()) as det:
        yield det


def _center(b):
    return (b.x + b.w / 2, b.y + b.h / 2)


def test_grace_hopper_face_is_found_where_it_is(detector):
    boxes = detector.detect(grace_hopper())
    assert len(boxes) == 1
    cx, cy = _center(boxes[0])
    assert abs(cx - 268) < 25 and abs(cy - 243) < 25
    assert 150 < boxes[0].w < 240 and boxes[0].score > 0.8


def test_orl_faces_are_found_in_the_middle(detector):
    from deepfake_edge.runtime.images import read_rgb

    found = 0
    for p in orl_faces(10):
        img = read_rgb(p)  # 92x112 greyscale -> RGB
        boxes = detector.detect(img)
        if boxes:
            found += 1
            cx, cy = _center(boxes[0])
            assert 25 < cx < 70 and 30 < cy < 90, (p, boxes[0])
    assert found >= 9


def test_two_faces_side_by_side_are_both_found(detector):
    face = grace_hopper()
    frame = np.concatenate([face, face[:, ::-1]], axis=1)  # 1024 x 600, two faces
    boxes = detector.detect(frame)
    assert len(boxes) == 2
    centres = sorted(_center(b)[0] for b in boxes)
    assert centres[0] < 512 < centres[1]
    assert abs(centres[0] - 268) < 30 and abs(centres[1] - (1024 - 268)) < 30


def test_image_without_a_face_gives_no_boxes(detector):
    yy, xx = np.mgrid[0:480, 0:640]
    img = np.stack([xx * 255 // 640, yy * 255 // 480, np.full_like(xx, 90)], axis=2).astype(np.uint8)
    assert detector.detect(img) == []


def test_full_range_detector_also_finds_the_face():
    face_model_or_skip()
    try:
        path = resolve_face_model(kind="full_range")
    except FaceModelError as exc:
        pytest.skip(f"full-range model not installed: {exc}")
    with FaceDetector(path, kind="full_range") as det:
        boxes = det.detect(grace_hopper())
    assert len(boxes) == 1 and abs(_center(boxes[0])[0] - 268) < 30
