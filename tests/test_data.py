"""The tf.data pipeline: runtime preprocessing, bad inputs skipped and listed, clear errors."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from deepfake_edge.runtime.contract import ModelContract
from deepfake_edge.runtime.dataset import list_split, load_preprocessed
from deepfake_edge.runtime.errors import InputError
from deepfake_edge.train.data import SKIPPED_FILENAME, SkipLog, load_split
from tests.datagen import make_kaggle_tree

CONTRACT = ModelContract(input_size=32, arch="tiny-cnn")


def _collect(ds):
    xs, ys = [], []
    for x, y in ds:
        xs.append(x.numpy())
        ys.append(y.numpy())
    return np.concatenate(xs), np.concatenate(ys)


def test_validation_batches_equal_the_runtime_preprocessing(tiny_data):
    split = load_split(tiny_data, "Validation", CONTRACT, batch_size=5, train=False)
    x, y = _collect(split.dataset)
    paths, labels = list_split(tiny_data, "Validation")
    ref, _, _ = load_preprocessed(paths, CONTRACT)
    assert x.shape == (24, 32, 32, 3) and x.dtype == np.float32
    np.testing.assert_allclose(x, ref, atol=1e-6)
    np.testing.assert_array_equal(y.argmax(1), labels)  # one-hot in contract order, 0 = Fake
    assert split.class_counts == {"Fake": 12, "Real": 12} and split.steps == 5


def test_training_stream_is_seeded_augmented_and_endless(tiny_data):
    a = load_split(tiny_data, "Train", CONTRACT, batch_size=8, train=True, seed=3, repeat=True)
    b = load_split(tiny_data, "Train", CONTRACT, batch_size=8, train=True, seed=3, repeat=True)
    xa = [x.numpy() for x, _ in a.dataset.take(4)]  # 32 images > 24: it repeats
    xb = [x.numpy() for x, _ in b.dataset.take(4)]
    assert len(xa) == 4 and all(x.shape == (8, 32, 32, 3) for x in xa)
    for p, q in zip(xa, xb):
        np.testing.assert_array_equal(p, q)
    assert 0.0 <= min(x.min() for x in xa) and max(x.max() for x in xa) <= 1.0
    plain = load_split(tiny_data, "Train", CONTRACT, batch_size=24, train=False)
    aug_set = np.concatenate(xa)[:24].reshape(24, -1)
    plain_set = next(iter(plain.dataset))[0].numpy().reshape(24, -1)
    # augmented views are not the plain crops
    assert not any(np.allclose(v, w, atol=1e-6) for v in aug_set[:8] for w in plain_set)


def test_corrupt_and_non_image_files_are_skipped_counted_and_listed(tmp_path):
    root = make_kaggle_tree(tmp_path / "data", n_per_class=3, size=40, splits=("Train",))
    (root / "Train" / "Real" / "truncated.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (root / "Train" / "Fake" / "notes.jpg").write_text("this is a text file named like an image")
    (root / "Train" / "Fake" / "readme.txt").write_text("ignored: not an image suffix")
    skip_log = SkipLog(tmp_path / "run" / SKIPPED_FILENAME)
    split = load_split(root, "Train", CONTRACT, batch_size=4, train=False, skip_log=skip_log)
    assert len(split.paths) == 8  # listed: 6 good + 2 bad image-suffixed files
    x, y = _collect(split.dataset)
    assert len(x) == 6 and (y.argmax(1) == 0).sum() == 3
    assert len(skip_log) == 2
    listed = (tmp_path / "run" / SKIPPED_FILENAME).read_text().splitlines()
    assert len(listed) == 2 and any("truncated.png" in l for l in listed) and any("notes.jpg" in l for l in listed)
    _collect(split.dataset)  # a second epoch does not list them again
    assert len((tmp_path / "run" / SKIPPED_FILENAME).read_text().splitlines()) == 2


def test_mixed_case_folder_names(tmp_path):
    root = make_kaggle_tree(tmp_path / "data", n_per_class=2, size=40, splits=("Train",))
    (root / "Train").rename(root / "train")
    (root / "train" / "Real").rename(root / "train" / "REAL")
    (root / "train" / "Fake").rename(root / "train" / "fake")
    split = load_split(root, "Train", CONTRACT, batch_size=4, train=False)
    assert split.class_counts == {"Fake": 2, "Real": 2}
    assert len(_collect(split.dataset)[0]) == 4


def test_missing_split_is_one_line(tmp_path):
    root = make_kaggle_tree(tmp_path / "data", n_per_class=2, size=40, splits=("Train",))
    with pytest.raises(InputError, match="no 'Validation' folder") as exc:
        load_split(root, "Validation", CONTRACT, batch_size=4, train=False)
    assert "\n" not in str(exc.value)


def test_empty_or_missing_class_is_one_line(tmp_path):
    root = make_kaggle_tree(tmp_path / "data", n_per_class=2, size=40, splits=("Train",))
    for f in (root / "Train" / "Fake").iterdir():
        f.unlink()
    with pytest.raises(InputError, match="holds no images"):
        load_split(root, "Train", CONTRACT, batch_size=4, train=True)
    shutil.rmtree(root / "Train" / "Fake")
    with pytest.raises(InputError, match="no 'Fake' class folder"):
        load_split(root, "Train", CONTRACT, batch_size=4, train=True)


def test_dataset_errors_name_the_folder(tiny_data, tmp_path):
    from deepfake_edge.train.data import SelfBlend, make_dataset

    with pytest.raises(InputError, match=f"^{tmp_path / 'Train'}: no images"):
        make_dataset([], np.zeros(0), CONTRACT, batch_size=2, train=True, source=tmp_path / "Train")
    fakes, labels = list_split(tiny_data, "Train")
    fakes = [p for p, y in zip(fakes, labels) if y == CONTRACT.fake_index]
    with pytest.raises(InputError) as err:  # no reals to self-blend: the folder the fakes came from is named
        make_dataset(fakes, np.zeros(len(fakes), np.int64), CONTRACT, batch_size=2, train=True, sbi=SelfBlend(sbi_ratio=0.5))
    assert str(fakes[0].parent) in str(err.value) and "has none" in str(err.value)
