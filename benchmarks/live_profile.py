"""Where one live frame's server time goes, stage by stage, in the web app's own frame path.

Replays what `app/web.py`'s webcam handler does with one 640x480 frame, timing each step
with the same functions: read the uploaded frame file within the upload limits and
decode it (`app.uploads.read_upload`; the browser's webcam component sends a PNG or
JPEG file), MediaPipe face detection, crop + preprocess, classification (the three as
`Detector.detect` reports them), score smoothing (`runtime.stream.ScoreSmoother`), box
drawing (`runtime.annotate`), and the JPEG encode + atomic write of the served result
(`app.served.ServedFiles`). What it cannot see is Gradio's part (the HTTP upload, the
queue, the event stream and the download of the result), which the load test measures
end to end (`benchmarks/load_test.py`); the difference between the two is transport.

    .venv/bin/python benchmarks/live_profile.py --model runs/xl-edge-s42/model.onnx

Writes benchmarks/results/live_profile.md (with the machine and the command).
"""
from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "live_profile.md"


def main(argv=None) -> int:
    import cv2

    from deepfake_edge.app.bench import face_frame
    from deepfake_edge.app.served import ServedFiles
    from deepfake_edge.app.uploads import Upload, UploadLimits, read_upload
    from deepfake_edge.runtime.annotate import annotate
    from deepfake_edge.runtime.detector import Detector
    from deepfake_edge.runtime.profile import machine_info
    from deepfake_edge.runtime.stream import ScoreSmoother

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, type=Path)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)

    frame = face_frame()
    tmp = Path(tempfile.mkdtemp(prefix="live-profile-"))
    uploads = {}
    for fmt in ("png", "jpeg"):
        path = tmp / f"frame.{fmt}"
        cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        uploads[fmt] = path
    limits, served, smoother = UploadLimits(), ServedFiles(keep=32, root=tmp / "served"), ScoreSmoother()
    stages: dict[str, list[float]] = {k: [] for k in (
        "read + decode PNG upload", "read + decode JPEG upload", "face detection", "crop + preprocess",
        "classify", "smooth scores", "draw boxes", "JPEG encode + write result", "total (PNG upload)")}
    with Detector.from_path(args.model) as det:
        for i in range(args.frames + 10):
            t0 = time.perf_counter()
            rgb = read_upload(Upload("frame.png", path=str(uploads["png"])), limits, "webcam frame")
            t1 = time.perf_counter()
            read_upload(Upload("frame.jpeg", path=str(uploads["jpeg"])), limits, "webcam frame")
            t2 = time.perf_counter()
            result = det.detect(rgb)
            t3 = time.perf_counter()
            smoother.smooth_result(result, det.contract.threshold)
            t4 = time.perf_counter()
            drawn = annotate(rgb, result)
            t5 = time.perf_counter()
            served.image(drawn, "frame")
            t6 = time.perf_counter()
            if i < 10:
                continue  # warm-up
            ms = lambda a, b: (b - a) * 1000.0  # noqa: E731
            tm = result.timings
            for key, value in (("read + decode PNG upload", ms(t0, t1)), ("read + decode JPEG upload", ms(t1, t2)),
                               ("face detection", tm["detect_ms"]), ("crop + preprocess", tm["crop_ms"]),
                               ("classify", tm["infer_ms"]), ("smooth scores", ms(t3, t4)),
                               ("draw boxes", ms(t4, t5)), ("JPEG encode + write result", ms(t5, t6)),
                               ("total (PNG upload)", ms(t0, t1) + ms(t2, t6))):
                stages[key].append(value)
        provider = det.backend_description
    served.close()
    total = float(np.median(stages["total (PNG upload)"]))
    lines = ["# One live frame in the server, stage by stage", "",
             f"Machine: {machine_info()}. Model `{args.model}` on {provider}; a 640x480 frame with one face, "
             f"{args.frames} frames after 10 of warm-up. Made by `python benchmarks/live_profile.py "
             f"{' '.join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))}` on "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", "",
             "| stage | p50 ms | p95 ms | share of the server's total |", "|---|---:|---:|---:|"]
    for key, values in stages.items():
        p50, p95 = float(np.median(values)), float(np.percentile(values, 95))
        share = "" if key.startswith("total") or "JPEG upload" in key else f"{p50 / total:.0%}"
        lines.append(f"| {key} | {p50:.2f} | {p95:.2f} | {share} |")
    lines += ["", f"The server's whole share of a frame is about {total:.1f} ms (~{1000 / total:.0f} frames/s on one "
              "worker). The browser test and the load test (benchmarks/results/load_test.md) see 14-21 frames/s "
              "from one tab: the rest of a frame's time is Gradio's transport (per-frame HTTP upload, queue, "
              "event stream, result download), not this path."]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
