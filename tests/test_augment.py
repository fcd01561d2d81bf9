"""Augmentations and the corruption table: shapes, determinism, strength grows with severity."""
from __future__ import annotations

import numpy as np
import pytest

from deepfake_edge.train.augment import (CORRUPTIONS, SEVERITIES, augment, color_jitter, corrupt, cutout,
                                         flip_horizontal, grayscale)
from tests.datagen import real_image


@pytest.fixture(scope="module")
def face():
    return real_image(np.random.default_rng(3), 64)


def test_table_lists_the_issue_families():
    assert set(CORRUPTIONS) == {"jpeg", "blur", "noise", "downscale", "color_shift", "grayscale"}
    assert SEVERITIES == (1, 2, 3, 4, 5)


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_corruption_keeps_shape_is_seeded_and_grows_with_severity(face, name):
    outs = {s: corrupt(face, name, s, np.random.default_rng(7)) for s in SEVERITIES}
    for out in outs.values():
        assert out.shape == face.shape and out.dtype == np.uint8
    again = corrupt(face, name, 3, np.random.default_rng(7))
    np.testing.assert_array_equal(outs[3], again)
    dist = {s: np.abs(o.astype(np.float32) - face).mean() for s, o in outs.items()}
    assert dist[1] > 0.0, f"{name} severity 1 left the image unchanged"
    assert dist[5] > dist[1] * 1.5, f"{name}: severity 5 ({dist[5]:.2f}) not clearly stronger than 1 ({dist[1]:.2f})"


def test_bad_severity_and_name_are_refused(face):
    with pytest.raises(ValueError, match="severity"):
        corrupt(face, "blur", 0)
    with pytest.raises(ValueError, match="unknown corruption 'sepia'"):
        corrupt(face, "sepia", 1)


def test_full_grayscale_has_equal_channels(face):
    g = grayscale(face, 5, np.random.default_rng(0))
    assert np.array_equal(g[..., 0], g[..., 1]) and np.array_equal(g[..., 1], g[..., 2])


def test_flip_mirrors_columns(face):
    np.testing.assert_array_equal(flip_horizontal(face)[:, 0], face[:, -1])


@pytest.mark.parametrize("brightness, contrast, saturation", [(1.0, 1.0, 1.0), (1.2, 0.8, 1.2), (0.8, 1.2, 0.8)])
def test_color_jitter_matches_its_definition(face, brightness, contrast, saturation):
    """Brightness scales, contrast stretches about the mean, saturation moves away from luma
    grey; the one-matrix implementation may differ from that float definition by rounding only."""
    x = face.astype(np.float64) * brightness
    x = (x - x.mean()) * contrast + x.mean()
    grey = (x @ np.array([0.299, 0.587, 0.114]))[..., None]
    expected = np.clip(np.rint(grey + (x - grey) * saturation), 0, 255)
    out = color_jitter(face, brightness, contrast, saturation)
    assert out.dtype == np.uint8 and out.shape == face.shape
    assert np.abs(out - expected).max() <= 1
    if (brightness, contrast, saturation) == (1.0, 1.0, 1.0):
        np.testing.assert_array_equal(out, face)


def test_color_jitter_saturates_instead_of_wrapping(face):
    assert color_jitter(np.full((4, 4, 3), 250, np.uint8), 1.2, 1.0, 1.0).min() == 255
    grey = color_jitter(face, 1.0, 1.0, 0.0)
    assert np.abs(grey[..., 0].astype(int) - grey[..., 2]).max() <= 1


def test_augment_is_seeded_and_varies(face):
    a = augment(face, np.random.default_rng(11))
    b = augment(face, np.random.default_rng(11))
    c = augment(face, np.random.default_rng(12))
    assert a.shape == face.shape and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, face)


@pytest.mark.parametrize("seed", range(6))
def test_cutout_paints_one_rectangle_in_the_mean_colour(face, seed):
    out = cutout(face, np.random.default_rng(seed), max_area=0.2)
    changed = np.any(out != face, axis=2)
    rows, cols = np.nonzero(changed)
    assert out.shape == face.shape and out.dtype == np.uint8 and rows.size
    box = out[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    mean = np.round(face.reshape(-1, 3).mean(axis=0))
    assert np.all(box == mean)  # one solid rectangle, nothing outside it touched
    area = box.shape[0] * box.shape[1] / (face.shape[0] * face.shape[1])
    assert 0.02 * 0.8 <= area <= 0.2 * 1.2  # 2%..max_area, give or take rounding the sides to pixels


def _largest_solid_share(img: np.ndarray) -> float:
    """Share of the pixels taken by the most frequent colour."""
    _, counts = np.unique(img.reshape(-1, img.shape[2]), axis=0, return_counts=True)
    return counts.max() / (img.shape[0] * img.shape[1])


def test_augment_without_cutout_draws_the_same_views_and_with_it_erases(face):
    for seed in range(5):
        plain = augment(face, np.random.default_rng(seed), corruption_prob=0.0)
        np.testing.assert_array_equal(plain, augment(face, np.random.default_rng(seed), corruption_prob=0.0,
                                                     cutout_prob=0.0))
        erased = augment(face, np.random.default_rng(seed), corruption_prob=0.0, cutout_prob=1.0)
        assert _largest_solid_share(plain) < 0.01  # a textured face has no solid block
        assert _largest_solid_share(erased) >= 0.02  # the erased rectangle: at least 2% of the crop
