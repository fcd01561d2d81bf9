"""`export --formats web`: the whole detector as a static in-browser bundle.

    model_web/
      index.html, app.js, pipeline.js   the page: camera -> face detector -> crop -> model -> overlay
      manifest.json                     which file is what, the npm versions, sizes, SHA-256s
      contract.json                     the model's contract: every constant the page uses
      model.onnx                        the run's FP32 ONNX (ONNX Runtime Web runs it)
      face_detector.tflite              the contract's MediaPipe face detector
      vendor/onnxruntime-web/           ort.wasm.min.mjs (+ ort.webgpu.min.mjs) and their .wasm
      vendor/tasks-vision/              vision_bundle.mjs and wasm/vision_wasm_internal.*
      serve.py, README.md               a standard-library server (COOP/COEP, 127.0.0.1)

No frame leaves the viewer's machine, and nothing is fetched at page load: the JS packages
come from the npm registry at the pinned versions below when the bundle is BUILT (into
the user cache, once; `npm` must be on PATH, or `DEEPFAKE_EDGE_NPM_DIR` names a folder
where they are installed), and only the files the page needs are copied in. The page's
crop rule and preprocessing are ports of `runtime.faces` / `runtime.preprocess` reading
their constants from contract.json; `deepfake-edge verify` runs the bundle in headless
Chromium (`runtime.backends.browser`) and compares it with Keras.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from deepfake_edge.export.common import artifact_contract, finish, load_keras, staged, target, write_sidecar
from deepfake_edge.export.options import WebOptions
from deepfake_edge.runtime.contract import ModelContract
from deepfake_edge.runtime.errors import InputError, MissingExtraError, MissingToolError

log = logging.getLogger(__name__)

PAGE_DIR = Path(__file__).resolve().parent / "web_page"
PAGE_FILES = ("index.html", "app.js", "pipeline.js", "serve.py")
ENV_NPM_DIR = "DEEPFAKE_EDGE_NPM_DIR"


@dataclass(frozen=True)
class NpmPackage:
    name: str
    version: str
    files: dict[str, str]  # path inside the package -> path inside the bundle
    optional_files: dict[str, str]  # copied only when the option that needs them is on (WebGPU)


# The JS the page runs, pinned (checked in ../shared/STACK.md). ONNX Runtime Web's WASM
# build (SIMD + threads) always; its WebGPU build (asyncify) when `--web-webgpu` (default).
NPM_PACKAGES: tuple[NpmPackage, ...] = (
    NpmPackage("onnxruntime-web", "1.30.0", {
        "dist/ort.wasm.min.mjs": "vendor/onnxruntime-web/ort.wasm.min.mjs",
        "dist/ort-wasm-simd-threaded.mjs": "vendor/onnxruntime-web/ort-wasm-simd-threaded.mjs",
        "dist/ort-wasm-simd-threaded.wasm": "vendor/onnxruntime-web/ort-wasm-simd-threaded.wasm",
        "package.json": "vendor/onnxruntime-web/package.json",  # version and licence (MIT)
    }, {
        "dist/ort.webgpu.min.mjs": "vendor/onnxruntime-web/ort.webgpu.min.mjs",
        "dist/ort-wasm-simd-threaded.asyncify.mjs": "vendor/onnxruntime-web/ort-wasm-simd-threaded.asyncify.mjs",
        "dist/ort-wasm-simd-threaded.asyncify.wasm": "vendor/onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm",
    }),
    NpmPackage("@mediapipe/tasks-vision", "1.1.0", {
        "vision_bundle.mjs": "vendor/tasks-vision/vision_bundle.mjs",
        "wasm/vision_wasm_internal.js": "vendor/tasks-vision/wasm/vision_wasm_internal.js",
        "wasm/vision_wasm_internal.wasm": "vendor/tasks-vision/wasm/vision_wasm_internal.wasm",
        "wasm/vision_wasm_nosimd_internal.js": "vendor/tasks-vision/wasm/vision_wasm_nosimd_internal.js",
        "wasm/vision_wasm_nosimd_internal.wasm": "vendor/tasks-vision/wasm/vision_wasm_nosimd_internal.wasm",
        "package.json": "vendor/tasks-vision/package.json",  # version and licence (Apache-2.0)
    }, {}),
)
# What manifest.json's "files" map tells the page (app.js reads these keys).
PAGE_ENTRIES = {"contract": "contract.json", "model": "model.onnx", "face_model": "face_detector.tflite",
                "ort_dir": "vendor/onnxruntime-web", "ort_wasm": "vendor/onnxruntime-web/ort.wasm.min.mjs",
                "mediapipe": "vendor/tasks-vision/vision_bundle.mjs", "mediapipe_wasm": "vendor/tasks-vision/wasm"}


def npm_cache_dir() -> Path:
    root = os.environ.get("DEEPFAKE_EDGE_CACHE") or str(Path.home() / ".cache" / "deepfake-edge")
    key = "-".join(f"{p.name.replace('/', '+')}@{p.version}" for p in NPM_PACKAGES)
    return Path(root).expanduser() / "npm" / key


def cannot_build_reason() -> str | None:
    """Why `export --formats web` cannot run here (no npm and no installed packages), else None."""
    try:
        node_modules(install=False)
    except (InputError, MissingToolError) as exc:
        return str(exc)
    return None


def node_modules(install: bool = True) -> Path:
    """A node_modules folder holding every pinned package at its pinned version (npm install once;
    `install=False`: only say whether it could be had, install nothing)."""
    given = os.environ.get(ENV_NPM_DIR)
    folder = Path(given).expanduser() if given else npm_cache_dir()
    modules = folder / "node_modules" if (folder / "node_modules").is_dir() or not given else folder
    if all(_installed_version(modules, p) == p.version for p in NPM_PACKAGES):
        return modules
    if given:
        wrong = [f"{p.name}@{_installed_version(modules, p) or 'missing'}" for p in NPM_PACKAGES
                 if _installed_version(modules, p) != p.version]
        raise InputError(f"{ENV_NPM_DIR}={given}: needs " + ", ".join(f"{p.name}@{p.version}" for p in NPM_PACKAGES)
                         + f" (found {', '.join(wrong)})")
    npm = shutil.which("npm")
    if npm is not None and shutil.which("node") is not None and not install:
        return folder / "node_modules"  # not installed yet, but it can be
    if npm is None or shutil.which("node") is None:
        raise MissingToolError(
            "export --formats web needs node and npm to take " + " and ".join(f"{p.name} {p.version}" for p in
                                                                               NPM_PACKAGES)
            + " from the npm registry (install Node.js, e.g. `apt-get install nodejs npm`, or set "
            f"{ENV_NPM_DIR} to a folder where they are installed)")
    folder.mkdir(parents=True, exist_ok=True)
    specs = [f"{p.name}@{p.version}" for p in NPM_PACKAGES]
    log.info("web: npm install %s into %s (once)", " ".join(specs), folder)
    done = subprocess.run([npm, "install", "--prefix", str(folder), "--no-save", "--ignore-scripts", "--no-audit",
                           "--no-fund", "--loglevel=error", *specs], capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise InputError(f"npm install {' '.join(specs)} failed (exit {done.returncode}): {last[0][:200]}")
    return folder / "node_modules"


def _installed_version(modules: Path, package: NpmPackage) -> str | None:
    try:
        return json.loads((modules / package.name / "package.json").read_text()).get("version")
    except (OSError, ValueError):
        return None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def export_web(run_dir: Path, contract: ModelContract, *, data: Path | None = None, **options) -> Path:
    """Write the run's in-browser bundle (exporting the FP32 ONNX first when missing)."""
    from deepfake_edge.export.onnx import fp32_onnx
    from deepfake_edge.runtime.faces import resolve_face_model

    opts = WebOptions.from_options(options)
    run_dir = Path(run_dir)
    onnx_path = fp32_onnx(run_dir, contract, data)
    face_model = resolve_face_model(kind=contract.crop_rule.detector)
    modules = node_modules()
    final = target(run_dir, "web")
    web_contract = artifact_contract(contract, "web", onnx=onnx_path.name,
                                     npm={p.name: p.version for p in NPM_PACKAGES})
    with staged(final) as tmp:
        tmp.mkdir()
        for name in PAGE_FILES:
            shutil.copyfile(PAGE_DIR / name, tmp / name)
        shutil.copyfile(onnx_path, tmp / PAGE_ENTRIES["model"])
        shutil.copyfile(face_model, tmp / PAGE_ENTRIES["face_model"])
        web_contract.save(tmp / PAGE_ENTRIES["contract"])
        entries = dict(PAGE_ENTRIES)
        for package in NPM_PACKAGES:
            wanted = {**package.files, **(package.optional_files if opts.webgpu else {})}
            for source, dest in wanted.items():
                (tmp / dest).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(modules / package.name / source, tmp / dest)
        if opts.webgpu:
            entries["ort_webgpu"] = "vendor/onnxruntime-web/ort.webgpu.min.mjs"
        files = sorted(p for p in tmp.rglob("*") if p.is_file())
        manifest = {
            "files": entries,
            "npm": {p.name: p.version for p in NPM_PACKAGES},
            "webgpu": opts.webgpu,
            "face_model": face_model.name,
            "sha256": {"model.onnx": _sha256(tmp / PAGE_ENTRIES["model"]),
                       "face_detector.tflite": _sha256(tmp / PAGE_ENTRIES["face_model"])},
            "size_mb": round(sum(p.stat().st_size for p in files) / 1e6, 1),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        (tmp / "README.md").write_text(readme_text(web_contract, manifest))
    log.info("web: %s (%.1f MB, npm %s)", final, manifest["size_mb"],
             ", ".join(f"{k}@{v}" for k, v in manifest["npm"].items()))
    no_browser = _cannot_run_reason()
    if no_browser is None:  # like every format: reloaded through its backend (the page) and checked vs Keras
        return finish(run_dir, "web", final, web_contract, load_keras(run_dir), data)
    write_sidecar(final, web_contract)
    log.warning("web: %s not checked against Keras here (%s); `deepfake-edge verify` checks it where "
                "Chromium runs", final.name, no_browser)
    return final


def _cannot_run_reason() -> str | None:
    from deepfake_edge.runtime.backends.browser import find_chromium
    from deepfake_edge.runtime.extras import check_extra

    try:
        check_extra("browser", "checking the web bundle in headless Chromium")
        find_chromium()
    except MissingExtraError as exc:  # playwright not installed, or no Chromium (MissingToolError)
        return str(exc)
    return None


def readme_text(contract: ModelContract, manifest: dict) -> str:
    npm = ", ".join(f"`{k}` {v}" for k, v in manifest["npm"].items())
    return f"""# deepfake-edge in your browser

The whole detector runs in this page, on the viewer's own device: the camera, MediaPipe's
face detector, the crop rule and preprocessing of the model's contract, and the
{contract.arch} model ({contract.input_size}x{contract.input_size}, {contract.precision}) in
ONNX Runtime Web (WASM SIMD with threads; WebGPU when the browser has it
{'' if manifest['webgpu'] else '— not in this bundle, exported with --no-web-webgpu'}).
No frame leaves the machine and nothing is downloaded at page load ({manifest['size_mb']} MB
in all; JS from npm: {npm}).

    python serve.py            # then open http://127.0.0.1:8765/

Browsers allow the camera only on `localhost` or `https://` pages, and WebAssembly threads
only on a cross-origin-isolated page: `serve.py` binds 127.0.0.1 and sends the
Cross-Origin-Opener/Embedder-Policy headers. Any static server works if it does the same
(without those headers the model runs single-threaded). `deepfake-edge app` serves this
bundle too (its "In your browser" tab).

Decision: Fake when the calibrated fake probability (temperature {contract.temperature:g})
is at least {contract.threshold:.4f}. Every constant the page uses is read from
`contract.json`.
"""
