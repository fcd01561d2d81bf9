"""`deepfake-edge detect PATH...`: classify faces in images, folders and videos, or a webcam.

Every input is processed even when some fail; a failed input gets a one-line `error`
and the exit code is non-zero once all inputs are done. With `--json` the only thing
on stdout is one JSON document: a list with one entry per input.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

HELP = "classify faces in images, folders and videos (or a webcam) as Real or Fake"
NEEDS = ()  # pip extras this command needs beyond the base install (runtime/extras.py)
log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from deepfake_edge.app.commands.arguments import add_detector_kind, add_face_model, add_provider, add_threads

    parser.add_argument("paths", nargs="*", metavar="PATH", help="images, videos, or folders of them")
    parser.add_argument("--model", required=True, metavar="MODEL_FILE_OR_RUN_DIR",
                        help="a model file (.onnx, .tflite, .keras, .engine, ...) or a run folder")
    parser.add_argument("--json", action="store_true", help="print one JSON document (a list, one entry per input)")
    parser.add_argument("--out", metavar="DIR", help="write annotated images / videos (and video timelines) here")
    parser.add_argument("--explain", metavar="DIR",
                        help="images: write, per face, the crop beside a heat map of the regions that drove its "
                             "fake probability (occlusion sensitivity through the same backend) into DIR")
    parser.add_argument("--no-face", choices=("skip", "whole"), default="skip",
                        help="when no face is found: report it (skip) or classify the whole image (whole)")
    sampling = parser.add_mutually_exclusive_group()
    sampling.add_argument("--every", type=int, help="videos: analyse every Nth frame")
    sampling.add_argument("--fps", type=float, help="videos: analyse N frames per second (default: every frame)")
    parser.add_argument("--top-k", type=int, default=5, help="videos: k of the top-k mean fake score (default 5)")
    parser.add_argument("--webcam", type=int, metavar="N", help="live: camera index N in an OpenCV window")
    add_face_model(parser)
    add_detector_kind(parser, "override the contract's face detector")
    add_provider(parser)
    add_threads(parser)


def expand_inputs(paths: list[str]) -> tuple[list[Path], list[dict]]:
    """(inputs, entries for what was not taken): files as given; folders -> their images and videos.

    Folders are walked recursively and sorted. What a folder holds but detect does not
    read (other extensions, FIFOs and other non-regular files, unreadable sub-folders)
    is returned as `{"path", "skipped": reason}` entries, so the summary names it; a
    folder with no image or video at all is an `error` entry, never a silent success.
    Files named on the command line are passed on as they are: a missing or odd one is
    reported per input by the reader.
    """
    from deepfake_edge.runtime.images import is_image_file
    from deepfake_edge.runtime.io import is_folder, scan_folder
    from deepfake_edge.runtime.video import is_video_file

    inputs: list[Path] = []
    notes: list[dict] = []
    for p in map(Path, paths):
        if not is_folder(p):  # never raises: a too-long or looping name is reported by the reader
            inputs.append(p)
            continue
        found, unlisted = scan_folder(p, lambda f: is_image_file(f) or is_video_file(f))
        notes.extend({"path": n["path"], "skipped": n["reason"]} for n in unlisted)
        if not found:
            notes.append({"path": str(p), "error": f"{p}: folder holds no image or video files"})
        inputs.extend(found)
    return inputs, notes


def run(args: argparse.Namespace) -> int:
    from deepfake_edge.app.commands.arguments import backend_options
    from deepfake_edge.runtime.detector import Detector
    from deepfake_edge.runtime.errors import InputError

    if args.webcam is None and not args.paths:
        raise InputError("give at least one PATH, or --webcam N")
    detector = Detector.from_path(args.model, backend_options(args), face_model=args.face_model,
                                  no_face=args.no_face, detector_kind=args.detector)
    with detector:
        log.info("model %s on %s", detector.backend.path, detector.backend_description)
        if args.webcam is not None:
            from deepfake_edge.app.webcam import run_webcam

            return run_webcam(detector, args.webcam)
        inputs, notes = expand_inputs(args.paths)
        return _run_files(detector, inputs, args, notes)


def _run_files(detector, inputs: list[Path], args: argparse.Namespace, notes: list[dict] | None = None) -> int:
    notes = notes or []
    entries = [n for n in notes if "error" in n]
    failed = len(entries)
    skipped = [n for n in notes if "skipped" in n]
    for entry in entries:
        if not args.json:
            _print_entry(entry)
    out_dir = Path(args.out) if args.out else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    names, explain_names = OutputNames(), OutputNames()
    for path in inputs:
        entry = analyze_path(detector, path, every=args.every, fps=args.fps, top_k=args.top_k, out_dir=out_dir,
                             names=names, explain_dir=args.explain, explain_names=explain_names, progress=not args.json)
        failed += "error" in entry
        entries.append(entry)
        if not args.json:
            _print_entry(entry)
    if args.json:
        json.dump(entries + skipped, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        if skipped:
            names = ", ".join(n["path"] for n in skipped[:5]) + (" ..." if len(skipped) > 5 else "")
            print(f"skipped {len(skipped)} files that are not images or videos, or not readable: {names}",
                  file=sys.stderr)
        if failed:
            print(f"{failed} of {len(entries)} inputs failed", file=sys.stderr)
    return 1 if failed else 0


def analyze_path(detector, path: Path, *, every: int | None = None, fps: float | None = None, top_k: int | None = None,
                 out_dir: Path | None = None, names: "OutputNames | None" = None, explain_dir: str | Path | None = None,
                 explain_names: "OutputNames | None" = None, progress: bool = False) -> dict:
    """One image or video -> its `detect --json` entry; a bad file is an entry with an `error`
    (one line naming it), never an exception: batches (`detect`, `scan`) carry on."""
    from deepfake_edge.runtime.errors import DeepfakeEdgeError
    from deepfake_edge.runtime.io import first_line
    from deepfake_edge.runtime.video import is_video_file

    path = Path(path)
    try:
        if is_video_file(path):
            return _detect_video(detector, path, out_dir, names, every=every, fps=fps, top_k=top_k, progress=progress)
        return _detect_image(detector, path, out_dir, names, explain_dir=explain_dir, explain_names=explain_names)
    except DeepfakeEdgeError as exc:
        return {"path": str(path), "error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - one input's surprise must not lose the others' results
        log.debug("unexpected error on %s", path, exc_info=True)
        return {"path": str(path), "error": f"{path}: unexpected {type(exc).__name__}: {first_line(exc)}"}


class OutputNames:
    """Unique output names for one run: `x` for the first input named x.*, then `x-2`, `x-3`...

    Inputs from different folders (a/x.jpg, b/x.jpg) or with different extensions
    (x.jpg, x.png) would otherwise overwrite each other's annotated outputs.
    """

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def stem(self, path: Path) -> str:
        stem, n = path.stem, 1
        while stem.lower() in self._taken:  # lower: case-insensitive file systems
            n += 1
            stem = f"{path.stem}-{n}"
        self._taken.add(stem.lower())
        return stem


def _detect_image(detector, path: Path, out_dir: Path | None, names: OutputNames | None = None,
                  explain_dir: str | Path | None = None, explain_names: OutputNames | None = None) -> dict:
    from deepfake_edge.runtime.errors import InputError
    from deepfake_edge.runtime.images import read_rgb

    rgb = read_rgb(path)
    result = detector.detect(rgb)
    entry = {"path": str(path), **result.to_dict()}
    if explain_dir is not None and result.faces:
        entry["explain"] = _write_explanations(detector, rgb, result, Path(explain_dir), path, explain_names)
    if out_dir is not None:
        import cv2

        from deepfake_edge.runtime.annotate import annotate

        stem = (names or OutputNames()).stem(path)
        target = out_dir / f"{stem}.annotated.png"
        try:
            written = cv2.imwrite(str(target), cv2.cvtColor(annotate(rgb, result), cv2.COLOR_RGB2BGR))
        except cv2.error as exc:
            written, why = False, str(exc).strip().splitlines()[-1]
        else:
            why = "OpenCV could not write it (folder not writable or disk full?)"
        if not written:
            raise InputError(f"{target}: cannot write the annotated image: {why}")
        entry["annotated"] = str(target)
    return entry


def _write_explanations(detector, rgb, result, folder: Path, path: Path, names: OutputNames | None) -> list[str]:
    """`<stem>.face<k>.explain.png` per face: its crop beside the occlusion heat map."""
    import cv2

    from deepfake_edge.runtime.errors import InputError
    from deepfake_edge.runtime.explain import explain_faces
    from deepfake_edge.runtime.io import write_bytes_atomically

    folder.mkdir(parents=True, exist_ok=True)
    stem = (names or OutputNames()).stem(path)
    written = []
    for k, overlay in enumerate(explain_faces(detector.backend, rgb, result)):
        target = folder / f"{stem}.face{k}.explain.png"
        ok, png = cv2.imencode(".png", cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))
        if not ok:
            raise InputError(f"{target}: cannot encode the explanation image")
        written.append(str(write_bytes_atomically(target, png.tobytes())))
    return written


def _detect_video(detector, path: Path, out_dir: Path | None, names: OutputNames | None = None, *,
                  every: int | None = None, fps: float | None = None, top_k: int | None = None,
                  progress: bool = False) -> dict:
    from deepfake_edge.runtime.preprocess import labels_for
    from deepfake_edge.runtime.video import analyze_video, plot_timeline

    stem = (names or OutputNames()).stem(path) if out_dir is not None else path.stem
    annotated = out_dir / f"{stem}.annotated.mp4" if out_dir is not None else None
    result = analyze_video(detector, path, every=every, fps=fps, annotated_out=annotated, progress=progress,
                           **({"top_k": top_k} if top_k is not None else {}))
    # A video's faces: the mean over each track, at the track's last box.
    last_box: dict[int, list[int]] = {}
    for fr in result.frames:
        for f in fr.faces:
            last_box[f["track"]] = f["box"]
    tracks = sorted((tid, t) for tid, t in result.tracks.items() if t.get("kept", True))
    labels = labels_for([t["mean_fake_probability"] for _, t in tracks], detector.contract.threshold)
    faces = [{"track": tid, "box": last_box[tid], "fake_probability": t["mean_fake_probability"],
              "label": label, "frames": t["frames"]} for (tid, t), label in zip(tracks, labels)]
    rejected = [{"track": tid, "box": last_box[tid], "frames": t["frames"], "why": t["why"]}
                for tid, t in sorted(result.tracks.items()) if not t.get("kept", True)]
    entry = {"path": str(path), "faces": faces, "video": result.to_dict()}
    if rejected:
        entry["rejected_detections"] = rejected  # too brief or too unlike a face to count
    if out_dir is not None:
        entry["annotated"] = str(annotated)
        entry["timeline_png"] = str(plot_timeline(result, out_dir / f"{stem}.timeline.png"))
    return entry


def _print_entry(entry: dict) -> None:
    if "error" in entry:
        print(f"{entry['path']}: ERROR {entry['error']}")
        return
    if "video" in entry:
        v = entry["video"]
        mean = "-" if v["mean_fake_probability"] is None else f"{v['mean_fake_probability']:.3f}"
        topk = "-" if v["topk_fake_probability"] is None else f"{v['topk_fake_probability']:.3f}"
        print(f"{entry['path']}: {v['label'] or 'no face found'} (mean fake {mean}, top-{v['top_k']} {topk}, "
              f"{v['faces']} faces in {v['frames_sampled']} frames)")
        return
    if not entry["faces"]:
        print(f"{entry['path']}: no face found")
        return
    for f in entry["faces"]:
        x, y, w, h = f["box"]
        print(f"{entry['path']}: {f['label']} fake={f['fake_probability']:.3f} box=({x},{y},{w},{h}) "
              f"[{entry['timings']['total_ms']:.1f} ms]")
