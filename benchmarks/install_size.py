"""What a deployment pays: venv size, install time and `detect` cold start, base install vs full.

Builds the project's wheel, then for each profile makes a fresh venv and installs it with
pip (from pip's cache when warm: the install times say so), measures the venv on disk, the
largest packages in it, and the wall time of `deepfake-edge detect IMAGE --model MODEL.onnx`
as a new process (the first call, and the median of three more):

- base: `pip install deepfake-edge` (ONNX Runtime, MediaPipe + OpenCV, LiteRT, numpy)
- full: `pip install 'deepfake-edge[all]'` (+ TensorFlow, Keras, tf2onnx, scikit-learn, Gradio ...)

    .venv/bin/python benchmarks/install_size.py --model runs/demo/model.onnx

Writes benchmarks/results/install_size.md and install_size.json (with the machine).
"""
from __future__ import annotations

import argparse
import json
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
PROFILES = {"base": "", "full": "[all]"}
TARGETS = {"base_max_mb": 500, "min_ratio": 6.0, "base_cold_start_max_s": 1.5}


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 2**20


def build_wheel(work: Path) -> Path:
    src = work / "src"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(".venv", ".cache", "runs", "build", ".git", "*.egg-info",
                                                             "__pycache__", "benchmarks", "tests"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(work),
                    str(src)], check=True)
    return next(work.glob("deepfake_edge-*.whl"))


def timed(cmd: list) -> float:
    start = time.perf_counter()
    subprocess.run([str(c) for c in cmd], check=True, capture_output=True, text=True)
    return time.perf_counter() - start


def measure_profile(name: str, wheel: Path, work: Path, image: Path, model: Path) -> dict:
    venv = work / name
    install_s = timed([sys.executable, "-m", "venv", venv])
    install_s += timed([venv / "bin" / "python", "-m", "pip", "install", "-q", f"{wheel}{PROFILES[name]}"])
    site = next((venv / "lib").glob("python*/site-packages"))
    packages = sorted(((p.name, folder_mb(p)) for p in site.iterdir() if p.is_dir() and not p.name.endswith(
        (".dist-info", "__pycache__"))), key=lambda kv: -kv[1])
    detect = [venv / "bin" / "deepfake-edge", "detect", image, "--model", model, "--json"]
    first = timed(detect)
    warm = statistics.median(timed(detect) for _ in range(3))
    return {"venv_mb": round(folder_mb(venv), 1), "install_s": round(install_s, 1),
            "detect_first_s": round(first, 2), "detect_median_s": round(warm, 2),
            "largest": [(n, round(mb, 1)) for n, mb in packages[:8]]}


def main(argv=None) -> int:
    import cv2

    from deepfake_edge.runtime.profile import machine_info

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True, help="an exported .onnx model (with its contract)")
    ap.add_argument("--image", type=Path, help="a face image (default: matplotlib's Grace Hopper portrait)")
    ap.add_argument("--profiles", default=",".join(PROFILES))
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="install_size_") as tmp:
        work = Path(tmp)
        image = args.image
        if image is None:
            from deepfake_edge.app.bench import face_frame

            image = work / "face.jpg"
            cv2.imwrite(str(image), cv2.cvtColor(face_frame(), cv2.COLOR_RGB2BGR))
        wheel = build_wheel(work)
        results = {}
        for name in args.profiles.split(","):
            print(f"installing and measuring the {name} profile ...", flush=True)
            results[name] = measure_profile(name, wheel, work, image.resolve(), args.model.resolve())
    meta = {"machine": machine_info(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "command": "python benchmarks/install_size.py " + " ".join(shlex.quote(a) for a in
                                                                      (argv if argv is not None else sys.argv[1:])),
            "targets": TARGETS}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "install_size.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    (RESULTS / "install_size.md").write_text(to_markdown(results, meta))
    print((RESULTS / "install_size.md").read_text())
    return 0


def to_markdown(results: dict, meta: dict) -> str:
    lines = ["# Install size: the base (runtime-only) install against the full one", "",
             f"Machine: {meta['machine']}. Made by `{meta['command']}` on {meta['date']}. Install times are with",
             "pip's cache warm (as after `make setup`): they are unpack-and-link times, not download times.", "",
             "| profile | pip install | venv MB | install s | detect, first process s | detect, median of 3 s |",
             "|---|---|---:|---:|---:|---:|"]
    for name, r in results.items():
        lines.append(f"| {name} | `deepfake-edge{PROFILES[name]}` | {r['venv_mb']:.0f} | {r['install_s']:.0f} | "
                     f"{r['detect_first_s']:.2f} | {r['detect_median_s']:.2f} |")
    if {"base", "full"} <= results.keys():
        b, f = results["base"], results["full"]
        ratio = f["venv_mb"] / b["venv_mb"]
        t = meta["targets"]
        lines += ["", f"- Base is {ratio:.1f}x smaller than full (target >= {t['min_ratio']:g}x: "
                      f"{'met' if ratio >= t['min_ratio'] else 'MISSED'}); base size {b['venv_mb']:.0f} MB (target <= "
                      f"{t['base_max_mb']} MB: {'met' if b['venv_mb'] <= t['base_max_mb'] else 'MISSED'}); base "
                      f"detect cold start {b['detect_median_s']:.2f} s (target <= {t['base_cold_start_max_s']} s: "
                      f"{'met' if b['detect_median_s'] <= t['base_cold_start_max_s'] else 'MISSED'})."]
    for name, r in results.items():
        lines += ["", f"Largest packages, {name}: " + ", ".join(f"{n} {mb:.0f} MB" for n, mb in r["largest"]) + "."]
    notes = RESULTS / "install_size.notes.md"
    return "\n".join(lines) + "\n" + ("\n" + notes.read_text() if notes.is_file() else "")


if __name__ == "__main__":
    sys.exit(main())
