"""Landmark self-blended fakes: the face mesh, its cache, the SBI mask and the training wiring."""
from __future__ import annotations

import os

import numpy as np
import pytest

from deepfake_edge.runtime.errors import FaceModelError
from tests.facekit import grace_hopper

def write_image(path, rgb):
    import cv2

    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


FACE = (146, 340, 171, 365)  # grace_hopper(): rows y0..y1, columns x0..x1 of the face


def landmark_model_or_skip():
    from deepfake_edge.train.landmarks import resolve_landmark_model

    try:
        return resolve_landmark_model()
    except FaceModelError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"face-landmark model missing in CI: {exc}")
        pytest.skip(str(exc))


def face_crop() -> np.ndarray:
    """Grace Hopper's face with the margin the runtime's crop rule gives a training crop."""
    y0, y1, x0, x1 = FACE
    m = 30
    return np.ascontiguousarray(grace_hopper()[y0 - m:y1 + m, x0 - m:x1 + m])


def test_face_mesh_lands_on_the_face():
    from deepfake_edge.train.landmarks import FaceLandmarker

    landmark_model_or_skip()
    crop = face_crop()
    points = FaceLandmarker().points(crop)
    assert points is not None and points.shape == (468, 2)
    h, w = crop.shape[:2]
    lo, hi = points.min(0), points.max(0)
    # the mesh spans the face (inside the margin), not a corner of the image
    assert (lo > 0.05).all() and (hi < 0.95).all()
    assert (hi - lo).min() > 0.5
    nose = points[1]  # the face mesh's nose tip
    assert 0.35 < nose[0] < 0.65 and 0.4 < nose[1] < 0.75
    noise = np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)
    assert FaceLandmarker().points(noise) is None  # no face: no mesh (the mask falls back to an ellipse)
    assert FaceLandmarker().points(np.full_like(crop, 128)) is None


def test_landmarks_are_computed_once_and_cached(tmp_path, monkeypatch):
    from deepfake_edge.train import landmarks

    landmark_model_or_skip()
    paths = [tmp_path / f"{i}.png" for i in range(2)]
    for p in paths:
        write_image(p, face_crop())
    first = landmarks.LandmarkTable.for_files(paths, cache=tmp_path / "cache")
    assert len(first) == 2 and first.files == 2
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1

    def no_model(*a, **k):
        raise AssertionError("landmarks were computed again")

    monkeypatch.setattr(landmarks, "FaceLandmarker", no_model)
    again = landmarks.LandmarkTable.for_files(paths, cache=tmp_path / "cache")
    np.testing.assert_allclose(again.get(paths[0]), first.get(paths[0]), atol=1e-3)  # float16 in the cache
    # The cache is found by real paths, so it must answer for any spelling of them: a run
    # reading the same data through another path (`other/../data/x.png`) once found the
    # cache and then missed every lookup (all its fakes silently got the elliptical mask).
    (tmp_path / "other").mkdir()
    spelled = [tmp_path / "other" / ".." / p.name for p in paths]
    via_other = landmarks.LandmarkTable.for_files(spelled, cache=tmp_path / "cache")
    assert all(via_other.get(p) is not None for p in spelled) and via_other.get(paths[1]) is not None
    os.utime(paths[1], ns=(1, 1))  # a changed file is looked at again
    with pytest.raises(AssertionError, match="computed again"):
        landmarks.LandmarkTable.for_files(paths, cache=tmp_path / "cache")


def _square_face_points():
    """A ring of 'landmarks' around the centre of the image (0..1 coordinates)."""
    t = np.linspace(0, 2 * np.pi, 60, endpoint=False)
    return np.stack([0.5 + 0.3 * np.cos(t), 0.5 + 0.35 * np.sin(t)], 1).astype(np.float32)


def test_sbi_mask_follows_the_landmarks():
    from deepfake_edge.train.sbi import blend_mask, elastic, hull_mask

    points = _square_face_points()
    for seed in range(10):
        rng = np.random.default_rng(seed)
        mask = blend_mask(elastic(hull_mask(200, 200, points, rng), rng), rng)
        assert mask.shape == (200, 200) and mask.max() == pytest.approx(1.0)
        assert mask[100, 100] > 0.99  # the face centre is blended in
        assert mask[:15].max() < 0.05 and mask[:, :15].max() < 0.05  # far outside the hull: untouched
        assert 0.1 < mask.mean() < 0.45


def test_landmark_self_blend_changes_the_face_and_is_seeded():
    from deepfake_edge.train.sbi import landmark_self_blend

    img = face_crop()
    points = _square_face_points()
    a = landmark_self_blend(img, points, np.random.default_rng(3))
    b = landmark_self_blend(img, points, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert a.shape == img.shape and a.dtype == np.uint8
    diffs = [np.abs(landmark_self_blend(img, points, np.random.default_rng(s)).astype(int) - img).mean()
             for s in range(8)]
    assert min(diffs) > 0.5 and max(diffs) < 40  # a subtle change, not a different picture


def test_sbi_examples_use_the_face_mesh_when_one_is_known(tmp_path):
    from deepfake_edge.runtime.contract import ModelContract
    from deepfake_edge.train.data import SelfBlend, load_example
    from deepfake_edge.train.landmarks import LandmarkTable

    path = tmp_path / "real.png"
    write_image(path, face_crop())
    contract = ModelContract(input_size=64)
    table = LandmarkTable({str(path): _square_face_points()})
    with_mesh, ok, _ = load_example(str(path), 1, 5, contract, train=False, blend=SelfBlend(landmarks=table))
    ellipse, ok2, _ = load_example(str(path), 1, 5, contract, train=False, blend=SelfBlend())
    assert ok and ok2 and not np.array_equal(with_mesh, ellipse)
    empty = LandmarkTable({str(path): None})  # no mesh found: the elliptical mask, same as without a table
    fallback, _, _ = load_example(str(path), 1, 5, contract, train=False, blend=SelfBlend(landmarks=empty))
    np.testing.assert_array_equal(fallback, ellipse)


def test_landmark_masks_without_the_model_is_one_line(tiny_data, tmp_path, monkeypatch):
    from tests.test_evaluate import cli_main
    from tests.test_train import _train_args

    monkeypatch.setenv("DEEPFAKE_EDGE_CACHE", str(tmp_path / "empty-cache"))
    args = _train_args(tiny_data, tmp_path / "run", "--epochs", "1", "--sbi-ratio", "1", "--sbi-mask", "landmarks")
    assert cli_main(args, monkeypatch) == 2
    assert not (tmp_path / "run" / "model.keras").exists()
