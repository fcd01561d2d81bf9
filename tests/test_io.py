"""Reading inputs (`runtime/io.py`): non-regular files never block, OSErrors are one line, reads are capped."""
from __future__ import annotations

import json
import os
import threading

import cv2
import pytest

from deepfake_edge.runtime.errors import DeepfakeEdgeError, InputError
from tests.facekit import face_model_or_skip, grace_hopper, write_tiny_onnx


def finishes(fn, seconds: float = 10.0):
    """Run `fn` in a thread; fail (instead of hanging the suite) if it blocks. Returns its exception or result."""
    box = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            box["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"{fn} blocked for {seconds} s"
    return box.get("error", box.get("value"))


@pytest.fixture()
def odd_files(tmp_path):
    """A FIFO, a symlink loop, a too-long name and a missing file, each named like a real input."""
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    loop = tmp_path / "loop.png"
    os.symlink(loop, loop)
    return {"fifo": fifo, "loop": loop, "long": tmp_path / ("x" * 300 + ".jpg"), "missing": tmp_path / "gone.jpg"}


EXPECTED = {"fifo": "is a FIFO (named pipe)", "loop": "symlink loop", "long": "name too long",
            "missing": "file not found"}


def readers():
    from deepfake_edge.runtime.backends import open_backend
    from deepfake_edge.runtime.contract import ModelContract
    from deepfake_edge.runtime.images import read_rgb
    from deepfake_edge.runtime.video import open_video

    return {"image": read_rgb, "video": open_video, "model": open_backend, "contract": ModelContract.load}


@pytest.mark.parametrize("reader", ["image", "video", "model", "contract"])
@pytest.mark.parametrize("kind", ["fifo", "loop", "long", "missing"])
def test_every_reader_refuses_odd_files_in_one_line(odd_files, reader, kind):
    path = odd_files[kind]
    if reader == "video":
        path = path.with_suffix(".mp4")
        if kind == "fifo":
            os.mkfifo(path)
        elif kind == "loop":
            os.symlink(path, path)
    if reader == "model":
        path = path.with_suffix(".onnx")
        if kind == "fifo":
            os.mkfifo(path)
        elif kind == "loop":
            os.symlink(path, path)
    err = finishes(lambda: readers()[reader](path))
    assert isinstance(err, DeepfakeEdgeError), err
    text = str(err)
    assert EXPECTED[kind] in text and "\n" not in text
    assert path.name[:40] in text


def test_reads_are_capped(tmp_path):
    from deepfake_edge.runtime.io import read_bytes

    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * 4096)
    with pytest.raises(InputError, match=r"big\.bin: .* above the .* limit"):
        read_bytes(big, "image", max_bytes=1024)
    assert read_bytes(big, "image", max_bytes=4096) == b"\0" * 4096


def test_a_device_is_refused(tmp_path):
    from deepfake_edge.runtime.images import read_rgb

    err = finishes(lambda: read_rgb("/dev/zero"))  # endless: would never finish reading
    assert isinstance(err, InputError) and "is a device" in str(err)


def test_a_truncated_keras_model_says_so(tiny_run, tmp_path):
    from deepfake_edge.runtime.backends import open_backend

    cut = tmp_path / "model.keras"
    cut.write_bytes((tiny_run / "model.keras").read_bytes()[:2000])
    (tmp_path / "contract.json").write_bytes((tiny_run / "contract.json").read_bytes())
    with pytest.raises(DeepfakeEdgeError) as err:
        open_backend(cut)
    text = str(err.value)
    assert "not found" not in text and "\n" not in text and str(cut) in text


def test_detect_batch_keeps_going_and_names_what_it_skipped(tmp_path, odd_files, capsys, monkeypatch):
    from deepfake_edge.app import cli

    face_model_or_skip()
    monkeypatch.setattr(cli, "COMMANDS", ("detect",))
    folder = tmp_path / "batch"
    folder.mkdir()
    cv2.imwrite(str(folder / "face.jpg"), cv2.cvtColor(grace_hopper(), cv2.COLOR_RGB2BGR))
    os.mkfifo(folder / "stream.png")
    (folder / "notes.txt").write_text("not an image")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.md").write_text("nothing here")
    model = write_tiny_onnx(tmp_path / "model.onnx")
    args = ["detect", str(folder), str(odd_files["fifo"]), str(odd_files["loop"]), str(empty), "--model",
            str(model), "--json"]
    rc = finishes(lambda: cli.main(args), seconds=60)
    doc = json.loads(capsys.readouterr().out)  # always one complete document
    assert rc == 1
    by_path = {e["path"]: e for e in doc}
    assert len(by_path[str(folder / "face.jpg")]["faces"]) == 1  # the good file still gets its result
    assert "FIFO" in by_path[str(odd_files["fifo"])]["error"]
    assert "symlink loop" in by_path[str(odd_files["loop"])]["error"]
    assert "holds no image or video" in by_path[str(empty)]["error"]
    assert "not a regular file" in by_path[str(folder / "stream.png")]["skipped"]
    assert "not an image or video" in by_path[str(folder / "notes.txt")]["skipped"]
    assert "not an image or video" in by_path[str(empty / "readme.md")]["skipped"]


def test_detect_on_a_folder_with_no_images_is_an_error(tmp_path, capsys, monkeypatch):
    from deepfake_edge.app import cli

    face_model_or_skip()
    monkeypatch.setattr(cli, "COMMANDS", ("detect",))
    (tmp_path / "empty").mkdir()
    model = write_tiny_onnx(tmp_path / "model.onnx")
    assert cli.main(["detect", str(tmp_path / "empty"), "--model", str(model)]) == 1
    captured = capsys.readouterr()
    assert "folder holds no image or video files" in captured.out
    assert "1 of 1 inputs failed" in captured.err


def test_prepare_names_what_it_did_not_read(tmp_path):
    from deepfake_edge.train.prepare import list_sources

    raw = tmp_path / "raw"
    (raw / "Real").mkdir(parents=True)
    (raw / "Fake").mkdir()
    (raw / "Real" / "a.jpg").write_bytes(b"x")
    (raw / "Real" / "notes.txt").write_text("x")
    os.mkfifo(raw / "Fake" / "cam.mp4")
    unlisted = []
    found = finishes(lambda: list_sources(raw, unlisted))
    assert [p.name for p, _, _ in found] == ["a.jpg"]
    reasons = {os.path.basename(u["path"]): u["reason"] for u in unlisted}
    assert reasons["notes.txt"] == "not an image or video file" and reasons["cam.mp4"].startswith("not a regular file")


def test_evaluate_skips_a_fifo_in_a_class_folder_and_scores_the_rest(tiny_run, tiny_data, tmp_path, monkeypatch,
                                                                      caplog):
    import shutil

    from tests.test_evaluate import cli_main

    data = tmp_path / "data"
    shutil.copytree(tiny_data / "Test", data / "Test")
    os.mkfifo(data / "Test" / "Fake" / "stream.png")
    (data / "Test" / "Real" / "readme.txt").write_text("x")
    rc = finishes(lambda: cli_main(["evaluate", tiny_run, "--data", data, "--out", tmp_path / "eval"], monkeypatch),
                  seconds=120)
    assert rc == 0
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["n"] == 24  # all 12 + 12 real images, nothing else
    assert "stream.png" in caplog.text and "readme.txt" in caplog.text


def test_a_model_that_does_not_output_two_probabilities_is_refused_when_opened(tmp_path):
    """Logits, or a single sigmoid unit, are caught at open with one line naming the file."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper

    from deepfake_edge.runtime.backends import open_backend
    from deepfake_edge.runtime.contract import ModelContract, sidecar_path
    from deepfake_edge.runtime.errors import ModelFileError

    def model(path, outputs: int, softmax: bool):
        w = np.full((3, outputs), 5.0, np.float32)
        nodes = [helper.make_node("ReduceMean", ["input", "axes"], ["mean"], keepdims=0),
                 helper.make_node("MatMul", ["mean", "w"], ["logits" if softmax else "probs"])]
        if softmax:
            nodes.append(helper.make_node("Softmax", ["logits"], ["probs"], axis=1))
        graph = helper.make_graph(nodes, "m", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                                            ["N", 32, 32, 3])],
                                  [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", outputs])],
                                  initializer=[helper.make_tensor("axes", TensorProto.INT64, [2], [1, 2]),
                                               onnx.numpy_helper.from_array(w, "w")])
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
        m.ir_version = 9
        onnx.save(m, str(path))
        ModelContract(input_size=32, format="onnx").save(sidecar_path(path))
        return path

    with pytest.raises(ModelFileError, match=r"one\.onnx: outputs shape \(1, 1\) for one input, not \(1, 2\)"):
        open_backend(model(tmp_path / "one.onnx", 1, softmax=True))
    with pytest.raises(ModelFileError, match=r"logits\.onnx: .*not probabilities summing to 1"):
        open_backend(model(tmp_path / "logits.onnx", 2, softmax=False))
    with open_backend(model(tmp_path / "ok.onnx", 2, softmax=True)) as backend:
        assert backend.predict(np.zeros((3, 32, 32, 3), np.float32)).shape == (3, 2)
