"""Every class of bad input (tests/badcorpus.py) through every command and the app.

For each command that reads user files (`detect`, `evaluate`, `verify`, `bench`, and the
app's image and video endpoints), the corpus is mixed with good files and the test
asserts what a user relies on: the exit code, one line per bad file naming it and the
problem, no traceback, no hang, and the good files' results still there. Bad *folder*
arguments (too long, a symlink loop, a file where a folder belongs) get one line too.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import cv2
import pytest

from tests.badcorpus import too_long_name, write_corpus
from tests.facekit import face_model_or_skip, grace_hopper, write_tiny_onnx
from tests.test_io import finishes

IMAGE_CLASSES = ("empty image", "text named .jpg", "truncated JPEG", "truncated PNG", "decompression bomb", "FIFO",
                 "symlink loop", "dangling symlink")
# what each class's one line says (the reader's words)
SAYS = {"empty image": "empty file (0 bytes)", "text named .jpg": "not an image file",
        "truncated JPEG": "corrupt or truncated image", "truncated PNG": "corrupt or truncated image",
        "decompression bomb": "too large", "FIFO": "is a FIFO (named pipe)", "symlink loop": "symlink loop",
        "dangling symlink": "file not found", "empty video": "empty video file (0 bytes)",
        "text named .mp4": "cannot open as a video", "truncated video header": "cannot open as a video",
        "folder named .jpg": "folder holds no image or video files", "name too long": "name too long"}


def one_line_errors(stderr: str) -> list[str]:
    assert "Traceback" not in stderr
    return [line for line in stderr.splitlines() if ": error: " in line]


def test_detect_reports_every_bad_file_in_one_line_and_still_detects_the_good_one(tmp_path, capsys, monkeypatch):
    from deepfake_edge.app import cli

    face_model_or_skip()
    monkeypatch.setattr(cli, "COMMANDS", ("detect",))
    corpus = write_corpus(tmp_path / "bad")
    corpus["name too long"] = too_long_name(tmp_path)
    good = tmp_path / "face.jpg"
    cv2.imwrite(str(good), cv2.cvtColor(grace_hopper(), cv2.COLOR_RGB2BGR))
    model = write_tiny_onnx(tmp_path / "model.onnx")
    args = ["detect", str(good), *map(str, corpus.values()), "--model", str(model), "--json"]
    rc = finishes(lambda: cli.main(args), seconds=120)
    out = capsys.readouterr()
    doc = json.loads(out.out)  # one complete document, whatever failed
    assert rc == 1 and "Traceback" not in out.err
    by_path = {e["path"]: e for e in doc}
    assert len(by_path[str(good)]["faces"]) == 1
    for name, path in corpus.items():
        error = by_path[str(path)]["error"]
        assert SAYS[name] in error and str(path) in error and "\n" not in error, (name, error)


@pytest.fixture()
def data_with_corpus(tiny_data, tmp_path) -> Path:
    """The tiny Kaggle tree with the image corpus inside both Test class folders."""
    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    for cls in ("Real", "Fake"):
        bad = write_corpus(tmp_path / f"corpus-{cls}")
        for name in IMAGE_CLASSES:
            src = bad[name]
            dst = data / "Test" / cls / f"bad-{src.name}"
            if src.is_symlink() or not src.is_file():
                if name == "FIFO":
                    os.mkfifo(dst)
                elif name == "symlink loop":
                    os.symlink(dst, dst)
                else:
                    os.symlink(dst.with_name("nowhere.jpg"), dst)
            else:
                shutil.copyfile(src, dst)
    return data


def test_evaluate_scores_the_good_images_and_names_the_bad(tiny_run, data_with_corpus, tmp_path, monkeypatch, caplog):
    from tests.test_evaluate import cli_main

    rc = finishes(lambda: cli_main(["evaluate", tiny_run, "--data", data_with_corpus, "--out", tmp_path / "eval"],
                                   monkeypatch), seconds=180)
    assert rc == 0
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["n"] == 24  # the 12 + 12 good Test images, none of the 16 bad ones
    for name in ("bad-empty.jpg", "bad-text.jpg", "bad-truncated.png", "bad-bomb.png", "bad-pipe.jpg",
                 "bad-loop.png"):
        assert name in caplog.text, name


def test_verify_and_bench_check_on_the_good_images_and_name_the_bad(run_copy, data_with_corpus, tmp_path,
                                                                      monkeypatch, caplog, capsys):
    from tests.test_evaluate import cli_main

    assert cli_main(["export", run_copy, "--formats", "onnx"], monkeypatch) == 0
    rc = finishes(lambda: cli_main(["verify", run_copy, "--data", data_with_corpus, "--strict"], monkeypatch),
                  seconds=180)
    assert rc == 0
    report = json.loads((run_copy / "verify.json").read_text())
    assert {e["format"]: e["status"] for e in report} == {"keras": "reference", "h5": "pass", "onnx": "pass"}
    assert "bad-truncated.jpg" in caplog.text and "bad-bomb.png" in caplog.text
    rc = finishes(lambda: cli_main(["bench", run_copy, "--data", data_with_corpus, "--formats", "onnx", "--no-frame",
                                    "--min-runs", "5", "--min-seconds", "0.1", "--out", tmp_path / "bench"],
                                   monkeypatch), seconds=180)
    assert rc == 0
    rows = json.loads((tmp_path / "bench" / "bench.json").read_text())["rows"]
    assert [r["status"] for r in rows if r["format"] == "onnx"] == ["ok"]
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("command", ["evaluate", "verify", "bench", "export"])
@pytest.mark.parametrize("bad", ["name too long", "symlink loop", "a file"])
def test_a_bad_run_or_data_folder_is_one_line(command, bad, tiny_run, tiny_data, tmp_path, monkeypatch, capsys):
    from tests.test_evaluate import cli_main

    if bad == "name too long":
        folder = too_long_name(tmp_path).with_suffix("")
    elif bad == "symlink loop":
        folder = tmp_path / "loop"
        os.symlink(folder, folder)
    else:
        folder = tmp_path / "notes.txt"
        folder.write_text("a file, not a folder")
    argv = {"evaluate": ["evaluate", tiny_run, "--data", folder], "verify": ["verify", folder, "--data", tiny_data],
            "bench": ["bench", folder, "--data", tiny_data], "export": ["export", folder, "--formats", "onnx"]}[command]
    rc = finishes(lambda: cli_main(argv, monkeypatch), seconds=60)
    errors = one_line_errors(capsys.readouterr().err)
    assert rc == 2 and len(errors) == 1, errors
    says = {"name too long": "name too long", "symlink loop": "symlink loop", "a file": "is a file, not a"}[bad]
    assert says in errors[0] and str(folder)[:60] in errors[0]


def test_the_app_answers_every_bad_upload_in_one_line_naming_it(tmp_path):
    from gradio_client import Client, handle_file

    from deepfake_edge.app import web
    from tests.test_web import free_port

    face_model_or_skip()
    corpus = write_corpus(tmp_path / "bad")
    model = write_tiny_onnx(tmp_path / "model.onnx")
    blocks = web.build_app(model, max_pixels=4_000_000, max_bytes=2 * 1024 * 1024)
    web.launch(blocks, port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{blocks.server_port}/", verbose=False, httpx_kwargs={"timeout": 120})
        for name in ("text named .jpg", "truncated JPEG", "truncated PNG", "decompression bomb"):
            path = corpus[name]
            status = client.predict(handle_file(str(path)), False, api_name="/image")[2]
            assert path.name in status and "\n" not in status.strip(), (name, status)
            assert "/tmp" not in status and "Traceback" not in status, status  # no server paths
        for name in ("text named .mp4", "truncated video header"):
            path = corpus[name]
            status = client.predict(handle_file(str(path)), False, api_name="/video")[2]
            assert path.name in status and "cannot open as a video" in status and "/tmp" not in status, status
        good = tmp_path / "face.jpg"  # and the app still serves
        cv2.imwrite(str(good), cv2.cvtColor(grace_hopper(), cv2.COLOR_RGB2BGR))
        assert "1 face" in client.predict(handle_file(str(good)), False, api_name="/image")[2]
    finally:
        blocks.close()
        blocks.service.close()
