"""Source groups (`--groups`): real/fake twins from one source video train side by side."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from deepfake_edge.runtime.contract import ModelContract
from deepfake_edge.runtime.dataset import list_split
from deepfake_edge.runtime.errors import InputError
from deepfake_edge.train.groups import group_members, read_groups, resolve_groups_file, sample_whole_groups
from tests.test_evaluate import cli_main
from tests.test_quality_options import _assert_complete_and_calibrated, _train_args

SIZE = 32


def _write_groups(data, rows, header="split,label,file,source_video"):
    path = data / "groups.csv"
    path.write_text(header + "\n" + "".join(",".join(r) + "\n" for r in rows))
    return path


def _twin_rows(data, n):
    """The first n Real and n Fake Train images paired by position: source s0..s{n-1}."""
    reals = sorted(p.name for p in (data / "Train" / "Real").iterdir())[:n]
    fakes = sorted(p.name for p in (data / "Train" / "Fake").iterdir())[:n]
    rows = [("Train", "Real", r, f"s{i}.mp4") for i, r in enumerate(reals)]
    rows += [("Train", "Fake", f, f"s{i}.mp4") for i, f in enumerate(fakes)]
    return rows, reals, fakes


def test_groups_match_by_split_label_and_file_and_leave_the_rest_single(tiny_data, tmp_path):
    rows, reals, fakes = _twin_rows(tiny_data, 3)
    rows.append(("Validation", "Real", reals[0], "other.mp4"))  # another split: ignored
    rows.append(("Train", "Real", "not-listed.png", "s9.mp4"))  # not a training file: ignored
    groups_file = _write_groups(tmp_path, rows)
    paths, _ = list_split(tiny_data, "Train")
    group = read_groups(groups_file, paths)
    by_name = {(p.parent.name, p.name): g for p, g in zip(paths, group)}
    for real, fake in zip(reals, fakes):
        assert by_name[("Real", real)] == by_name[("Fake", fake)]
    assert len({by_name[("Real", r)] for r in reals}) == 3
    assert len(set(group.tolist())) == len(paths) - 3  # 3 twins share, the other 18 stand alone
    assert np.bincount(group).max() == 2


def test_file_names_that_match_several_images_need_split_and_label(tiny_data, tmp_path):
    paths, _ = list_split(tiny_data, "Train")
    name = paths[0].name
    clash = tmp_path / "data"
    shutil.copytree(tiny_data, clash)
    shutil.copy(clash / "Train" / paths[0].parent.name / name,
                clash / "Train" / ("Fake" if paths[0].parent.name == "Real" else "Real") / name)
    clash_paths, _ = list_split(clash, "Train")
    groups_file = _write_groups(tmp_path, [(name, "a")], header="file,source")
    with pytest.raises(InputError, match=r"groups\.csv: line 2: file .* matches 2 Train images"):
        read_groups(groups_file, clash_paths)
    labelled = _write_groups(tmp_path, [(name, "Real", "a"), (name, "Fake", "a")], header="file,label,source")
    assert len(set(read_groups(labelled, clash_paths).tolist())) == len(clash_paths) - 1


@pytest.mark.parametrize("text, message", [
    ("name,video\na.png,x\n", r"needs a header with 'file' and 'source'"),
    (b"\xff\xfe\x00garbage", "cannot read the groups file"),
])
def test_a_bad_groups_file_is_one_line_naming_it(tiny_data, tmp_path, text, message):
    path = tmp_path / "groups.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    paths, _ = list_split(tiny_data, "Train")
    with pytest.raises(InputError, match=message) as e:
        read_groups(path, paths)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_groups_setting_auto_none_or_a_path(tiny_data, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    assert resolve_groups_file("auto", data) is None
    groups_file = _write_groups(data, _twin_rows(data, 2)[0])
    assert resolve_groups_file("auto", data) == groups_file and resolve_groups_file(None, data) == groups_file
    assert resolve_groups_file("none", data) is None
    assert resolve_groups_file(str(groups_file), tmp_path) == groups_file
    with pytest.raises(InputError, match="missing.csv: groups file not found"):
        resolve_groups_file(str(tmp_path / "missing.csv"), data)


def test_group_members_lists_each_source_once_padded():
    group = np.array([3, 0, 1, 0, 2, 3, 3, 1, 4])
    members = group_members(group)
    assert members.shape == (5, 3)
    rows = [sorted(i for i in row if i >= 0) for row in members.tolist()]
    assert rows == [[1, 3], [2, 7], [4], [0, 5, 6], [8]]
    assert (members < 0).sum() == 15 - 9
    assert group_members(np.zeros(0, np.int64)).shape == (0, 1)


def test_twins_share_a_batch_and_their_augmentation(tmp_path, tiny_data):
    """A fake identical to its real twin must come out identical after augmentation, next to it."""
    from deepfake_edge.train.data import load_split

    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    rows, reals, fakes = _twin_rows(data, 12)
    for real, fake in zip(reals, fakes):  # every fake a byte copy of its twin: only augmentation differs
        shutil.copy(data / "Train" / "Real" / real, data / "Train" / "Fake" / fake)
    groups_file = _write_groups(data, rows)
    contract = ModelContract(input_size=SIZE)
    split = load_split(data, "Train", contract, batch_size=8, train=True, seed=3, groups_file=groups_file)
    assert split.source_groups == 12
    batches = list(split.dataset.take(3).as_numpy_iterator())
    for x, y in batches:
        for a in range(0, 8, 2):
            assert not np.array_equal(y[a], y[a + 1])  # one Real, one Fake
            assert np.array_equal(x[a], x[a + 1])  # identical pixels: same jitter, same crop
    assert not np.array_equal(batches[0][0][0], batches[0][0][2])  # different sources differ
    plain = load_split(data, "Train", contract, batch_size=8, train=True, seed=3)
    x, _ = next(plain.dataset.take(1).as_numpy_iterator())
    assert not all(np.array_equal(x[a], x[a + 1]) for a in range(0, 8, 2))


def test_train_uses_the_datasets_groups_file_and_records_it(tiny_data, tmp_path, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    groups_file = _write_groups(data, _twin_rows(data, 5)[0])
    run = tmp_path / "run"
    assert cli_main(_train_args(data, run, "--epochs", "1"), monkeypatch) == 0
    t = _assert_complete_and_calibrated(run)["training"]
    assert t["groups_file"] == str(groups_file) and t["source_groups"] == 5
    off = tmp_path / "off"
    assert cli_main(_train_args(data, off, "--epochs", "1", "--groups", "none"), monkeypatch) == 0
    t = json.loads((off / "contract.json").read_text())["training"]
    assert t["groups_file"] is None and t["source_groups"] is None
    assert json.loads((off / "train_config.json").read_text())["groups"] == "none"


def test_a_capped_subset_is_drawn_whole_source_by_source():
    """Twin sources (one real + one fake) and singles: the cap holds per class, every twin survives."""
    group = np.array([0, 0, 1, 1, 2, 2, 3, 3, 4, 5, 6, 7])
    labels = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0, 0, 1, 1])
    for seed in range(6):
        keep = sample_whole_groups(group, labels, 3, seed)
        assert np.bincount(labels[keep], minlength=2).tolist() == [3, 3]
        kept_groups = group[keep]
        for g in set(kept_groups.tolist()):
            assert (kept_groups == g).sum() == (group == g).sum()  # whole sources only
        assert np.array_equal(keep, np.sort(keep))
    assert len({tuple(sample_whole_groups(group, labels, 2, s).tolist()) for s in range(6)}) > 1  # seed matters
    assert np.array_equal(sample_whole_groups(group, labels, 3, 4), sample_whole_groups(group, labels, 3, 4))


def test_max_per_class_with_a_groups_file_keeps_the_twins(tmp_path, tiny_data):
    from deepfake_edge.train.data import load_split

    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    rows, reals, fakes = _twin_rows(data, 8)
    groups_file = _write_groups(data, rows)
    split = load_split(data, "Train", ModelContract(input_size=SIZE), batch_size=4, train=True, seed=1,
                       max_per_class=4, groups_file=groups_file)
    names = {(p.parent.name, p.name) for p in split.paths}
    assert split.class_counts["Real"] == 4 and split.class_counts["Fake"] == 4
    twins = [(r, f) for r, f in zip(reals, fakes) if ("Real", r) in names or ("Fake", f) in names]
    assert all(("Real", r) in names and ("Fake", f) in names for r, f in twins)
    assert split.source_groups == len(twins) >= 2
