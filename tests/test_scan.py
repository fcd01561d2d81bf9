"""`deepfake-edge scan` on Ray Data: one row per file, bad files as rows, resumable, manifests.

A local Ray instance (3 logical CPUs: two workers and the read/write tasks) is started once for the module, as `scan` would start one by
itself; the tiny ONNX model and MediaPipe's face detector run inside the Ray workers.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from tests.facekit import face_model_or_skip, grace_hopper, write_tiny_onnx
from tests.test_video import write_face_video

pytest.importorskip("ray", reason="the scale extra (ray[data]) is not installed")


@pytest.fixture(scope="module")
def ray_local():
    import ray

    ray.init(num_cpus=3, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.fixture()
def archive(tmp_path) -> tuple[Path, Path]:
    """(folder of media, model): two face photos, a blank image, a corrupt one, a face video."""
    face_model_or_skip()
    media = tmp_path / "media"
    (media / "sub").mkdir(parents=True)
    face = cv2.cvtColor(grace_hopper(), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(media / "face.jpg"), face)
    cv2.imwrite(str(media / "sub" / "face-flipped.png"), face[:, ::-1])
    cv2.imwrite(str(media / "blank.png"), face * 0 + 90)
    (media / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    write_face_video(media / "clip.mp4")
    (media / "notes.txt").write_text("not media")
    return media, write_tiny_onnx(tmp_path / "model.onnx")


def read_report(out: Path):
    import pyarrow.dataset as pds

    return pds.dataset([str(p) for p in out.glob("*.parquet")], format="parquet").to_table().to_pylist()


def scan(argv, monkeypatch):
    from tests.test_evaluate import cli_main

    return cli_main(["scan", *map(str, argv)], monkeypatch)


def test_scan_reports_every_file_and_the_bad_one_as_a_row(ray_local, archive, tmp_path, monkeypatch, capsys):
    media, model = archive
    out = tmp_path / "report"
    assert scan([media, "--model", model, "--out", out, "--workers", "2", "--batch-size", "2"], monkeypatch) == 1
    rows = {Path(r["path"]).name: r for r in read_report(out)}
    assert sorted(rows) == ["blank.png", "broken.jpg", "clip.mp4", "face-flipped.png", "face.jpg"]
    for name in ("face.jpg", "face-flipped.png"):
        r = rows[name]
        assert r["kind"] == "image" and r["faces"] == 1 and r["label"] in ("Real", "Fake") and r["error"] is None
        assert 0.0 <= r["max_fake_probability"] <= 1.0 and len(json.loads(r["entry_json"])["faces"][0]["box"]) == 4
    assert rows["blank.png"]["faces"] == 0 and rows["blank.png"]["label"] is None
    broken = rows["broken.jpg"]["error"]
    assert str(media / "broken.jpg") in broken and "\n" not in broken and rows["broken.jpg"]["label"] is None
    clip = rows["clip.mp4"]
    assert clip["kind"] == "video" and clip["frames_sampled"] > 0 and clip["video_verdict"] in ("Real", "Fake")
    assert all(":" in r["worker"] and r["worker_peak_rss_mb"] > 50 for r in rows.values())  # host:pid, its memory
    summary = capsys.readouterr().out
    assert "scanned 5 files" in summary and "1 errors" in summary


def test_a_rerun_resumes_and_scans_only_what_is_new(ray_local, archive, tmp_path, monkeypatch, capsys):
    media, model = archive
    out = tmp_path / "report"
    assert scan([media, "--model", model, "--out", out, "--max-files", "3"], monkeypatch) in (0, 1)
    assert len(read_report(out)) == 3  # a bounded run: the first 3 files
    capsys.readouterr()
    scan([media, "--model", model, "--out", out], monkeypatch)
    text = capsys.readouterr().out
    assert "scanned 2 files" in text and "3 already in the report were skipped" in text
    rows = read_report(out)
    assert len(rows) == 5 and len({r["path"] for r in rows}) == 5  # the other 2, nothing twice
    cv2.imwrite(str(media / "new.jpg"), cv2.cvtColor(grace_hopper(), cv2.COLOR_RGB2BGR))
    capsys.readouterr()
    scan([media, "--model", model, "--out", out], monkeypatch)
    text = capsys.readouterr().out
    assert "scanned 1 files" in text and "5 already in the report were skipped" in text
    assert len(read_report(out)) == 6
    scan([media, "--model", model, "--out", out], monkeypatch)
    assert "scanned 0 files" in capsys.readouterr().out


def test_a_manifest_with_relative_paths_and_a_jsonl_report(ray_local, archive, tmp_path, monkeypatch):
    media, model = archive
    manifest = media / "manifest.csv"
    manifest.write_text("path,source\nface.jpg,upload-1\nsub/face-flipped.png,upload-2\nmissing.jpg,upload-3\n")
    out = tmp_path / "report-jsonl"
    assert scan([manifest, "--model", model, "--out", out, "--format", "jsonl"], monkeypatch) == 1
    rows = [json.loads(line) for p in out.glob("*.json") for line in p.read_text().splitlines() if line]
    by_name = {Path(r["path"]).name: r for r in rows}
    assert by_name["face.jpg"]["faces"] == 1 and by_name["face-flipped.png"]["faces"] == 1
    assert "file not found" in by_name["missing.jpg"]["error"]


def test_a_bad_model_is_one_line_before_any_worker_starts(tmp_path, monkeypatch, capsys):
    (tmp_path / "media").mkdir()
    (tmp_path / "model.onnx").write_bytes(b"not onnx")
    cv2.imwrite(str(tmp_path / "media" / "a.png"), grace_hopper())
    rc = scan([tmp_path / "media", "--model", tmp_path / "model.onnx", "--out", tmp_path / "r"], monkeypatch)
    err = capsys.readouterr().err
    assert rc == 2 and "model.onnx" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
