"""The decoded-crop cache: same batches as without it, bounded memory, never written into."""
from __future__ import annotations

import numpy as np
import pytest

from deepfake_edge.runtime.contract import ModelContract
from deepfake_edge.runtime.images import read_rgb
from deepfake_edge.runtime.preprocess import resize_crop
from deepfake_edge.train.cache import MB, CropCache
from deepfake_edge.train.data import SKIPPED_FILENAME, SelfBlend, SkipLog, load_example, load_split
from tests.datagen import make_kaggle_tree

CONTRACT = ModelContract(input_size=32, arch="tiny-cnn")


def test_cached_training_stream_gives_the_same_batches_as_decoding_every_time(tiny_data):
    cache = CropCache(64)
    cached = load_split(tiny_data, "Train", CONTRACT, batch_size=8, train=True, seed=5, repeat=True, cache=cache)
    plain = load_split(tiny_data, "Train", CONTRACT, batch_size=8, train=True, seed=5, repeat=True)
    xs = [x.numpy() for x, _ in cached.dataset.take(9)]  # three passes over 24 images
    ys = [x.numpy() for x, _ in plain.dataset.take(9)]
    for a, b in zip(xs, ys):
        np.testing.assert_array_equal(a, b)
    assert len(cache) == 24 and cache.bytes == 24 * 32 * 32 * 3
    assert cache.hits >= 48  # passes two and three never decoded
    for path in cached.paths:  # augmentation never wrote into a kept crop
        np.testing.assert_array_equal(cache.get(str(path)), resize_crop(read_rgb(path), 32))


def test_cache_stops_at_its_budget_and_the_rest_still_stream(tiny_data):
    crop_bytes = 32 * 32 * 3
    cache = CropCache(10.5 * crop_bytes / MB)  # room for 10 crops
    split = load_split(tiny_data, "Validation", CONTRACT, batch_size=6, train=False, cache=cache)
    first = np.concatenate([x.numpy() for x, _ in split.dataset])
    again = np.concatenate([x.numpy() for x, _ in split.dataset])
    assert first.shape[0] == again.shape[0] == 24  # all images, cached or not
    np.testing.assert_array_equal(first, again)
    assert len(cache) == 10 and cache.full and cache.bytes <= cache.max_bytes
    assert cache.hits == 10  # the second pass found exactly the kept ones


def test_kept_crops_are_read_only_copies():
    cache = CropCache(1)
    crop = np.full((4, 4, 3), 7, np.uint8)
    cache.put("a.png", crop)
    crop[:] = 0  # the caller's array changing does not change the cache
    kept = cache.get("a.png")
    assert kept.max() == 7 and not kept.flags.writeable
    with pytest.raises(ValueError):
        kept[0, 0, 0] = 1
    assert cache.get("missing.png") is None
    with pytest.raises(ValueError, match=">= 0 MB"):
        CropCache(-1)


def test_unreadable_files_and_self_blended_fakes_are_not_cached(tmp_path):
    root = make_kaggle_tree(tmp_path / "data", n_per_class=2, size=40, splits=("Train",))
    bad = root / "Train" / "Real" / "truncated.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    cache = CropCache(8)
    skip_log = SkipLog(tmp_path / SKIPPED_FILENAME)
    split = load_split(root, "Train", CONTRACT, batch_size=4, train=False, skip_log=skip_log, cache=cache)
    assert sum(int(x.shape[0]) for x, _ in split.dataset) == 4
    assert len(cache) == 4 and cache.get(str(bad)) is None and str(bad) in skip_log.entries

    real = str(next(p for p in sorted((root / "Train" / "Real").glob("*.png")) if p != bad))
    fresh = CropCache(8)
    x, ok, _ = load_example(real, 0, 3, CONTRACT, train=False, blend=SelfBlend(), cache=fresh)
    assert ok and len(fresh) == 0  # a self-blend is made at full resolution, not from a crop
    y, _, _ = load_example(real, 0, 3, CONTRACT, train=False, blend=SelfBlend(), cache=cache)
    np.testing.assert_array_equal(x, y)  # a cached plain crop is not mistaken for the blend's source
