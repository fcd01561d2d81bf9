"""Where one live frame's server time goes, stage by stage, in the web app's own frame path.

Replays what `app/web.py`'s webcam handler does with one frame at each webcam size
(`--sizes`), timing each step with the same functions: read the uploaded frame file within
the upload limits and decode it (`app.uploads.read_upload`; Gradio's webcam stream sends
each frame as a JPEG data URL), MediaPipe face detection, crop + preprocess, classification (the three as
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


STAGES = ("read + decode JPEG upload", "face detection", "crop + preprocess", "classify", "smooth scores",
          "draw boxes", "JPEG encode + write result", "total")


def profile_size(det, frame_rgb: np.ndarray, size: tuple[int, int], frames: int, tmp: Path) -> dict[str, list]:
    """Each stage's times for `frames` frames of `frame_rgb` scaled to `size`, sent as the page sends them."""
    import cv2

    from deepfake_edge.app.served import ServedFiles
    from deepfake_edge.app.uploads import Upload, UploadLimits, read_upload
    from deepfake_edge.runtime.annotate import annotate
    from deepfake_edge.runtime.stream import ScoreSmoother

    interp = cv2.INTER_AREA if size[0] < frame_rgb.shape[1] else cv2.INTER_LINEAR
    frame = cv2.resize(frame_rgb, size, interpolation=interp)
    upload = tmp / f"frame-{size[0]}x{size[1]}.jpeg"  # Gradio's webcam stream: canvas.toDataURL('image/jpeg')
    cv2.imwrite(str(upload), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
    limits, smoother = UploadLimits(), ScoreSmoother()
    served = ServedFiles(keep=32, root=tmp / f"served-{size[0]}")
    stages: dict[str, list[float]] = {k: [] for k in STAGES}
    ms = lambda a, b: (b - a) * 1000.0  # noqa: E731
    for i in range(frames + 10):
        t0 = time.perf_counter()
        rgb = read_upload(Upload("frame.jpeg", path=str(upload)), limits, "webcam frame")
        t1 = time.perf_counter()
        result = det.detect(rgb)
        t2 = time.perf_counter()
        smoother.smooth_result(result, det.contract.threshold)
        t3 = time.perf_counter()
        drawn = annotate(rgb, result)
        t4 = time.perf_counter()
        served.image(drawn, "frame")
        t5 = time.perf_counter()
        if i < 10:
            continue  # warm-up
        tm = result.timings
        for key, value in (("read + decode JPEG upload", ms(t0, t1)), ("face detection", tm["detect_ms"]),
                           ("crop + preprocess", tm["crop_ms"]), ("classify", tm["infer_ms"]),
                           ("smooth scores", ms(t2, t3)), ("draw boxes", ms(t3, t4)),
                           ("JPEG encode + write result", ms(t4, t5)), ("total", ms(t0, t5))):
            stages[key].append(value)
    served.close()
    stages["faces"] = [len(result.faces)]
    return stages


def main(argv=None) -> int:
    from deepfake_edge.app.bench import face_frame
    from deepfake_edge.runtime.detector import Detector
    from deepfake_edge.runtime.profile import machine_info

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, type=Path)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--sizes", default="1920x1440,640x480,320x240",
                    help="webcam frame sizes (1920x1440 is what Gradio asks a camera for when the app sets no size)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="live-profile-"))
    with Detector.from_path(args.model) as det:
        results = {size: profile_size(det, face_frame(), size, args.frames, tmp) for size in sizes}
        provider = det.backend_description
    head = " | ".join(f"{w}x{h} p50 ms | p95 ms" for w, h in sizes)
    lines = ["# One live frame in the server, stage by stage, per webcam frame size", "",
             f"Machine: {machine_info()}. Model `{args.model}` on {provider}; the same frame with one face at each "
             f"size, uploaded as the page sends it (JPEG), {args.frames} frames after 10 of warm-up. Made by "
             f"`python benchmarks/live_profile.py {' '.join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))}` "
             f"on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", "",
             f"| stage | {head} |", "|---|" + "---:|---:|" * len(sizes)]
    for key in STAGES:
        cells = " | ".join(f"{np.median(results[s][key]):.2f} | {np.percentile(results[s][key], 95):.2f}"
                           for s in sizes)
        lines.append(f"| {key} | {cells} |")
    lines.append("| faces found | " + " | ".join(f"{results[s]['faces'][0]} | " for s in sizes) + "")
    totals = {s: float(np.median(results[s]["total"])) for s in sizes}
    lines += ["", "The server's whole share of a frame: " + ", ".join(
        f"{w}x{h} {t:.1f} ms (~{1000 / t:.0f} frames/s on one worker)" for (w, h), t in totals.items()) + ". "
        "Gradio alone asks the camera for 1920x1440 (a real webcam then streams 1280x720 or full-HD frames); the app "
        "asks for `--webcam-size`, 640x480 by default. What this cannot see is Gradio's transport (HTTP upload, "
        "queue, event stream, result download): benchmarks/results/load_test.md measures it end to end."]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
