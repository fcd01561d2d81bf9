"""The in-browser bundle (`export --formats web`) as a backend: the page's own ONNX Runtime
Web session, driven in headless Chromium through Playwright.

`verify` and `bench` treat it like any other format: `predict` hands the preprocessed
batch to the page (`window.deepfakeEdge.classify`) and returns the probabilities the
browser computed, so parity with Keras is measured on exactly what a viewer's browser
runs. The bundle is served by its own `serve.py` (COOP/COEP headers, so WASM threads are
on) on a free 127.0.0.1 port. Chromium is the system's (`apt-get install chromium`, or
`DEEPFAKE_EDGE_CHROMIUM=/path/to/chrome`), never a browser Playwright downloads.

Options: `threads` (WASM threads in the page; default: the page's choice, up to 4) and
`ep` ("wasm" forces WebAssembly where the browser also has WebGPU). `last_infer_ms`
includes the hand-over to the page; `last_page_ms` is the page's own `session.run` time.
"""
from __future__ import annotations

import base64
import importlib.util
import os
import shutil
from pathlib import Path
from urllib.parse import urlencode

import numpy as np

from deepfake_edge.runtime.backends.base import Backend
from deepfake_edge.runtime.errors import MissingToolError, ModelFileError, require

ENV_CHROMIUM = "DEEPFAKE_EDGE_CHROMIUM"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync")
READY_TIMEOUT_MS = 120_000


def fake_camera_args(y4m) -> list[str]:
    """CHROMIUM_ARGS plus Chromium's fake camera playing `y4m` (granted without a prompt):
    how the tests and the benchmarks give a page a webcam."""
    return [*CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={y4m}"]

CLASSIFY_JS = """async ([b64, n]) => {
  const bin = atob(b64), bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const t0 = performance.now();
  const out = await window.deepfakeEdge.classify(new Float32Array(bytes.buffer), n);
  return [Array.from(out), performance.now() - t0];
}"""


def find_chromium() -> Path:
    """The system Chromium: $DEEPFAKE_EDGE_CHROMIUM, else the first of CHROMIUM_NAMES on PATH."""
    given = os.environ.get(ENV_CHROMIUM)
    if given:
        if not Path(given).is_file():
            raise MissingToolError(f"{ENV_CHROMIUM}={given}: no such browser executable")
        return Path(given)
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return Path(found)
    raise MissingToolError("running a web bundle needs Chromium (apt-get install chromium, or set "
                           f"{ENV_CHROMIUM}=/path/to/chrome)")


_SHARED = {"playwright": None, "users": 0}  # one Playwright driver per process: a second sync one cannot start


def acquire_playwright(sync_api):
    if _SHARED["playwright"] is None:
        _SHARED["playwright"] = sync_api.sync_playwright().start()
    _SHARED["users"] += 1
    return _SHARED["playwright"]


def release_playwright() -> None:
    _SHARED["users"] -= 1
    if _SHARED["users"] <= 0 and _SHARED["playwright"] is not None:
        playwright, _SHARED["playwright"], _SHARED["users"] = _SHARED["playwright"], None, 0
        playwright.stop()


def load_bundle_server(bundle: Path):
    """The bundle's own serve.py as a module (the one server for viewers, verify and bench)."""
    script = bundle / "serve.py"
    if not script.is_file():
        raise ModelFileError(f"{bundle}: not a web bundle (no serve.py; export it with --formats web)")
    spec = importlib.util.spec_from_file_location("deepfake_edge_bundle_serve", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BrowserBackend(Backend):
    runtime_name = "onnxruntime-web"

    def _load(self) -> None:
        self._server = self._playwright = self._browser = None
        try:
            self._start()
        except BaseException:
            self._close()  # a half-started browser or server is not left running
            raise

    def _start(self) -> None:
        sync_api = require("playwright.sync_api", package="playwright", extra="browser",
                           purpose="Running a web bundle in headless Chromium")
        chromium = find_chromium()
        for name in ("index.html", "manifest.json", "contract.json"):
            if not (self.path / name).is_file():
                raise ModelFileError(f"{self.path}: not a web bundle (no {name}; export it with --formats web)")
        self._server, base = load_bundle_server(self.path).serve_in_background(self.path)
        self._playwright = acquire_playwright(sync_api)
        self._browser = self._playwright.chromium.launch(executable_path=str(chromium), args=list(CHROMIUM_ARGS))
        self.page = self._browser.new_page()
        self._console: list[str] = []
        self.page.on("console", lambda m: self._console.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self._console.append(str(e)))
        query = {"threads": self.options.threads} if self.options.threads else {}
        self.url = base + "index.html" + (f"?{urlencode(query)}" if query else "")
        self.page.goto(self.url, wait_until="load")
        try:
            self.page.evaluate("() => window.deepfakeEdge.ready")
        except Exception as exc:  # noqa: BLE001 - the page's own error, reported in one line
            seen = "; ".join(self._console[-2:]) or str(exc).splitlines()[0]
            raise ModelFileError(f"{self.path}: the page did not start ({seen[:300]})") from None
        self.runtime_label = self.page.evaluate("() => window.deepfakeEdge.runtime")
        self.last_page_ms = float("nan")

    def _predict(self, batch: np.ndarray) -> np.ndarray:
        b64 = base64.b64encode(np.ascontiguousarray(batch, np.float32).tobytes()).decode("ascii")
        probs, self.last_page_ms = self.page.evaluate(CLASSIFY_JS, [b64, int(batch.shape[0])])
        return np.asarray(probs, np.float32).reshape(batch.shape[0], -1)

    def describe(self) -> str:
        return f"onnxruntime-web · {getattr(self, 'runtime_label', '?')} · headless Chromium"

    def _close(self) -> None:
        for closer in (lambda: self._browser and self._browser.close(),
                       lambda: self._playwright and release_playwright(),
                       lambda: self._server and self._server.shutdown()):
            try:
                closer()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
        self._browser = self._playwright = self._server = None
