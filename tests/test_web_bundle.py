"""`export --formats web`: the in-browser bundle computes what the Python runtime computes.

The bundle is built from the tiny run (the npm packages come from the registry once, into
the user cache, like pip's wheels) and run in Debian's Chromium through Playwright, as
`verify` runs it. Checked against the Python runtime on the same inputs:
- the model's probabilities (Keras, the fp32 tolerance verify applies: 1e-4);
- the crop rule (identical regions) and the preprocessed tensor (a stated per-pixel bound:
  the page resizes in float arithmetic, OpenCV in fixed point, so a value may differ by one
  level of 255 before normalisation);
- the face boxes of MediaPipe's detector in the page vs in Python (IoU >= 0.9);
- the live page on Chromium's fake camera: faces boxed and labelled, frames counted.

Skipped locally without npm / Chromium; FAILS when CI=true (the CI machine has both).
"""
from __future__ import annotations

import base64
import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.export_helpers import keras_fake_probs, labeled_crops
from tests.test_browser import CHROMIUM, chromium_or_skip, write_face_y4m
from tests.test_web import grace_hopper_path, require_face_model

pytestmark = pytest.mark.browser

# The page's resize is float arithmetic rounded once; OpenCV's bilinear is fixed point (11
# fractional bits) and its area filter rounds per pass: one level of 255 at most.
MAX_LEVELS = 1.0

_IMAGE = """async ([b64, w, h]) => {
  const bin = atob(b64), rgba = new Uint8ClampedArray(w * h * 4);
  for (let i = 0, j = 0; i < w * h; i++, j += 3) {
    rgba[4 * i] = bin.charCodeAt(j); rgba[4 * i + 1] = bin.charCodeAt(j + 1); rgba[4 * i + 2] = bin.charCodeAt(j + 2);
    rgba[4 * i + 3] = 255;
  }
  return await window.deepfakeEdge.analyze(new ImageData(rgba, w, h));
}"""
_PREPROCESS = """([b64, w, h]) => {
  const bin = atob(b64), rgb = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) rgb[i] = bin.charCodeAt(i);
  return Array.from(window.deepfakeEdge.preprocess(rgb, w, h));
}"""
_CROP_BOXES = """async (cases) => {
  const P = await import('./pipeline.js');
  return cases.map(([box, w, h, rule]) => P.cropBox(box, w, h, rule));
}"""


def npm_or_skip() -> None:
    if shutil.which("npm") and shutil.which("node"):
        return
    reason = "node/npm not found: the web bundle cannot be built here"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array, np.uint8).tobytes()).decode("ascii")


@pytest.fixture(scope="module")
def bundle(tiny_run, tmp_path_factory) -> Path:
    """The tiny run exported with --formats web (ONNX first)."""
    from deepfake_edge.app.cli import main

    npm_or_skip()
    chromium_or_skip()
    require_face_model()
    run = tmp_path_factory.mktemp("web_run") / "run"
    shutil.copytree(tiny_run, run)
    assert main(["export", str(run), "--formats", "web"]) == 0
    return run / "model_web"


@pytest.fixture(scope="module")
def page(bundle):
    """The bundle open in headless Chromium (the backend verify uses)."""
    from deepfake_edge.runtime.backends import open_backend

    backend = open_backend(bundle)
    yield backend
    backend.close()


def test_the_bundle_holds_everything_the_page_loads(bundle, tiny_run):
    from deepfake_edge.export.web import NPM_PACKAGES
    from deepfake_edge.runtime.contract import ModelContract

    manifest = json.loads((bundle / "manifest.json").read_text())
    for key, rel in manifest["files"].items():
        assert (bundle / rel).exists(), (key, rel)
    assert manifest["npm"] == {"onnxruntime-web": "1.30.0", "@mediapipe/tasks-vision": "1.1.0"}
    for package in NPM_PACKAGES:  # the copied files are the pinned versions' own
        vendored = next(dest for src, dest in package.files.items() if src == "package.json")
        assert json.loads((bundle / vendored).read_text())["version"] == package.version
    contract = ModelContract.load(bundle / "contract.json")
    run_contract = ModelContract.load(tiny_run / "contract.json")
    assert contract.format == "web" and contract.input_size == run_contract.input_size
    assert contract.crop_rule == run_contract.crop_rule and contract.normalization == run_contract.normalization
    assert (bundle / "model.onnx").read_bytes() == (bundle.parent / "model.onnx").read_bytes()
    assert (bundle.parent / "model_web.json").is_file()  # the sidecar, like every artifact's
    # nothing is fetched from elsewhere at page load: every import and URL in the page is relative
    for name in ("index.html", "app.js", "pipeline.js"):
        text = (bundle / name).read_text()
        assert "http://" not in text and "https://" not in text.replace("<code>https://</code>", ""), name
    # the JS holds no second copy of the contract's constants
    pipeline = (bundle / "pipeline.js").read_text()
    for constant in ("0.25", "0.0039", "/ 255", "0.485", "0.229", "min_face_px =", "threshold ="):
        assert constant not in pipeline, constant


def test_the_browser_computes_what_keras_computes(page, bundle, tiny_run, tiny_data):
    contract = page.contract
    batch, labels = labeled_crops(tiny_data, contract)
    want = keras_fake_probs(tiny_run, batch, contract)
    got = page.predict(batch)[:, contract.fake_index]
    assert np.abs(got - want).max() <= 1e-4
    assert "onnxruntime-web" in page.describe() and "WASM" in page.describe()


def test_verify_covers_the_web_format(bundle, tiny_data, capsys):
    from deepfake_edge.app.cli import main

    assert main(["verify", str(bundle.parent), "--data", str(tiny_data), "--formats", "web", "--strict"]) == 0
    report = json.loads((bundle.parent / "verify.json").read_text())
    entry = next(e for e in report if e["format"] == "web")
    assert entry["status"] == "pass" and entry["max_abs_diff"] <= 1e-4


def test_the_page_crops_like_runtime_faces(page):
    from deepfake_edge.runtime.faces import FaceBox, crop_box

    rng = np.random.default_rng(3)
    rule = page.contract.crop_rule
    cases, want = [], []
    for _ in range(300):
        w_img, h_img = int(rng.integers(40, 1280)), int(rng.integers(40, 960))
        bw, bh = rng.uniform(5, w_img), rng.uniform(5, h_img)
        box = FaceBox(rng.uniform(-20, w_img - 5), rng.uniform(-20, h_img - 5), bw, bh, 0.9)
        rule_json = {"margin": rule.margin, "square": bool(rng.integers(0, 2))}
        cases.append([{"x": box.x, "y": box.y, "w": box.w, "h": box.h}, w_img, h_img, rule_json])
        want.append(list(crop_box(box, (h_img, w_img), rule.__class__(margin=rule.margin,
                                                                       square=rule_json["square"]))))
    # half-pixel centres, where Python's round-half-even and Math.round part ways
    for x in (10.5, 11.5, 12.25):
        cases.append([{"x": x, "y": x, "w": 21.0, "h": 21.0}, 200, 200, {"margin": 0.0, "square": True}])
        want.append(list(crop_box(FaceBox(x, x, 21.0, 21.0), (200, 200), rule.__class__(margin=0.0))))
    assert page.page.evaluate(_CROP_BOXES, cases) == want


@pytest.mark.parametrize("shape", [(48, 48), (97, 61), (300, 300), (20, 20), (17, 29), (32, 32)])
def test_the_page_preprocesses_like_runtime_preprocess(page, shape):
    from deepfake_edge.runtime.preprocess import preprocess

    contract = page.contract
    rng = np.random.default_rng(shape[0])
    smooth = cv2.GaussianBlur(rng.integers(0, 256, (*shape, 3), dtype=np.uint8), (5, 5), 0)
    for crop in (rng.integers(0, 256, (*shape, 3), dtype=np.uint8), smooth):
        want = preprocess(crop, contract)
        got = np.asarray(page.page.evaluate(_PREPROCESS, [b64(crop), shape[1], shape[0]]), np.float32)
        got = got.reshape(want.shape)
        levels = np.abs(got - want) / np.asarray(contract.normalization.scale, np.float32)
        assert levels.max() <= MAX_LEVELS + 1e-3, (shape, float(levels.max()))
        assert (levels > 0.5).mean() < 0.2  # mostly identical, not merely within the bound


def test_the_page_finds_the_faces_python_finds(page):
    from deepfake_edge.runtime.detector import Detector
    from deepfake_edge.runtime.faces import FaceDetector

    face = cv2.cvtColor(cv2.imread(str(grace_hopper_path())), cv2.COLOR_BGR2RGB)
    two = np.concatenate([face, face[:, ::-1]], axis=1)  # two faces side by side
    small = cv2.resize(face, (face.shape[1] // 2, face.shape[0] // 2), interpolation=cv2.INTER_AREA)
    canvas = np.full((480, 640, 3), 40, np.uint8)
    canvas[100:100 + small.shape[0], 300:300 + small.shape[1]] = small[: 380, : 340]
    detector = FaceDetector(rule=page.contract.crop_rule)
    with Detector.from_path(page.path.parent / "model.onnx") as python_side:
        for image in (face, two, canvas):
            want = detector.detect(image)
            got = page.page.evaluate(_IMAGE, [b64(image), image.shape[1], image.shape[0]])
            assert len(got) == len(want) >= 1
            for g, w in zip(got, want):
                assert iou(g["box"], (w.x, w.y, w.w, w.h)) >= 0.9
            expected = python_side.detect(image)
            for g, e in zip(got, expected.faces):
                assert iou(g["box"], e.box) >= 0.9
                assert g["label"] in ("Real", "Fake")
                assert abs(g["fake_probability"] - e.fake_probability) <= 0.02
    detector.close()


def iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    return inter / (aw * ah + bw * bh - inter)


def test_the_live_page_boxes_faces_from_the_camera(bundle, tmp_path):
    """The page as a viewer opens it: serve.py, the fake camera, Start; frames are counted."""
    from playwright import sync_api

    from deepfake_edge.runtime.backends.browser import (acquire_playwright, fake_camera_args, load_bundle_server,
                                                        release_playwright)

    y4m = tmp_path / "face.y4m"
    write_face_y4m(y4m, frames=15)
    server, url = load_bundle_server(bundle).serve_in_background(bundle)
    p = acquire_playwright(sync_api)  # shared with the `page` fixture's backend, if open
    browser = p.chromium.launch(executable_path=str(CHROMIUM), args=fake_camera_args(y4m))
    try:
        page = browser.new_page()
        page.goto(url + "index.html", wait_until="load")
        page.evaluate("() => window.deepfakeEdge.ready")
        assert page.evaluate("() => self.crossOriginIsolated")  # serve.py's headers: WASM threads on
        page.click("#start")
        page.wait_for_function("() => window.deepfakeEdge.frames >= 10", timeout=60_000)
        stats = page.evaluate("() => window.deepfakeEdge.stats()")
        faces = page.evaluate("() => window.deepfakeEdge.lastFaces")
        text = page.inner_text("#stats")
        page.click("#stop")
    finally:
        browser.close()
        release_playwright()
        server.shutdown()
    assert len(faces) == 1 and faces[0]["label"] in ("Real", "Fake")
    x, y, w, h = faces[0]["box"]
    assert 150 < x + w / 2 < 490 and 100 < y + h / 2 < 380  # the face is in the middle of the frame
    assert stats["fps"] > 0 and stats["p50_ms"] > 0
    assert "frames/s" in text and "ms per frame" in text


def test_without_npm_the_export_is_one_line_and_keeps_nothing(run_copy, tmp_path, monkeypatch, capsys):
    from deepfake_edge.app.cli import main

    face_model = require_face_model()
    monkeypatch.setenv("DEEPFAKE_EDGE_CACHE", str(tmp_path / "empty-cache"))  # no npm packages installed yet
    monkeypatch.setenv("DEEPFAKE_EDGE_FACE_MODEL", str(face_model))
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))
    assert main(["export", str(run_copy), "--formats", "web"]) == 1
    out = capsys.readouterr()
    assert "needs node and npm to take onnxruntime-web 1.30.0 and @mediapipe/tasks-vision 1.1.0" in out.out + out.err
    assert not (run_copy / "model_web").exists()


def test_without_chromium_verify_skips_the_bundle_and_strict_says_so(bundle, tiny_data, monkeypatch, capsys):
    from deepfake_edge.app.cli import main

    monkeypatch.setenv("DEEPFAKE_EDGE_CHROMIUM", "/nonexistent/chrome")
    argv = ["verify", str(bundle.parent), "--data", str(tiny_data), "--formats", "web"]
    assert main(argv) == 0
    assert "DEEPFAKE_EDGE_CHROMIUM=/nonexistent/chrome: no such browser executable" in capsys.readouterr().out
    assert main([*argv, "--strict"]) == 3


def test_no_webgpu_leaves_the_webgpu_build_out(run_copy):
    from deepfake_edge.app.cli import main

    npm_or_skip()
    require_face_model()
    assert main(["export", str(run_copy), "--formats", "web", "--no-web-webgpu"]) == 0
    bundle = run_copy / "model_web"
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["webgpu"] is False and "ort_webgpu" not in manifest["files"]
    assert not (bundle / "vendor" / "onnxruntime-web" / "ort.webgpu.min.mjs").exists()
    assert (bundle / "vendor" / "onnxruntime-web" / "ort-wasm-simd-threaded.wasm").is_file()
    assert manifest["size_mb"] < 45  # ~41 MB: the WASM builds of both packages; ~68 MB with WebGPU


def test_the_app_serves_the_bundle_as_its_in_browser_tab(bundle, page):
    """`deepfake-edge app` on a run with a bundle: the tab links /web/, the same server serves
    it isolated (WASM threads), and the page there classifies as the bundle does."""
    from deepfake_edge.app import web
    from tests.test_web import free_port

    port = free_port()
    blocks = web.launch(model=bundle.parent / "model.onnx", port=port, prevent_thread_lock=True, quiet=True)
    try:
        assert blocks.web_bundle == bundle
        assert not any("model_web" in path for _, path in web.models_in_run(bundle.parent))  # not a server model
        tab = page._browser.new_page()
        tab.goto(f"http://127.0.0.1:{port}/", wait_until="load")
        tab.get_by_role("tab", name="In your browser").click()
        link = tab.get_by_role("link", name="Open the in-browser detector")
        assert link.get_attribute("href") == "/web/index.html"
        tab.goto(f"http://127.0.0.1:{port}/web/index.html", wait_until="load")
        tab.evaluate("() => window.deepfakeEdge.ready")
        assert tab.evaluate("() => self.crossOriginIsolated")
        x = np.random.default_rng(5).random((2, page.contract.input_size, page.contract.input_size, 3), np.float32)
        from deepfake_edge.runtime.backends.browser import CLASSIFY_JS

        probs, _ = tab.evaluate(CLASSIFY_JS, [base64.b64encode(x.tobytes()).decode(), 2])
        np.testing.assert_allclose(np.asarray(probs).reshape(2, -1), page.predict(x), atol=1e-6)
        tab.close()
    finally:
        blocks.close()


def test_without_a_bundle_the_tab_says_how_to_make_one(tiny_run):
    from deepfake_edge.app import browser_tab

    assert browser_tab.bundle_for(tiny_run / "model.keras") is None
    text = browser_tab.tab_markdown(None, str(tiny_run))
    assert f"deepfake-edge export {tiny_run} --formats web" in text


def test_without_chromium_the_bundle_is_written_and_left_to_verify(run_copy, monkeypatch, caplog):
    from deepfake_edge.app.cli import main

    npm_or_skip()
    require_face_model()
    monkeypatch.setenv("DEEPFAKE_EDGE_CHROMIUM", "/nonexistent/chrome")
    with caplog.at_level("WARNING"):
        assert main(["export", str(run_copy), "--formats", "web"]) == 0
    assert (run_copy / "model_web" / "index.html").is_file() and (run_copy / "model_web.json").is_file()
    assert "not checked against Keras here" in caplog.text and "/nonexistent/chrome" in caplog.text


def test_the_browser_benchmark_measures_both_thread_settings(bundle, tmp_path):
    from tests.benchmark_scripts import load_benchmark

    script = load_benchmark("browser_live")
    out = tmp_path / "browser_live"
    assert script.main([str(bundle.parent), "--seconds", "1.5", "--warmup", "0.5", "--out", str(out)]) == 0
    doc = json.loads(out.with_suffix(".json").read_text())
    assert [r["config"] for r in doc["rows"]] == list(script.CONFIGS)
    assert "1 thread" in doc["rows"][1]["runtime"]
    for row in doc["rows"]:
        assert row["frames"] > 0 and row["fps"] > 0 and row["faces_last_frame"] == 1
        assert row["stages_p50_ms"]["detect"] > 0 and row["stages_p50_ms"]["classify"] > 0
    md = out.with_suffix(".md").read_text()
    assert "Machine:" in md and "WASM SIMD, 1 thread" in md
