"""The web app server's own memory under load, with the clients in another process.

`load_test.py` runs server and clients in one process, so its memory figure includes
gradio_client's. Here the app runs in this process and N gradio_client sessions post
varied 640x480 face frames to Gradio's `/frame` (the Webcam tab's path) from a child
process for `--seconds`; the server's RSS and the number of files in Gradio's cache are
sampled every 10 s. `--cache-max-age S` has the app's cache sweep (app/cache_sweep.py)
delete results older than S seconds every S/3 seconds (the app's own: 600 s, every 60 s),
so a run of a few minutes shows the cache bounded as an hours-long session would.

    .venv/bin/python benchmarks/server_memory.py --model runs/xl-mobilenet-lite-64/model.onnx
    .venv/bin/python benchmarks/server_memory.py --model M --seconds 300 --cache-max-age 60

Writes benchmarks/results/server_memory.md (machine and command included).
"""
from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from pathlib import Path

from load_test import free_port, rss_mb  # sibling benchmark: the same helpers

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "server_memory.md"
CLIENTS = r'''
import sys, threading, time, cv2
from gradio_client import Client, handle_file
from deepfake_edge.app.bench import face_frame
url, n, seconds, tmp = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
base = cv2.cvtColor(face_frame(), cv2.COLOR_RGB2BGR)
stop, errors = time.time() + seconds, []
def loop(c):
    paths = []
    for k in range(16):
        frame = base.copy(); frame[0:16, 0:16] = (17 * k, 31 * c % 256, 255 - 17 * k)
        paths.append(f"{tmp}/c{c}_{k}.jpg"); cv2.imwrite(paths[-1], frame)
    client, sent = Client(url, verbose=False, httpx_kwargs={"timeout": 120}), 0
    while time.time() < stop:
        sent += 1
        try:
            client.predict(handle_file(paths[sent % 16]), api_name="/frame")
        except Exception as exc:
            errors.append(str(exc)[:80])
threads = [threading.Thread(target=loop, args=(c,)) for c in range(n)]
[t.start() for t in threads]; [t.join() for t in threads]
print(len(errors))
'''


def main(argv=None) -> int:
    import tempfile

    from deepfake_edge.app import web
    from deepfake_edge.runtime.profile import machine_summary

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, type=Path)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--cache-max-age", type=float, default=None, metavar="S",
                    help="sweep cached results older than S seconds every S/3 s (default: the app's own schedule)")
    args = ap.parse_args(argv)
    blocks = web.build_app(args.model)
    sweeper = blocks.cache_sweeper
    if args.cache_max_age is not None:
        sweeper.max_age_s, sweeper.every_s = args.cache_max_age, max(1.0, args.cache_max_age / 3)

    def cached() -> int:
        return sum(len(s) for s in list(blocks.temp_file_sets))
    web.launch(blocks, port=free_port(), prevent_thread_lock=True, quiet=True)
    url = f"http://127.0.0.1:{blocks.server_port}/"
    served: list[float] = []
    blocks.service.on_live_frame(lambda started, ended: served.append(ended))  # counts frames served
    samples = [(0.0, rss_mb(), 0, cached())]
    with tempfile.TemporaryDirectory() as tmp:
        child = subprocess.Popen([sys.executable, "-c", CLIENTS, url, str(args.clients), str(args.seconds), tmp],
                                 stdout=subprocess.PIPE, text=True)
        t0 = time.time()
        while child.poll() is None:
            time.sleep(10)
            samples.append((time.time() - t0, rss_mb(), len(served), cached()))
        errors = int((child.stdout.read() or "-1").strip().splitlines()[-1])
    blocks.close()
    blocks.service.close()
    lines = ["# The app server's own memory under load (clients in another process)", "",
             f"- machine: {machine_summary()}", f"- model: `{args.model}`, {args.clients} gradio_client sessions "
             f"posting varied 640x480 frames to `/frame` for {args.seconds:g} s; errors: {errors}",
             f"- cache sweep: files older than {sweeper.max_age_s:g} s deleted every {sweeper.every_s:g} s "
             f"({sweeper.deleted} deleted during the run)",
             "- command: `python benchmarks/server_memory.py "
             + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])) + "`",
             f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", "",
             "| seconds | server RSS MB | frames processed | files in Gradio's cache |", "|---:|---:|---:|---:|"]
    lines += [f"| {t:.0f} | {rss:.0f} | {n} | {files} |" for t, rss, n, files in samples]
    half = [rss for t, rss, _, _ in samples if t >= args.seconds / 2]
    if half:
        lines += ["", f"Second half of the run: {min(half):.0f}-{max(half):.0f} MB (growth after the first minute: "
                      f"{max(half) - min(half):+.0f} MB)."]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(args.out.read_text())
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
