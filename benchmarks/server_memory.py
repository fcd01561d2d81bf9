"""The web app server's own memory under load, with the clients in another process.

`load_test.py` runs server and clients in one process, so its memory figure includes
gradio_client's. Here the app runs in this process and N gradio_client sessions post
varied 640x480 face frames to Gradio's `/frame` (the Webcam tab's path) from a child
process for `--seconds`; the server's RSS (split into anonymous memory, which is what a
leak grows, and file-backed pages, which are libraries paged in once) and the number of
files in Gradio's cache are sampled every 10 s. `--cache-max-age S` has the app's cache sweep (app/cache_sweep.py)
delete results older than S seconds every S/3 seconds (the app's own: 600 s, every 60 s),
so a run of a few minutes shows the cache bounded as an hours-long session would.
`--malloc-arenas 0` serves with glibc's own heap settings instead of the app's
(app/malloc.py); `--trace-python` adds tracemalloc's list of the Python source lines whose
memory grew over the second half (slow: it tells Python objects from native buffers).

    .venv/bin/python benchmarks/server_memory.py --model runs/xl-mobilenet-lite-64/model.onnx
    .venv/bin/python benchmarks/server_memory.py --model M --seconds 300 --cache-max-age 60

Writes benchmarks/results/server_memory.md (machine and command included; the hand-written
server_memory.notes.md beside `--out`, when there, is appended). `plot RESULT.md...` draws
result files side by side (benchmarks/results/server_memory.png):

    .venv/bin/python benchmarks/server_memory.py plot benchmarks/results/server_memory.md \
        benchmarks/results/server_memory.glibc-default.md
"""
from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from pathlib import Path

import plots  # sibling: how a benchmark saves a figure
from load_test import free_port  # sibling benchmark: the same helper

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


def memory_mb() -> tuple[float, float, float]:
    """This process's resident memory in MB: total, anonymous (heap: what a leak grows) and file-backed.

    File-backed pages are shared libraries and mapped files paged in as new code paths run;
    the kernel can drop them, so "flat after warm-up" is judged on the anonymous part.
    """
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
            fields[key] = int(value.split()[0]) / 1024
    nan = float("nan")
    return fields.get("VmRSS", nan), fields.get("RssAnon", nan), fields.get("RssFile", nan) + fields.get("RssShmem", 0)


def python_growth(before, after) -> list[tuple[int, str]]:
    """(bytes grown, file:line) for the source lines whose traced Python memory grew, largest first."""
    growth = [(stat.size_diff, f"{Path(stat.traceback[0].filename).name}:{stat.traceback[0].lineno}")
              for stat in after.compare_to(before, "lineno") if stat.size_diff > 0]
    return sorted(growth, reverse=True)


def second_half_summary(samples: list[tuple], seconds: float) -> str:
    """One line on the second half of a run: the RSS and anonymous ranges, and the anonymous trend.

    A range alone reads every transient peak as growth; the trend compares the mean anonymous
    memory of the first minute of the second half with that of the last minute, which is
    what a leak moves and a fluctuation does not.
    """
    half = [(t, rss, anon) for t, rss, anon, *_ in samples if t >= seconds / 2]
    rss, anon = [h[1] for h in half], [h[2] for h in half]
    first = [a for t, _, a in half if t <= half[0][0] + 60]
    last = [a for t, _, a in half if t >= half[-1][0] - 60]
    start, end = sum(first) / len(first), sum(last) / len(last)
    frames_per_s = (samples[-1][4] - samples[0][4]) / max(seconds, 1)
    return (f"Second half of the run: RSS {min(rss):.0f}-{max(rss):.0f} MB, anonymous {min(anon):.0f}-{max(anon):.0f} "
            f"MB; anonymous mean over its first minute {start:.0f} MB, over its last minute {end:.0f} MB "
            f"({end - start:+.0f}); {frames_per_s:.1f} frames/s served.")


def read_samples(result: Path) -> tuple[str, list[tuple[float, ...]]]:
    """A result file's label (its malloc line) and its table rows, as this script wrote them."""
    label, rows = result.stem, []
    for line in result.read_text().splitlines():
        if line.startswith("- malloc arenas:"):
            label = "malloc arenas: " + line.split(":", 1)[1].strip()
        elif line.startswith("| ") and line[2:3].isdigit():
            rows.append(tuple(float(cell) for cell in line.strip("|").split("|")))
    if not rows:
        raise ValueError(f"{result}: no sample table (not written by server_memory.py?)")
    return label, rows


def plot_runs(results: list[Path], png: Path) -> Path:
    """Anonymous and total resident memory over time, one colour per result file."""
    with plots.figure(png, title="The app server's memory under load", xlabel="seconds under load",
                      ylabel="server memory, MB", size=(7.5, 4)) as ax:
        for colour, result in zip(("tab:blue", "tab:red", "tab:green", "tab:purple"), results):
            label, rows = read_samples(result)
            seconds = [r[0] for r in rows]
            ax.plot(seconds, [r[2] for r in rows], color=colour, label=f"{label}: anonymous")
            ax.plot(seconds, [r[1] for r in rows], color=colour, linestyle=":", label=f"{label}: RSS")
    return png


def main(argv=None) -> int:
    import tempfile

    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["plot"]:
        plot = argparse.ArgumentParser(prog="server_memory.py plot", description="plot result files side by side")
        plot.add_argument("results", nargs="+", type=Path)
        plot.add_argument("--png", type=Path, default=OUT.with_suffix(".png"))
        args = plot.parse_args(argv[1:])
        print(plot_runs(args.results, args.png))
        return 0

    from deepfake_edge.app import web
    from deepfake_edge.runtime.profile import machine_summary

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, type=Path)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--cache-max-age", type=float, default=None, metavar="S",
                    help="sweep cached results older than S seconds every S/3 s (default: the app's own schedule)")
    ap.add_argument("--malloc-arenas", type=int, default=None, metavar="N",
                    help="glibc malloc arenas (default: the app's, 2; 0: the C library's default, 8 per core)")
    ap.add_argument("--trace-python", action="store_true",
                    help="also trace Python allocations (tracemalloc; slows the server) and list the source lines "
                         "whose memory grew over the second half of the run")
    args = ap.parse_args(argv)
    if args.trace_python:
        import tracemalloc
        tracemalloc.start(1)
    blocks = web.build_app(args.model)
    sweeper = blocks.cache_sweeper
    if args.cache_max_age is not None:
        sweeper.max_age_s, sweeper.every_s = args.cache_max_age, max(1.0, args.cache_max_age / 3)

    def cached() -> int:
        return sum(len(s) for s in list(blocks.temp_file_sets))
    web.launch(blocks, port=free_port(), prevent_thread_lock=True, quiet=True, malloc_arenas=args.malloc_arenas)
    url = f"http://127.0.0.1:{blocks.server_port}/"
    served: list[float] = []
    blocks.service.on_live_frame(lambda started, ended: served.append(ended))  # counts frames served
    samples = [(0.0, *memory_mb(), 0, cached())]
    with tempfile.TemporaryDirectory() as tmp:
        child = subprocess.Popen([sys.executable, "-c", CLIENTS, url, str(args.clients), str(args.seconds), tmp],
                                 stdout=subprocess.PIPE, text=True)
        t0, halfway = time.time(), None
        while child.poll() is None:
            time.sleep(10)
            samples.append((time.time() - t0, *memory_mb(), len(served), cached()))
            if args.trace_python and halfway is None and samples[-1][0] >= args.seconds / 2:
                halfway = tracemalloc.take_snapshot()
        grown = python_growth(halfway, tracemalloc.take_snapshot()) if halfway is not None else []
        errors = int((child.stdout.read() or "-1").strip().splitlines()[-1])
    blocks.close()
    blocks.service.close()
    lines = ["# The app server's own memory under load (clients in another process)", "",
             f"- machine: {machine_summary()}", f"- model: `{args.model}`, {args.clients} gradio_client sessions "
             f"posting varied 640x480 frames to `/frame` for {args.seconds:g} s; errors: {errors}",
             f"- cache sweep: files older than {sweeper.max_age_s:g} s deleted every {sweeper.every_s:g} s "
             f"({sweeper.deleted} deleted during the run)",
             f"- malloc arenas: {'the C library default' if args.malloc_arenas == 0 else args.malloc_arenas or 'the app default (2)'}",
             "- command: `python benchmarks/server_memory.py "
             + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])) + "`",
             f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", "",
             "| seconds | server RSS MB | anonymous MB | file-backed MB | frames processed | files in Gradio's cache |",
             "|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {t:.0f} | {rss:.0f} | {anon:.0f} | {mapped:.0f} | {n} | {files} |"
              for t, rss, anon, mapped, n, files in samples]
    if len(samples) > 2:
        lines += ["", second_half_summary(samples, args.seconds)]
    if args.trace_python:
        lines += ["", f"Python allocations (tracemalloc): the source lines whose memory grew over the second half "
                      f"grew {sum(d for d, _ in grown) / 1e6:+.1f} MB together; the largest:", ""]
        lines += [f"- {d / 1e6:+.2f} MB `{where}`" for d, where in grown[:12]]
    notes = args.out.with_suffix(".notes.md")
    if notes.is_file():
        lines += ["", notes.read_text().rstrip()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(args.out.read_text())
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
