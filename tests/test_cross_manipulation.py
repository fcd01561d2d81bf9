"""benchmarks/cross_manipulation.py: the landmark face swap behind the unseen-manipulation scores."""
from __future__ import annotations

import numpy as np

from tests.benchmark_scripts import load_benchmark


def _mesh(cx: float, cy: float, r: float) -> np.ndarray:
    """A face-mesh-like point set: concentric rings around (cx, cy), 0..1 coordinates."""
    rings = [np.stack([cx + r * f * np.cos(t), cy + r * f * np.sin(t)], 1)
             for f in (0.25, 0.5, 0.75, 1.0) for t in [np.linspace(0, 2 * np.pi, 24, endpoint=False) + f]]
    return np.concatenate([[[cx, cy]], *rings]).astype(np.float64)


def test_warp_moves_source_landmarks_onto_the_target_geometry():
    cm = load_benchmark("cross_manipulation")
    h = w = 96
    source = np.zeros((h, w, 3), np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    source[..., 0], source[..., 1] = xx * 2, yy * 2  # colour encodes the source position
    src_pts, dst_pts = _mesh(0.45, 0.5, 0.3), _mesh(0.55, 0.5, 0.25)
    warped, covered = cm.warp_face(source, cm.to_pixels(src_pts, source.shape), cm.to_pixels(dst_pts, source.shape),
                                   source.shape)
    # at the target's centre landmark the warped image shows the source's centre landmark
    ty, tx = int(round(0.5 * h)), int(round(0.55 * w))
    assert covered[ty, tx]
    assert abs(warped[ty, tx, 0] / 2 - 0.45 * w) <= 1.5 and abs(warped[ty, tx, 1] / 2 - 0.5 * h) <= 1.5
    assert not covered[2, 2]  # outside the target face nothing is taken from the source


def test_face_swap_carries_the_source_face_and_leaves_the_background():
    cm = load_benchmark("cross_manipulation")
    import cv2

    rng = np.random.default_rng(0)
    target = cv2.GaussianBlur(rng.integers(0, 255, (96, 96, 3), dtype=np.uint8), (5, 5), 0)
    source = cv2.GaussianBlur(rng.integers(0, 255, (96, 96, 3), dtype=np.uint8), (5, 5), 0)
    pts = _mesh(0.5, 0.5, 0.3)  # same geometry: the warp is the identity, so the face is source's
    fake = cm.face_swap(target, pts, source, pts)
    assert fake.shape == target.shape and fake.dtype == np.uint8
    face = (slice(38, 58), slice(38, 58))

    def corr(a, b):
        return np.corrcoef(a[face].astype(float).ravel(), b[face].astype(float).ravel())[0, 1]

    assert corr(fake, source) > 0.8 > 0.2 > corr(fake, target)  # the face region now carries the source
    assert np.array_equal(fake[:8, :8], target[:8, :8])  # the corners are the target's
