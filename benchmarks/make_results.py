"""Regenerate benchmarks/RESULTS.md: the bench table + chart for the demo model and for the
DFDC-trained edge model, the DFDC parity table, and links to the other measured results.

    .venv/bin/python benchmarks/make_results.py            # or: make results

Steps (each skipped with a note when its input is missing):
1. the demo run (`runs/demo/run`, made by `make demo` if absent): `deepfake-edge bench`
   with its Test split -> benchmarks/results/bench-demo/;
2. the DFDC edge run (`runs/dfdc-edge`, made by benchmarks/quality.py) on
   ../shared/data/dfdc-faces: export + verify (benchmarks/verify_dfdc.py), then bench on
   its Test split -> benchmarks/results/bench-dfdc/;
3. RESULTS.md assembled from those and the other results files. On a GPU machine the
   same command adds the GPU rows (CUDA / TensorRT EP, TensorRT engine) to both tables.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
DEMO_OUT = REPO / "runs" / "demo"
DFDC_RUN = REPO / "runs" / "dfdc-edge"
DFDC_DATA = REPO / ".." / "shared" / "data" / "dfdc-faces"
CLI = [sys.executable, "-m", "deepfake_edge.app"]

# Other results files, each written by its own script: (title, file, producing command).
OTHER_RESULTS = (
    ("Per-stage latency of one 640x480 frame (DFDC edge model)", "frame_latency.md",
     "python benchmarks/frame_latency.py --run runs/dfdc-edge"),
    ("Flip averaging (`train --flip-average`): AUC and latency with and without it", "flip_average.md",
     "python benchmarks/flip_average.py RUN..."),
    ("Training and input-pipeline throughput", "train_throughput.md", "python benchmarks/train_throughput.py"),
    ("Web app under load (Gradio's path and POST /api/frame), and the browser's glass-to-glass latency", "load_test.md",
     "python benchmarks/load_test.py"),
    ("One live frame in the server, stage by stage, per webcam frame size", "live_profile.md",
     "python benchmarks/live_profile.py --model MODEL"),
    ("Explanation heat maps (`detect --explain`): cost per face", "explain_cost.md",
     "python benchmarks/explain_cost.py MODEL..."),
    ("Install size: base (runtime-only) vs full install, detect cold start", "install_size.md",
     "python benchmarks/install_size.py --model MODEL.onnx"),
    ("Cross-manipulation: scores on fakes no run trained on (landmark face swap, self-blends)",
     "cross_manipulation.md", "python benchmarks/cross_manipulation.py"),
    ("Data scaling: the edge recipe on 5k / 10k / 23k faces, over seeds", "data_scaling.md",
     "python benchmarks/data_scaling.py"),
    ("The detector in the browser (`export --formats web`): frames/s and latency inside the page",
     "browser_live.md", "python benchmarks/browser_live.py RUN..."),
    ("The /live page (server inference, boxes drawn by the page): frames/s and glass-to-glass per tab",
     "live_page.md", "python benchmarks/live_page.py --model MODEL"),
    ("The app server's own memory under 8 clients (clients in another process)", "server_memory.md",
     "python benchmarks/server_memory.py --model MODEL"),
    ("The same with glibc's default heap settings", "server_memory.glibc-default.md",
     "python benchmarks/server_memory.py --model MODEL --malloc-arenas 0 --out benchmarks/results/server_memory.glibc-default.md"),
    ("Backbones at the edge: parameters, FLOPs and batch-1 ONNX latency of each ImageNet cut", "backbones.md",
     "python benchmarks/backbones.py"),
    ("scan on Ray Data vs detect; a 1,000,000-row manifest with resume", "scan_throughput.md",
     "python benchmarks/scan_throughput.py --model MODEL"),
)


def rel(path: Path) -> str:
    """Paths in commands and tables are relative to the repository, as a reader would type them."""
    return os.path.relpath(path, REPO) if isinstance(path, Path) else str(path)


def run(cmd: list) -> int:
    cmd = [rel(c) for c in cmd]
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=REPO).returncode


def bench(run_dir: Path, data: Path, out: Path, extra: list[str]) -> bool:
    if out.exists():
        shutil.rmtree(out)
    code = run([*CLI, "bench", run_dir, "--data", data, "--out", out, *extra])
    return code == 0 and (out / "bench.md").is_file()


def section(title: str, body: str) -> str:
    return f"## {title}\n\n{body.strip()}\n"


def demote_headings(md: str) -> str:
    """Nest an included report under a RESULTS.md section: '# x' -> '### x'."""
    return "\n".join("##" + line if line.startswith("#") else line for line in md.splitlines())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-dfdc", action="store_true", help="only the demo model")
    parser.add_argument("--max-images", default="1000", help="bench: scored images per model (default 1000)")
    args = parser.parse_args(argv)
    bench_args = ["--max-images", args.max_images, "--min-seconds", "3"]
    parts = [
        "# Results",
        "",
        "Every figure below comes from a script in `benchmarks/`; this page is regenerated by",
        "",
        "    .venv/bin/python benchmarks/make_results.py",
        "",
        f"Last regenerated {time.strftime('%Y-%m-%d %H:%M %Z')}. Each table names the machine that produced it.",
        "",
    ]

    if not (DEMO_OUT / "run" / "model.keras").is_file():
        run([*CLI, "demo", "--out", DEMO_OUT])
    if bench(DEMO_OUT / "run", DEMO_OUT / "data", RESULTS / "bench-demo", bench_args):
        parts.append(section(
            "Latency and accuracy per runtime: the demo model",
            "Command: `deepfake-edge bench runs/demo/run --data runs/demo/data "
            + " ".join(bench_args) + "` (after `make demo`).\n\n"
            + demote_headings((RESULTS / "bench-demo" / "bench.md").read_text())
            + "\n\n![demo bench](results/bench-demo/bench.png)\n"))
    else:
        parts.append(section("Latency and accuracy per runtime: the demo model", "The bench did not complete."))

    if args.skip_dfdc:
        pass
    elif not (DFDC_RUN / "model.keras").is_file() or not DFDC_DATA.is_dir():
        parts.append(section("DFDC-trained edge model",
                             f"Skipped: needs {rel(DFDC_RUN)} (benchmarks/quality.py) and {rel(DFDC_DATA)}."))
    else:
        run([sys.executable, REPO / "benchmarks" / "verify_dfdc.py", "--run", DFDC_RUN, "--data", DFDC_DATA])
        data_rel = rel(DFDC_DATA)
        if bench(DFDC_RUN, DFDC_DATA, RESULTS / "bench-dfdc", bench_args):
            parts.append(section(
                "Latency and accuracy per runtime: the edge model trained on DFDC",
                f"Command: `deepfake-edge bench runs/dfdc-edge --data {data_rel} " + " ".join(bench_args) + "`.\n\n"
                + demote_headings((RESULTS / "bench-dfdc" / "bench.md").read_text())
                + "\n\n![dfdc bench](results/bench-dfdc/bench.png)\n"))
        if (RESULTS / "verify_dfdc.md").is_file():
            parts.append(section("Export parity on DFDC (deepfake-edge verify)",
                                 demote_headings((RESULTS / "verify_dfdc.md").read_text())))

    xl = RESULTS / "xl_study.md"
    if xl.is_file():  # the reference models: trained on 23k faces (benchmarks/xl_study.py)
        parts.append(section("Detection on 23,426 faces: ImageNet teacher, distilled edge model, real-only SBI",
                             demote_headings(xl.read_text())))
    quality = RESULTS / "quality.md"
    if quality.is_file():  # the edge-vs-seed comparison is the headline of the quality work: shown in full
        parts.append(section("Detection quality: the edge model vs the seed CNN on DFDC",
                             demote_headings(quality.read_text())))
    links = [f"- [{title}](results/{name}) — `{cmd}`" for title, name, cmd in OTHER_RESULTS
             if (RESULTS / name).is_file()]
    parts.append(section("More measured results", "\n".join(links)))
    (REPO / "benchmarks" / "RESULTS.md").write_text("\n".join(parts))
    print(f"wrote {REPO / 'benchmarks' / 'RESULTS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
