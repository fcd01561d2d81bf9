"""Cross-manipulation check: how trained runs score on kinds of fake none of them was trained on.

A detector can score well on the DFDC Test fakes because it learned what DFDC's own face-swap
methods leave behind. The field's usual check for that is to score it on a manipulation it
never saw. This benchmark makes two such sets from the 500 real faces of DFDC Test (people
no run was trained on) and scores every run's ONNX model on both, through the same runtime
path that deployment uses (`train.evaluate.evaluate_run`):

- `face-swap`: a classical landmark face swap, done the way FaceForensics++'s "FaceSwap"
  is. Each real A gets the face of another Test real B, drawn (seeded) from the 10 faces
  most like A in head pose and face shape (Procrustes distance of the face meshes: a
  frontal face warped onto a turned head is garbage, not a face swap), never A itself
  and never a face partly outside its crop. B's face is warped onto A's 468-point face
  mesh (a piecewise-affine warp over a Delaunay triangulation of A's landmarks), colour-matched to A inside the mask (mean and standard deviation per LAB
  channel), then Poisson-blended into A (`cv2.seamlessClone`, NORMAL_CLONE) inside the
  slightly eroded convex hull of A's landmarks. No run was trained on this method.
- `self-blend`: `train.sbi.landmark_self_blend` of each Test real, the kind of fake that
  self-blended (`--sbi-ratio`) training makes from Train reals, here on people no run saw
  (so it is an unseen manipulation only for runs trained on labelled fakes alone).

Each set is a folder in the Kaggle layout: `Test/Real` holds the Test reals that got a
fake (so each set stays balanced), `Test/Fake` one fake per such real; BOTH classes are
written as JPEG at the same quality (JPEG_QUALITY), so the file format is no cue (lossless
fakes next to JPEG reals would let a model tell them apart by the missing block grid). A real without a face mesh is left out of both classes, and the count is reported.
Generation is deterministic (fixed seed); the sets are built once into a cache folder
outside git (default `runs/cross-manipulation/`, with each set's `manifest.json`) and
reused when their manifest matches; evaluation outputs go there too (`eval/<run>/<set>/`).
No image is ever written into the repository.

    .venv/bin/python benchmarks/cross_manipulation.py                       # every run with a contract.json
    .venv/bin/python benchmarks/cross_manipulation.py --runs runs/xl-mobilenet-64,runs/xl-mobilenet-lite-64
    .venv/bin/python benchmarks/cross_manipulation.py --rebuild             # make the sets again

Writes benchmarks/results/cross_manipulation.md (machine, date, command) and .json.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import logging
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

import cv2
import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO / ".." / "shared" / "data" / "dfdc-faces-xl"
DEFAULT_CACHE = REPO / "runs" / "cross-manipulation"
RUN_ROOTS = (REPO / "runs",)  # run folders directly under it are scored by default
RESULTS = REPO / "benchmarks" / "results"
XL_STUDY = RESULTS / "xl_study.json"
SETS = ("face-swap", "self-blend")
SEED = 0
# Bump when a generator changes: a cached set made by another version is built again.
GENERATOR_VERSION = 2  # 2: both classes re-encoded as JPEG at JPEG_QUALITY (1: PNG fakes, original reals)
JPEG_QUALITY = 90
ERODE_FRACTION = 0.04  # face-swap mask erosion, as a share of the face hull's size
NEAREST = 10  # a face's identity donor is drawn from the 10 most alike in pose and shape
MAX_CLIPPED = 0.01  # a donor may have at most 1% of its mesh points on the image border

log = logging.getLogger("cross_manipulation")


# -- the face swap ------------------------------------------------------------------------

def to_pixels(points: np.ndarray, shape) -> np.ndarray:
    """Landmarks in 0..1 image coordinates -> (x, y) pixel coordinates of an image of `shape`."""
    h, w = shape[:2]
    return np.asarray(points, np.float64) * np.array([w, h], np.float64)


def warp_face(source: np.ndarray, source_px: np.ndarray, target_px: np.ndarray, shape) -> tuple[np.ndarray, np.ndarray]:
    """Piecewise-affine warp of `source` so that its landmarks land on `target_px`.

    The Delaunay triangulation is made on the target's landmarks and rasterised into a
    triangle-index image; each target pixel inside it is mapped back through its
    triangle's barycentric coordinates to the source (one `cv2.remap` for the whole face).
    Returns (warped image, bool mask of the pixels covered).
    """
    from scipy.spatial import Delaunay

    h, w = shape[:2]
    tri = Delaunay(target_px)
    label = np.full((h, w), -1, np.int32)
    for i, corners in enumerate(np.round(target_px[tri.simplices]).astype(np.int32)):
        cv2.fillConvexPoly(label, corners, int(i))
    ys, xs = np.nonzero(label >= 0)
    s = label[ys, xs]
    pixels = np.column_stack([xs, ys]).astype(np.float64)
    corners = target_px[tri.simplices]  # (m, 3, 2); barycentric (b0, b1) = inv([p0 - p2, p1 - p2]) (x - p2)
    # (computed here: scipy's `tri.transform` takes half a second for a face mesh)
    inverse = np.linalg.pinv(np.stack([corners[:, 0] - corners[:, 2], corners[:, 1] - corners[:, 2]], axis=2))
    bary2 = np.einsum("nij,nj->ni", inverse[s], pixels - corners[s, 2])
    bary = np.column_stack([bary2, 1.0 - bary2.sum(axis=1)])
    source_xy = np.einsum("ni,nij->nj", bary, source_px[tri.simplices[s]])
    map_x = np.full((h, w), -1.0, np.float32)
    map_y = np.full((h, w), -1.0, np.float32)
    map_x[ys, xs], map_y[ys, xs] = source_xy[:, 0], source_xy[:, 1]
    warped = cv2.remap(source, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    return warped, label >= 0


def hull_mask(points_px: np.ndarray, shape, erode_fraction: float = ERODE_FRACTION) -> np.ndarray:
    """uint8 mask (0/255): the landmarks' convex hull, eroded by `erode_fraction` of its size."""
    h, w = shape[:2]
    hull = cv2.convexHull(points_px.astype(np.float32).reshape(-1, 1, 2)).round().astype(np.int32)
    mask = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(mask, hull, 255)
    size = float(np.sqrt(max(cv2.contourArea(hull), 1.0)))
    k = max(3, int(round(erode_fraction * size)) // 2 * 2 + 1)
    mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    mask[[0, -1], :] = 0  # seamlessClone needs a mask that stays off the image border
    mask[:, [0, -1]] = 0
    return mask


def match_colour(image: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Give `image` the per-channel LAB mean and standard deviation of `reference` inside `mask` (RGB uint8)."""
    inside = mask > 0
    img = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    ref = cv2.cvtColor(reference.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    mu_i, sd_i = img[inside].mean(0), img[inside].std(0) + 1e-6
    mu_r, sd_r = ref[inside].mean(0), ref[inside].std(0)
    out = (img - mu_i) / sd_i * sd_r + mu_r
    rgb = cv2.cvtColor(out.astype(np.float32), cv2.COLOR_LAB2RGB)
    return np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)


def face_swap(target: np.ndarray, target_points: np.ndarray, source: np.ndarray, source_points: np.ndarray) -> np.ndarray:
    """`source`'s face on `target`'s head (both RGB uint8; points (468, 2) in 0..1)."""
    target_px, source_px = to_pixels(target_points, target.shape), to_pixels(source_points, source.shape)
    warped, covered = warp_face(source, source_px, target_px, target.shape)
    mask = hull_mask(target_px, target.shape)
    mask[~covered] = 0
    if not mask.any():
        raise ValueError("empty face mask")
    warped = match_colour(warped, target, mask)
    x, y, w, h = cv2.boundingRect(mask)
    # seamlessClone puts the mask's bounding box at centre - size // 2: this centre keeps it in place.
    return cv2.seamlessClone(warped, target, mask, (x + w // 2, y + h // 2), cv2.NORMAL_CLONE)


def shape_distances(meshes: np.ndarray) -> np.ndarray:
    """(n, n) Procrustes distances between face meshes (n, 468, 2): what is left of the
    difference after removing position, size and in-plane rotation, i.e. head pose
    (yaw, pitch) and face shape. Self-distances are 0."""
    x = meshes - meshes.mean(axis=1, keepdims=True)
    x = x / np.linalg.norm(x, axis=(1, 2), keepdims=True)
    u, v = x[..., 0], x[..., 1]  # cross-covariances M_ij = x_i^T x_j, entry by entry
    # best rotation-only fit: max trace(R M) = |(m00 + m11, m01 - m10)|
    fit = np.hypot(u @ u.T + v @ v.T, u @ v.T - v @ u.T)
    return np.sqrt(np.clip(2.0 - 2.0 * fit, 0.0, None))


def clipped_share(points: np.ndarray, margin: float = 1e-3) -> float:
    """Share of mesh points on the image border: the landmarker clips the part of a face outside the crop."""
    return float(np.mean((points <= margin) | (points >= 1 - margin)))


def choose_partners(meshes: np.ndarray, rng: np.random.Generator, k: int = NEAREST) -> np.ndarray:
    """For each face, another face to take the identity from: one of the `k` with the most similar
    pose and shape (a swap between a frontal and a turned head is garbage), never itself, never a
    face partly outside its crop (its clipped mesh would smear the warp)."""
    n = len(meshes)
    d = shape_distances(meshes)
    d[np.arange(n), np.arange(n)] = np.inf
    d[:, [clipped_share(m) > MAX_CLIPPED for m in meshes]] = np.inf
    nearest = np.argsort(d, axis=1, kind="stable")[:, :k]
    return nearest[np.arange(n), rng.integers(0, k, n)]


# -- the evaluation sets ------------------------------------------------------------------

def source_reals(data: Path) -> list[Path]:
    from deepfake_edge.runtime.dataset import class_folder, class_images

    reals = [p.resolve() for p in class_images(class_folder(data / "Test", "Real"))]
    if len(reals) < 2:
        raise SystemExit(f"{data}/Test/Real: need at least 2 real faces, found {len(reals)}")
    return reals


def set_key(name: str, reals: list[Path], seed: int) -> dict:
    """What a cached set depends on: reused only when its manifest records the same."""
    digest = hashlib.sha1("\n".join(str(p) for p in reals).encode()).hexdigest()[:16]
    return {"set": name, "version": GENERATOR_VERSION, "seed": seed, "source": str(reals[0].parent),
            "source_images": len(reals), "source_digest": digest}


def write_jpeg(path: Path, rgb: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(rgb).save(path, format="JPEG", quality=JPEG_QUALITY)


def make_fakes(name: str, reals: list[Path], table, seed: int):
    """Yield (real path, fake file name, fake RGB, detail) for each real that gets a fake; log the rest."""
    from tqdm import tqdm

    from deepfake_edge.runtime.images import read_rgb
    from deepfake_edge.train.sbi import landmark_self_blend

    with_mesh = [p for p in reals if table.get(p) is not None]
    partner = None
    if name == "face-swap":
        meshes = np.stack([table.get(p) for p in with_mesh]).astype(np.float64)
        partner = choose_partners(meshes, np.random.default_rng(seed))
    for i, a in enumerate(tqdm(with_mesh, desc=f"make {name}", unit="img", mininterval=2)):
        img = read_rgb(a)
        if name == "face-swap":
            b = with_mesh[partner[i]]
            try:
                fake = face_swap(img, table.get(a), read_rgb(b), table.get(b))
            except (cv2.error, ValueError) as exc:
                log.warning("%s: face swap with %s failed (%s), left out", a.name, b.name, str(exc).splitlines()[0])
                continue
            yield a, f"{a.stem}_{b.stem}.jpg", fake, {"face_from": b.name}
        else:
            rng = np.random.default_rng([seed, reals.index(a)])
            yield a, f"{a.stem}.jpg", landmark_self_blend(img, table.get(a), rng, jpeg_prob=0.0), {}


def build_set(name: str, reals: list[Path], table, folder: Path, seed: int) -> dict:
    """Write `folder/Test/{Real,Fake}` and `folder/manifest.json` (into a temporary folder, then moved)."""
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "Test" / "Real").mkdir(parents=True)
    (tmp / "Test" / "Fake").mkdir(parents=True)
    t0 = time.perf_counter()
    pairs = []
    from deepfake_edge.runtime.images import read_rgb

    for real, fake_name, fake, detail in make_fakes(name, reals, table, seed):
        write_jpeg(tmp / "Test" / "Real" / f"{real.stem}.jpg", read_rgb(real))  # the same encoder as the fakes
        write_jpeg(tmp / "Test" / "Fake" / fake_name, fake)
        pairs.append({"real": real.name, "fake": fake_name, **detail})
    no_mesh = sorted(p.name for p in reals if table.get(p) is None)
    manifest = {**set_key(name, reals, seed), "images_per_class": len(pairs),
                "left_out": len(reals) - len(pairs), "left_out_no_face_mesh": no_mesh,
                "build_seconds": round(time.perf_counter() - t0, 1), "pairs": pairs}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    log.info("%s: %d fakes + %d reals in %.1f s (%d reals left out) -> %s", name, len(pairs), len(pairs),
             manifest["build_seconds"], manifest["left_out"], folder)
    return manifest


def cached_manifest(name: str, reals: list[Path], folder: Path, seed: int) -> dict | None:
    """The set's manifest when `folder` holds a complete set made from the same reals and seed."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if any(manifest.get(k) != v for k, v in set_key(name, reals, seed).items()):
        return None
    n = manifest.get("images_per_class")
    counts = [sum(1 for _ in (folder / "Test" / c).iterdir()) for c in ("Real", "Fake")]
    return manifest if counts == [n, n] else None


def ensure_sets(data: Path, cache: Path, seed: int, rebuild: bool) -> tuple[dict[str, Path], dict, dict]:
    """{set: folder}, {set: manifest}, {step: seconds}: each set from the cache, or built now."""
    from deepfake_edge.train.landmarks import LandmarkTable

    reals = source_reals(data)
    folders = {name: cache / name for name in SETS}
    manifests = {} if rebuild else {n: m for n in SETS if (m := cached_manifest(n, reals, folders[n], seed))}
    times = {}
    for name in SETS:
        if name in manifests:
            log.info("%s: reusing %s (%d images per class)", name, folders[name], manifests[name]["images_per_class"])
    missing = [n for n in SETS if n not in manifests]
    if missing:
        t0 = time.perf_counter()
        # Own landmark cache: the shared one is keyed by resolved paths but answers `get` only
        # for the spelling of the paths that filled it, so another caller's entry could read as
        # "no face" for every image here.
        table = LandmarkTable.for_files(reals, cache=cache / "landmarks")
        times["landmarks_s"] = round(time.perf_counter() - t0, 1)
        log.info("face mesh found on %d of %d Test reals (%.1f s)", len(table), len(reals), times["landmarks_s"])
        for name in missing:
            manifests[name] = build_set(name, reals, table, folders[name], seed)
            times[f"build_{name}_s"] = manifests[name]["build_seconds"]
    return folders, manifests, times


# -- the runs -----------------------------------------------------------------------------

def discover_runs() -> list[Path]:
    """Folders directly under RUN_ROOTS with a contract.json and a model (ONNX, or Keras to export)."""
    runs = []
    for root in RUN_ROOTS:
        if root.is_dir():
            runs += [d for d in sorted(root.iterdir()) if d.is_dir() and (d / "contract.json").is_file()
                     and ((d / "model.onnx").is_file() or (d / "model.keras").is_file())]
    return runs


def onnx_of(run: Path) -> Path:
    """The run's FP32 ONNX: the existing one when newer than model.keras and contract.json, else exported now.

    (`export_run` always converts again, which loads TensorFlow and rewrites the run's
    model.onnx; a fresh file is used as it is.)
    """
    onnx, sidecar = run / "model.onnx", run / "model.onnx.json"
    inputs = [p for p in (run / "model.keras", run / "contract.json") if p.exists()]
    if onnx.is_file() and sidecar.is_file() and all(
            min(onnx.stat().st_mtime, sidecar.stat().st_mtime) >= p.stat().st_mtime for p in inputs):
        return onnx
    from deepfake_edge.export.pipeline import export_run

    log.info("%s: exporting ONNX (missing or older than the model / contract)", run)
    [result] = export_run(run, "onnx")
    if not result.ok:
        raise RuntimeError(f"ONNX export of {run} failed: {result.error}")
    return result.path


def training_fakes(contract) -> str:
    ratio = float(contract.training.get("sbi_ratio") or 0.0)
    if ratio <= 0:
        return "labelled"
    if ratio >= 1:
        return "SBI only"
    return f"labelled + SBI {ratio:g}"


def dfdc_test_auc(run: Path, xl_study: dict) -> tuple[float | None, str | None]:
    """In-dataset DFDC Test AUC: xl_study.json's row for the run's name, else the run's own eval/metrics.json."""
    row = xl_study.get(run.name)
    if row and row.get("test_auc") is not None:
        return row["test_auc"], "xl_study.json"
    try:
        m = json.loads((run / "eval" / "metrics.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None, None
    if m.get("split") == "Test" and Path(m.get("data", "")).name == DEFAULT_DATA.name and m.get("auc") is not None:
        return m["auc"], "run eval/metrics.json"
    return None, None


def run_keys(runs: list[Path]) -> dict[Path, str]:
    """A short unique name per run: its folder name, with the parent's name where two share one."""
    names = [r.name for r in runs]
    return {r: r.name if names.count(r.name) == 1 else f"{r.parent.name}-{r.name}" for r in runs}


def score_run(run: Path, key: str, folders: dict[str, Path], cache: Path, xl_study: dict) -> dict:
    from deepfake_edge.runtime.contract import ModelContract
    from deepfake_edge.train.evaluate import evaluate_run

    contract = ModelContract.load(run / "contract.json")
    t0 = time.perf_counter()
    onnx = onnx_of(run)
    auc, auc_source = dfdc_test_auc(run, xl_study)
    row = {"run": key, "path": str(run), "onnx": str(onnx), "arch": contract.arch, "input_size": contract.input_size,
           "training_fakes": training_fakes(contract), "sbi_ratio": contract.training.get("sbi_ratio"),
           "dfdc_test_auc": auc, "dfdc_test_auc_source": auc_source, "onnx_s": round(time.perf_counter() - t0, 1),
           "sets": {}}
    for name, folder in folders.items():
        t0 = time.perf_counter()
        m = evaluate_run(onnx, folder, "Test", robustness=False, out_dir=cache / "eval" / key / name)
        row["sets"][name] = {"n": m["n"], "auc": m["auc"], "accuracy": m["accuracy"],
                             "balanced_accuracy": m["balanced_accuracy"], "fake_recall": m["recall"]["Fake"],
                             "real_recall": m["recall"]["Real"], "ece": m["ece"], "threshold": m["threshold"],
                             "skipped": m["skipped"], "seconds": round(time.perf_counter() - t0, 1)}
        log.info("%s on %s: AUC %.3f, accuracy %.3f (%.1f s)", key, name, m["auc"], m["accuracy"],
                 row["sets"][name]["seconds"])
    return row


# -- the report ---------------------------------------------------------------------------

def fmt(x, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def markdown(rows: list[dict], manifests: dict, meta: dict) -> str:
    swap, sbi = manifests["face-swap"], manifests["self-blend"]
    lines = [
        "# Cross-manipulation: scores on kinds of fake no run was trained on",
        "",
        f"- Machine: {meta['machine_summary']}",
        f"- Date: {meta['date']}",
        f"- Command: `{meta['command']}`",
        f"- Sets: `{meta['cache']}` (built from `{meta['data']}/Test/Real`, seed {meta['seed']})",
        f"- Runs: {', '.join(f'`{r}`' for r in meta['runs'])}",
        "",
        f"Both sets are made from the {swap['source_images']} real faces of DFDC Test (people no run "
        "trained on); each is scored through the runtime on its own, at the threshold and temperature "
        "each run fitted on DFDC Validation.",
        "",
        f"- **face-swap** ({swap['images_per_class']} reals + {swap['images_per_class']} fakes): a classical "
        "landmark face swap (as FaceForensics++'s FaceSwap): the face of another Test real, drawn from the "
        "10 most alike in head pose and face shape, is warped onto each real's 468-point face mesh "
        "(piecewise-affine over a Delaunay triangulation), colour-matched in LAB "
        "and Poisson-blended (`cv2.seamlessClone`) inside the eroded landmark hull. **No run was trained on "
        "this manipulation**: the labelled DFDC fakes come from DFDC's own generators, and self-blended "
        "fakes never change identity. (DFDC actors recur across videos, so now and then the donor may be "
        "the same person.)",
        f"- **self-blend** ({sbi['images_per_class']} + {sbi['images_per_class']}): "
        "`train.sbi.landmark_self_blend` of each Test real (no JPEG step), the kind of fake that "
        "`--sbi-ratio` training makes from Train reals, here on unseen people. It is unseen only "
        "for runs trained on labelled fakes alone.",
        "",
        f"Both classes are re-encoded as JPEG at quality {JPEG_QUALITY} (the file format is no cue). A real that got no fake is left out of both "
        f"classes of its set, so each stays balanced: {swap['left_out']} (face-swap) and {sbi['left_out']} "
        f"(self-blend); {len(swap['left_out_no_face_mesh'])} have no face mesh "
        f"({', '.join(swap['left_out_no_face_mesh']) or 'none'}). DFDC Test AUC is the in-dataset score "
        "(500 + 500 DFDC Test images) for comparison.",
        "",
        "| Run | Training fakes | DFDC Test AUC | Face-swap AUC | Face-swap acc. | Self-blend AUC | Self-blend acc. |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        fs, sb = r["sets"]["face-swap"], r["sets"]["self-blend"]
        lines.append(f"| {r['run']} | {r['training_fakes']} | {fmt(r['dfdc_test_auc'])} | {fmt(fs['auc'])} | "
                     f"{fmt(fs['accuracy'])} | {fmt(sb['auc'])} | {fmt(sb['accuracy'])} |")
    others = sorted({r["dfdc_test_auc_source"] for r in rows} - {"xl_study.json", None})
    if others:
        lines += ["", "DFDC Test AUC from `xl_study.json`, or for runs it lacks from the run's own "
                  "`eval/metrics.json`."]
    lines += ["", "Accuracy is at each run's calibrated threshold; the fakes caught and reals passed, ECE and "
              "timings are in `cross_manipulation.json`.", ""]
    notes = Path(__file__).parent / "results" / "cross_manipulation.notes.md"  # the hand-written reading
    return "\n".join(lines) + ("\n" + notes.read_text() if notes.is_file() else "")


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", help="comma-separated run folders (default: every folder directly under "
                                   + ", ".join(str(r) for r in RUN_ROOTS) + " with a contract.json and a model)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="dataset whose Test/Real faces the sets are made from")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where the sets and eval outputs go (outside git)")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--rebuild", action="store_true", help="make the sets again even when cached")
    ap.add_argument("--out", type=Path, default=RESULTS / "cross_manipulation.md", help="the .md (the .json goes beside it)")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    from deepfake_edge.runtime.profile import machine_info, machine_summary

    runs = [Path(r).resolve() for r in args.runs.split(",") if r] if args.runs else discover_runs()
    bad = [r for r in runs if not (r / "contract.json").is_file()]
    if bad or not runs:
        raise SystemExit(f"not finished run folders (no contract.json): {', '.join(map(str, bad))}" if bad
                         else "no run folders found")
    data, cache = args.data.resolve(), args.cache.resolve()
    cache.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    folders, manifests, times = ensure_sets(data, cache, args.seed, args.rebuild)
    xl_study = json.loads(XL_STUDY.read_text()).get("results", {}) if XL_STUDY.is_file() else {}
    keys = run_keys(runs)
    rows = [score_run(run, keys[run], folders, cache, xl_study) for run in runs]
    times["total_s"] = round(time.perf_counter() - t_all, 1)
    meta = {"machine": machine_info(), "machine_summary": machine_summary(),
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "command": shlex.join([".venv/bin/python", "benchmarks/cross_manipulation.py", *sys.argv[1:]]),
            "data": os.path.relpath(data, REPO), "cache": str(cache), "seed": args.seed, "times": times,
            "runs": [os.path.relpath(r, REPO) if r.is_relative_to(REPO) else str(r) for r in runs]}
    summary = {k: {kk: vv for kk, vv in m.items() if kk != "pairs"} for k, m in manifests.items()}
    out_md = args.out
    out_md.parent.mkdir(parents=True, exist_ok=True)
    out_md.with_suffix(".json").write_text(json.dumps({"meta": meta, "sets": summary, "results": rows}, indent=2) + "\n")
    out_md.write_text(markdown(rows, manifests, meta))
    log.info("wrote %s and %s in %.1f s", out_md, out_md.with_suffix(".json").name, times["total_s"])
    print(out_md.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
