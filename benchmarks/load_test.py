"""Load test of the web app: N concurrent clients stream webcam frames to 127.0.0.1.

Each client is a `gradio_client.Client` with its own session that posts a 640x480 JPEG
frame with one face to the app's `/frame` endpoint (the same per-frame path as the
webcam stream: one-slot buffer, detector, smoothing, annotation, JPEG encode) as fast
as answers come back, for a bounded time. Reports throughput, p50/p95 latency, errors
(which must be 0) and the server process's memory growth, and names the machine.

    .venv/bin/python benchmarks/load_test.py                       # 8 clients, 20 s, untrained edge-net 128 px (ONNX)
    .venv/bin/python benchmarks/load_test.py --model runs/demo --clients 8 --seconds 30 \\
        --out benchmarks/results/load_test.md

The app runs in this process (`launch(prevent_thread_lock=True)`), so the memory
figure includes the client threads; growth is measured after a warm-up.
Needs the MediaPipe face model (`deepfake-edge face-model --from-wheel ...`).
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from deepfake_edge.runtime.profile import machine_summary

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from frame_latency import build_run  # noqa: E402  (sibling benchmark: same model builder)

from deepfake_edge.app.bench import face_frame  # noqa: E402  (the frame every latency figure uses)


def rss_mb() -> float:
    """Resident memory of this process in MB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_load(model: Path, clients: int, seconds: float, warmup: float, concurrency: int,
             frames: str = "varied", frame_size: tuple[int, int] = (640, 480), endpoint: str = "gradio") -> dict:
    import cv2

    from deepfake_edge.app import web

    blocks = web.build_app(model, concurrency_limit=concurrency)
    served: list[float] = []
    blocks.service.on_live_frame(lambda started, ended: served.append(ended))  # counts frames served
    web.launch(blocks, port=free_port(), prevent_thread_lock=True, quiet=True)
    url = f"http://127.0.0.1:{blocks.server_port}/"
    # "varied": every client sends its own changing frames, as real cameras do. "identical":
    # every client sends the very same frame, whose identical results once collided in
    # Gradio's file cache (a download failing while another client's result rewrote it).
    frames_dir = Path(tempfile.mkdtemp(prefix="load-"))
    base = cv2.cvtColor(face_frame(), cv2.COLOR_RGB2BGR)
    if tuple(frame_size) != (base.shape[1], base.shape[0]):  # the webcam's size (--frame-size)
        base = cv2.resize(base, tuple(frame_size), interpolation=cv2.INTER_AREA)
    frame_paths = []
    for c in range(clients):
        paths = []
        for k in range(16):
            frame = base.copy()
            if frames == "varied":
                frame[0:16, 0:16] = (17 * k, 31 * c % 256, 255 - 17 * k)
            paths.append(frames_dir / f"client{c}_{k}.jpg")
            cv2.imwrite(str(paths[-1]), frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
        frame_paths.append(paths)
    latencies: list[tuple[float, float]] = []
    errors: list[str] = []
    barrier = threading.Barrier(clients + 1)
    threads = []
    stop = {"at": time.perf_counter() + 3600}  # set for real once every client has connected

    def loop(paths):
        from gradio_client import Client, handle_file

        if endpoint == "gradio":
            client = Client(url, verbose=False, httpx_kwargs={"timeout": 120})

            def send(path):
                out = client.predict(handle_file(str(path)), api_name="/frame")
                if not out or out[0] is None or "total" not in str(out[1]):
                    raise RuntimeError(f"unexpected answer: {str(out)[:120]}")
        else:  # the live page's route: the JPEG as the body, boxes back as JSON
            import httpx

            http = httpx.Client(timeout=120)
            bodies = {p: Path(p).read_bytes() for p in paths}
            session = f"load-{id(paths)}"

            def send(path):
                r = http.post(url + "api/frame", content=bodies[path],
                              headers={"Content-Type": "image/jpeg", "X-Session": session})
                if r.status_code != 200 or "faces" not in r.json():
                    raise RuntimeError(f"HTTP {r.status_code}: {r.text[:120]}")
        barrier.wait()
        sent = 0
        while time.perf_counter() < stop["at"]:
            t0 = time.perf_counter()
            sent += 1
            try:
                send(paths[sent % len(paths)])
                latencies.append((t0, (time.perf_counter() - t0) * 1000.0))
            except Exception as exc:  # noqa: BLE001 - every failure is counted, none may happen
                errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}")

    for c in range(clients):
        t = threading.Thread(target=loop, args=(frame_paths[c],), daemon=True)
        t.start()
        threads.append(t)
    barrier.wait()
    t_start = time.perf_counter()
    stop["at"] = t_start + warmup + seconds
    time.sleep(warmup)
    rss_after_warmup = rss_mb()
    processed_at_warmup = len(served)
    time.sleep(seconds)
    for t in threads:
        t.join(timeout=30)
    t_end = time.perf_counter()
    rss_end = rss_mb()
    processed = len(served) - processed_at_warmup
    blocks.close()
    measured = [ms for t0, ms in latencies if t0 >= t_start + warmup]
    result = {
        "url": url,
        "backend": blocks.service.detector.backend_description,
        "clients": clients,
        "seconds": seconds,
        "requests": len(measured),
        "throughput": len(measured) / seconds,
        "server_fps": processed / (t_end - t_start - warmup),
        "p50": statistics.median(measured) if measured else float("nan"),
        "p95": float(np.percentile(measured, 95)) if measured else float("nan"),
        "max": max(measured) if measured else float("nan"),
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:3],
        "rss_warm_mb": rss_after_warmup,
        "rss_end_mb": rss_end,
        "dropped": 0,  # the server keeps no frame queue of its own: Gradio's queue paces the stream
        "frames": frames,
        "frame_size": f"{frame_size[0]}x{frame_size[1]}",
        "endpoint": "Gradio /frame (gradio_client)" if endpoint == "gradio" else "POST /api/frame (the live page's)",
    }
    blocks.service.close()
    return result


def to_markdown(r: dict, command: str) -> str:
    return "\n".join([
        f"### {r['clients']} clients × {r['seconds']:.0f} s, {r['endpoint']}, {r['frames']} {r['frame_size']} frames, "
        f"{r['backend']}",
        "",
        f"- machine: {machine_summary()}",
        f"- command: `{command}`",
        "",
        "| clients | requests | throughput (frames/s) | p50 ms | p95 ms | max ms | errors | RSS after warm-up → end (MB) |",
        "|---|---|---|---|---|---|---|---|",
        f"| {r['clients']} | {r['requests']} | {r['throughput']:.1f} | {r['p50']:.0f} | {r['p95']:.0f} | "
        f"{r['max']:.0f} | {r['errors']} | {r['rss_warm_mb']:.0f} → {r['rss_end_mb']:.0f} "
        f"({r['rss_end_mb'] - r['rss_warm_mb']:+.0f}) |",
        "",
    ] + ([f"- errors seen: {', '.join(r['error_examples'])}"] if r["errors"] else []))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None,
                    help="model file or run folder (default: an untrained edge-net exported to ONNX)")
    ap.add_argument("--arch", default="edge-net")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--concurrency", type=int, default=1, help="the app's per-event concurrency limit")
    ap.add_argument("--out", type=Path, default=None, help="append the markdown table to this file")
    ap.add_argument("--frames", choices=("varied", "identical"), default="varied",
                    help="each client's own changing frames, or one identical frame for every client")
    ap.add_argument("--endpoint", choices=("gradio", "api"), default="gradio",
                    help="gradio: Gradio's /frame event (the Webcam tab's path); api: POST /api/frame (the /live page's)")
    ap.add_argument("--frame-size", default="640x480", metavar="WxH",
                    help="webcam frame size sent (default 640x480; the app's --webcam-size)")
    args = ap.parse_args(argv)
    frame_size = tuple(int(v) for v in args.frame_size.lower().split("x"))

    model = args.model
    if model is None:
        model = build_run(Path(tempfile.mkdtemp(prefix="load-run-")), args.arch, args.size, ["onnx"]) / "model.onnx"
    r = run_load(model, args.clients, args.seconds, args.warmup, args.concurrency, args.frames, frame_size, args.endpoint)
    text = to_markdown(r, "python " + " ".join([Path(sys.argv[0]).as_posix()] + (argv or sys.argv[1:])))
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "a") as f:
            f.write(text + "\n")
    return 1 if r["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
