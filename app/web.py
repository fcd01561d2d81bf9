"""The Gradio web app: live webcam, image and video detection on one local page.

`build_app(model_or_detector)` returns a `gr.Blocks` with three tabs (Webcam, Image,
Video), a line saying which runtime and provider really runs the model, and a picker
over the model files found in the run folder (through the format table). `launch()`
serves it safely by default: bound to 127.0.0.1, no share link unless asked, an upload
size limit, an image pixel limit, a queue with a concurrency limit, analytics off and
no web fonts fetched at start.

Every problem a user can cause (no face, an unreadable upload, a missing model) is
shown on the page as one line, never as a stack trace. Per-face scores of live frames
are smoothed over time (`ScoreSmoother`).

Live latency: with the default `concurrency_limit=1` Gradio runs one webcam call at a
time, so how frames are paced or held back while a call runs (`stream_every`,
`time_limit`, Gradio's webcam component and queue) is decided by Gradio, not here. Each
tab's frames go through its own `runtime.live.LiveSession` (tracking and score
smoothing), the same object the webcam window and the video path use.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

# Before gradio is imported anywhere: no usage reports, no Hub look-ups at start.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from deepfake_edge.runtime.backends.options import BackendOptions  # noqa: E402
from deepfake_edge.runtime.errors import DeepfakeEdgeError, InputError, ModelFileError  # noqa: E402
from deepfake_edge.runtime.formats import FORMATS, artifact_path, format_for_path, resolve_model_path  # noqa: E402
from deepfake_edge.runtime.io import first_line as _one_line  # noqa: E402 - the one-line error text

log = logging.getLogger(__name__)

DEMO_RUN = Path("runs") / "demo" / "run"  # the run folder `make demo` writes
DEFAULT_HOST = "127.0.0.1"
from deepfake_edge.app import browser_tab  # noqa: E402
from deepfake_edge.app.uploads import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, UploadLimits  # noqa: E402

DEFAULT_MAX_FILE_SIZE = DEFAULT_MAX_BYTES  # one byte limit: Gradio's upload route and our readers
DEFAULT_STREAM_EVERY = 0.05  # seconds between webcam frames the browser sends
DEFAULT_WEBCAM_SIZE = (640, 480)  # what the page asks the camera for (the browsers' usual default)
DEFAULT_TIME_LIMIT = 600.0  # seconds one webcam stream may run before the browser must restart it
CACHE_SWEEP_S, CACHE_MAX_AGE_S = 60, 600  # how often / after how long served files are deleted
VIDEO_SAMPLES = 48  # frames analysed per uploaded video, spread over its length
SCORE_HEADERS = ["face", "label", "fake probability", "face score", "box (x, y, w, h)"]
DEMO_BANNER = (
    "**Demonstration model.** This is the small model `make demo` trains on synthetic fakes; "
    "its verdicts show how the app works, not whether a real video is a deepfake. "
    "Serve your own with `deepfake-edge app --model PATH`."
)


# -- which model -----------------------------------------------------------------------
def default_model(cwd: str | Path | None = None) -> Path:
    """The demo run (`runs/demo/run` under the current folder), or a one-line error saying what to do."""
    run = Path(cwd or Path.cwd()) / DEMO_RUN
    if not run.is_dir():
        raise ModelFileError(
            f"no model given and the demo run {run} does not exist: run `make demo` first, "
            "or pass --model PATH (a model file or a run folder)"
        )
    return run


def parse_webcam_size(text: str) -> tuple[int, int]:
    """"320x240" -> (320, 240); InputError for anything else."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InputError(f"--webcam-size {text!r}: expected WIDTHxHEIGHT, e.g. 320x240") from None
    if not (64 <= width <= 4096 and 64 <= height <= 4096):
        raise InputError(f"--webcam-size {text!r}: width and height must be 64..4096")
    return width, height


def camera_constraints(size: tuple[int, int]) -> dict:
    """getUserMedia constraints asking the camera for `size` (the page's frames are sent at it)."""
    return {"video": {"width": {"ideal": int(size[0])}, "height": {"ideal": int(size[1])}}, "audio": False}


def models_in_run(model: str | Path) -> list[tuple[str, str]]:
    """(label, path) of every model file in the run folder of `model`, in format-table order.

    The picker offers these; GPU-only formats are listed too, and choosing one on a
    machine without a GPU shows the backend's own one-line reason.
    """
    p = Path(model)
    run = p if p.is_dir() else p.parent
    choices: list[tuple[str, str]] = []
    for fmt in FORMATS:
        path = artifact_path(run, fmt)
        if fmt.backend and not fmt.in_viewer and path.exists() and str(path) not in {c[1] for c in choices}:
            choices.append((f"{fmt.name} · {fmt.filename}" + (" (GPU)" if fmt.needs_gpu else ""), str(path)))
    if p.is_file() and str(p) not in {c[1] for c in choices}:
        choices.insert(0, (f"{format_for_path(p).name} · {p.name}", str(p)))
    return choices


# -- the model the page talks to -------------------------------------------------------
class DetectorService:
    """Owns the current `Detector`, serialises calls to it, and tells subscribers of each live frame.

    One lock guards the detector: MediaPipe's detector and some runtimes are not safe
    to call from two threads, and the Gradio queue may run the image and webcam events
    at the same time. The model picker swaps detectors under the same lock; a video takes
    it frame by frame, so live frames are not held up by a long upload.
    """

    def __init__(self, detector_or_model: Any, *, face_model: str | Path | None = None,
                 backend_options: BackendOptions | None = None):
        self._lock = threading.Lock()
        self.face_model = face_model
        self.backend_options = backend_options
        # Called with (start, end) wall-clock seconds of every live frame served, by either
        # route: what a load test, a metrics exporter or the browser test's glass-to-glass
        # pairing subscribes to. The service itself keeps no counters for them.
        self._frame_listeners: list[Callable[[float, float], None]] = []
        if hasattr(detector_or_model, "detect"):
            self.detector = detector_or_model
            self.model_path = _detector_model_path(detector_or_model)
        else:
            self.model_path = resolve_model_path(detector_or_model)
            self.detector = self._open(self.model_path)

    def on_live_frame(self, listener: Callable[[float, float], None]) -> Callable[[float, float], None]:
        """Subscribe `listener(start, end)` to every live frame served (returns it, to unsubscribe)."""
        self._frame_listeners.append(listener)
        return listener

    def live_frame_done(self, started: float, ended: float) -> None:
        for listener in list(self._frame_listeners):
            listener(started, ended)

    def _open(self, path: str | Path):
        from deepfake_edge.runtime.detector import Detector

        return Detector.from_path(path, self.backend_options, face_model=self.face_model)

    @property
    def description(self) -> str:
        name = Path(self.model_path).name if self.model_path else "model"
        return f"`{name}` on **{self.detector.backend_description}**"

    def switch(self, path: str | Path) -> None:
        """Load another model file; on failure keep serving the current one and raise its error."""
        new = self._open(path)
        with self._lock:
            old, self.detector, self.model_path = self.detector, new, Path(path)
        old.close()
        log.info("now serving %s with %s", path, new.backend_description)

    def detect(self, image: np.ndarray):
        with self._lock:
            return self.detector.detect(image, color="RGB")

    @property
    def contract(self):
        """The served model's contract (a live session reads its threshold)."""
        return self.detector.contract

    def explain(self, image: np.ndarray, result) -> np.ndarray | None:
        """Occlusion heat maps of the result's faces, stacked (`runtime.explain`); None without faces."""
        from deepfake_edge.runtime.explain import explain_faces

        with self._lock:
            overlays = explain_faces(self.detector.backend, image, result)
        if not overlays:
            return None
        width = max(o.shape[1] for o in overlays)
        return np.concatenate([np.pad(o, ((0, 0), (0, width - o.shape[1]), (0, 0))) for o in overlays], axis=0)

    def analyze_video(self, path: str | Path, *, samples: int = VIDEO_SAMPLES, explain: bool = False):
        """(VideoResult, annotated RGB of its most suspicious sampled frame or None, and with
        `explain` the occlusion heat maps of that frame's faces or None).

        The lock is taken per frame, not for the whole video, so live webcam frames from
        other tabs keep being served while a long video is analysed.
        """
        from deepfake_edge.runtime.video import analyze_video, iter_frames

        every = _video_step(path, samples)
        detector = _FrameAtATime(self, self.detector)
        report = analyze_video(detector, path, every=every)
        scored = [fr for fr in report.frames if fr.max_fake is not None]
        target = max(scored, key=lambda fr: fr.max_fake).index if scored else report.frames[0].index
        for index, _, rgb in iter_frames(path, every=every):
            if index == target:
                result = detector.detect(rgb)
                why = self.explain(rgb, result) if explain and result.faces else None
                return report, _annotate(rgb, result), why
        return report, None, None

    def close(self) -> None:
        with self._lock:
            self.detector.close()


class _FrameAtATime:
    """One detector, called under the service's lock one frame at a time.

    A model switch between two frames would mix two models in one report, so it ends the
    analysis with a message instead (the old detector is closed by then).
    """

    def __init__(self, service: DetectorService, detector):
        self._service, self._detector = service, detector
        self.contract = detector.contract

    def detect(self, image: np.ndarray, *, color: str = "RGB"):
        with self._service._lock:
            if self._service.detector is not self._detector:
                raise InputError("the model was switched while this video was being analysed; analyse it again")
            return self._detector.detect(image, color=color)


def _detector_model_path(detector) -> Path | None:
    for attr in ("model_path", "path"):
        value = getattr(detector, attr, None)
        if value:
            return Path(value)
    backend = getattr(detector, "backend", None)
    value = getattr(backend, "path", None)
    return Path(value) if value else None


def _video_step(path: str | Path, samples: int) -> int:
    """Analyse about `samples` frames spread over the whole video (every Nth frame)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    finally:
        cap.release()
    return max(1, count // max(1, samples)) if count > 0 else 1


# -- per-browser-tab webcam state ------------------------------------------------------
@dataclass
class StreamSession:
    """One browser tab's live stream: a `runtime.live.LiveSession` (tracking, smoothing, rate)
    over the shared, locked detector service."""

    live: Any

    @classmethod
    def new(cls, service: "DetectorService") -> "StreamSession":
        from deepfake_edge.runtime.live import LiveSession

        return cls(live=LiveSession(service))


# -- formatting ------------------------------------------------------------------------
def score_rows(result) -> list[list[Any]]:
    return [
        [i + 1, f.label, round(float(f.fake_probability), 4), round(float(f.face_score), 3),
         ", ".join(str(int(v)) for v in f.box)]
        for i, f in enumerate(result.faces)
    ]


def latency_line(result, fps: float | None = None) -> str:
    t = result.timings
    parts = [f"detect {t.get('detect_ms', float('nan')):.1f} ms", f"infer {t.get('infer_ms', float('nan')):.1f} ms",
             f"total {t.get('total_ms', float('nan')):.1f} ms"]
    if fps is not None:
        parts.append(f"{fps:.1f} fps")
    return " · ".join(parts)


def verdict_line(result) -> str:
    faces = len(result.faces)
    if result.no_face:
        return "No face found in this image."
    labels = ", ".join(f"{f.label} ({f.fake_probability:.0%} fake)" for f in result.faces)
    whole = " (no face detected: the whole image was scored)" if result.whole_image else ""
    return f"{faces} face{'s' if faces != 1 else ''}: {labels}{whole}. {latency_line(result)}"




# -- the page --------------------------------------------------------------------------
def build_app(detector_or_model: Any = None, *, face_model: str | Path | None = None,
              backend_options: BackendOptions | None = None, stream_every: float = DEFAULT_STREAM_EVERY,
              webcam_size: tuple[int, int] = DEFAULT_WEBCAM_SIZE,
              time_limit: float | None = DEFAULT_TIME_LIMIT, max_pixels: int = DEFAULT_MAX_PIXELS,
              demo: bool | None = None, concurrency_limit: int = 1, max_bytes: int = DEFAULT_MAX_BYTES):
    """Build the Blocks app around a Detector, a model file or a run folder (None: the demo run).

    The returned Blocks carries `.service` (the `DetectorService`; `on_live_frame` subscribes
    to every live frame it serves, which is how load tests count what the server did), and
    `.upload_limits`: every input (live frames, images, videos) is held to the same byte
    and pixel limits before anything decodes it (`app.uploads`).
    """
    import atexit

    import gradio as gr

    from deepfake_edge.app.served import ServedFiles
    from deepfake_edge.app.uploads import RawImage, check_video_upload, read_upload

    limits = UploadLimits(max_bytes=int(max_bytes), max_pixels=int(max_pixels))
    served = ServedFiles()  # every result file, unique and atomically written; old ones removed
    atexit.register(served.close)

    if detector_or_model is None:
        detector_or_model = default_model()
        demo = True if demo is None else demo
    service = DetectorService(detector_or_model, face_model=face_model, backend_options=backend_options)
    demo = bool(demo) if demo is not None else _is_demo(service.model_path)
    choices = models_in_run(service.model_path) if service.model_path else []
    web_bundle = browser_tab.bundle_for(service.model_path)

    def runtime_md() -> str:
        return f"Running {service.description}"

    # -- handlers (each returns messages instead of raising) ------------------------
    def on_frame(frame, session):
        if frame is None:
            return gr.skip(), gr.skip(), session
        started = time.time()
        session = session or StreamSession.new(service)
        try:
            rgb = read_upload(frame, limits, "webcam frame")
            result = session.live.process(rgb).result  # detection + tracking + smoothing
        except DeepfakeEdgeError as exc:
            return gr.skip(), f"⚠️ {_one_line(exc)}", session
        annotated = served.image(_annotate(rgb, result), "frame")
        faces = "No face in view" if result.no_face else ", ".join(
            f"{f.label} {f.fake_probability:.0%} fake" for f in result.faces)
        readout = f"{faces} · {latency_line(result, session.live.fps)}"
        service.live_frame_done(started, time.time())
        return annotated, readout, session

    def on_image(path, explain=False):
        if not path:
            return None, [], "Upload or capture an image first.", None
        try:
            rgb = read_upload(path, limits, "image")
            result = service.detect(rgb)
            why = service.explain(rgb, result) if explain else None
        except DeepfakeEdgeError as exc:
            msg = _one_line(exc)
            gr.Warning(msg)
            return None, [], f"⚠️ {msg}", None
        if result.no_face:
            gr.Warning("No face found in this image.")
        return (served.image(_annotate(rgb, result), "annotated"), score_rows(result), verdict_line(result),
                served.image(why, "explain") if why is not None else None)

    def on_video(path, explain=False):
        if not path:
            return None, None, "Upload a video first.", None
        try:
            check_video_upload(path, limits)
            report, frame, why = service.analyze_video(path, explain=bool(explain))
            plot = _plot_video(report, served)
        except DeepfakeEdgeError as exc:
            msg = _one_line(exc)
            gr.Warning(msg)
            return None, None, f"⚠️ {msg}", None
        return ((served.image(frame, "suspicious-frame") if frame is not None else None), plot, _video_verdict(report),
                served.image(why, "video-why") if why is not None else None)

    def on_pick(path):
        if not path:
            return runtime_md(), gr.skip()
        try:
            service.switch(path)
        except DeepfakeEdgeError as exc:
            msg = _one_line(exc)
            gr.Warning(msg)
            return f"⚠️ {msg} — still running {service.description}", gr.skip()
        return runtime_md(), gr.skip()

    # A live stream writes ~10 annotated JPEGs a second into Gradio's cache: `launch` starts
    # a CacheSweeper deleting them after CACHE_MAX_AGE_S (not Gradio's delete_cache, whose
    # sweep dies under load: app/cache_sweep.py), so a long session does not fill the disk.
    with gr.Blocks(title="deepfake-edge", analytics_enabled=False) as blocks:
        gr.Markdown("# deepfake-edge · Real or Fake?")
        if demo:
            gr.Markdown(DEMO_BANNER, elem_id="demo-banner")
        with gr.Row():
            runtime_line = gr.Markdown(runtime_md(), elem_id="runtime-line")
            picker = gr.Dropdown(choices=choices, value=str(service.model_path) if choices else None,
                                 label="Model file (from the run folder)", interactive=len(choices) > 1,
                                 elem_id="model-picker")
        with gr.Tabs():
            with gr.Tab("Webcam", id="webcam"):
                with gr.Row():
                    cam = RawImage(sources=["webcam"], streaming=True, type="filepath", label="Webcam",
                                   webcam_options=gr.WebcamOptions(mirror=False, constraints=camera_constraints(
                                       webcam_size)), elem_id="webcam-in",
                                   limits=limits)
                    live = gr.Image(label="Annotated", type="numpy", interactive=False, format="jpeg", elem_id="webcam-out")
                readout = gr.Markdown("Press **Record** to start; latency appears here.", elem_id="latency")
                gr.Markdown("Faster: **[the live page](/live)** sends frames straight to the detector and draws the "
                            "boxes over your video (several times this tab's frame rate; same server, same limits).",
                            elem_id="live-link")
                session = gr.State(None)
                cam.stream(on_frame, [cam, session], [live, readout, session], stream_every=stream_every,
                           time_limit=time_limit, concurrency_limit=concurrency_limit, api_name="webcam_stream",
                           show_progress="hidden")
                # The same per-frame path as a plain request/response endpoint, for clients that
                # are not browsers (gradio_client cannot drive a streaming input): the load test.
                api_frame = RawImage(type="filepath", visible=False, limits=limits)
                api_btn = gr.Button(visible=False)
                api_btn.click(on_frame, [api_frame, session], [live, readout, session], api_name="frame",
                              concurrency_limit=concurrency_limit, show_progress="hidden")
            with gr.Tab("Image", id="image"):
                with gr.Row():
                    img_in = RawImage(sources=["upload", "webcam", "clipboard"], type="filepath",
                                      label="Image", webcam_options=gr.WebcamOptions(mirror=False), limits=limits)
                    img_out = gr.Image(label="Annotated", type="numpy", interactive=False)
                img_status = gr.Markdown(elem_id="image-status")
                img_table = gr.Dataframe(headers=SCORE_HEADERS, label="Per-face scores", interactive=False)
                with gr.Row():
                    img_explain = gr.Checkbox(False, label="Explain: heat map of what drove each face's score "
                                                           "(occlusion, ~50 model calls per face)")
                    img_btn = gr.Button("Detect", variant="primary")
                img_why = gr.Image(label="Why: each face crop beside the regions that raised its fake probability",
                                   type="filepath", interactive=False, elem_id="image-why")
                img_btn.click(on_image, [img_in, img_explain], [img_out, img_table, img_status, img_why],
                              api_name="image", concurrency_limit=concurrency_limit)
            with gr.Tab("In your browser", id="browser"):
                gr.Markdown(browser_tab.tab_markdown(web_bundle, str(Path(service.model_path or "RUN").parent)),
                            elem_id="browser-tab")
            with gr.Tab("Video", id="video"):
                with gr.Row():
                    vid_in = gr.Video(sources=["upload"], label="Video", format=None)
                    vid_frame = gr.Image(label="Most suspicious sampled frame", type="numpy", interactive=False)
                vid_status = gr.Markdown(elem_id="video-status")
                vid_plot = gr.Image(label="Fake probability over time", type="filepath", interactive=False)
                with gr.Row():
                    vid_explain = gr.Checkbox(False, label="Explain: heat map of what drove the scores on the most "
                                                           "suspicious frame (occlusion, ~50 model calls per face)")
                    vid_btn = gr.Button("Analyse video", variant="primary")
                vid_why = gr.Image(label="Why: the most suspicious frame's faces beside the regions that raised "
                                         "their fake probability", type="filepath", interactive=False,
                                   elem_id="video-why")
                vid_btn.click(on_video, [vid_in, vid_explain], [vid_frame, vid_plot, vid_status, vid_why],
                              api_name="video", concurrency_limit=concurrency_limit)
        picker.change(on_pick, picker, [runtime_line, picker], api_name=False)
    blocks.service = service
    blocks.upload_limits = limits
    blocks.served_files = served
    blocks.web_bundle = web_bundle
    from deepfake_edge.app.cache_sweep import CacheSweeper

    blocks.cache_sweeper = CacheSweeper(blocks, CACHE_SWEEP_S, CACHE_MAX_AGE_S)
    atexit.register(blocks.cache_sweeper.close)
    return blocks


def _is_demo(model_path: Path | None) -> bool:
    if model_path is None:
        return False
    try:
        run = Path(model_path).resolve()
        demo = (Path.cwd() / DEMO_RUN).resolve()
    except OSError:
        return False
    return run == demo or demo in run.parents


def _annotate(rgb: np.ndarray, result) -> np.ndarray:
    from deepfake_edge.runtime.annotate import annotate

    return annotate(rgb, result)


# -- video helpers ---------------------------------------------------------------------
def _plot_video(report, served) -> str:
    """The timeline plot as a served file (removed with the older results, see `app.served`)."""
    from deepfake_edge.runtime.video import plot_timeline

    return served.add(plot_timeline(report, served.path("timeline", ".png")))


def _video_verdict(report) -> str:
    summary = report.summary()
    sampled = summary["frames_sampled"]
    if report.label is None:
        rejected = summary.get("rejected_tracks", 0)
        if rejected:
            return (f"No face found that stays in view in the {sampled} sampled frames: no verdict "
                    f"({rejected} brief or low-confidence detection(s) rejected as spurious).")
        return f"No face found in any of the {sampled} sampled frames: no verdict."
    return (f"Video verdict: **{report.label}** (mean fake probability {summary['mean_fake_probability']:.2f} "
            f"over {summary['faces']} face crops in {summary['frames_with_faces']} of {sampled} sampled frames; "
            f"top-{summary['top_k']} mean {summary['topk_fake_probability']:.2f}; threshold {report.threshold:.2f})")


# -- serving ---------------------------------------------------------------------------
_UNREACHABLE = "localhost is not accessible"  # Gradio's words when its start-up probe of the page fails


def _start_server(blocks, options: dict, attempts: int = 2) -> None:
    """`blocks.launch(**options)`, again once if Gradio's start-up probe of the page times out.

    Gradio gives its own page one 3-second HEAD request after starting the server and raises
    when it gets no answer; on a busy machine (a training beside the app) the first render
    can take longer. The second start finds the page warm. A probe that fails twice means the
    page is unreachable here (typically HTTP_PROXY without NO_PROXY for 127.0.0.1): one line.
    """
    for attempt in range(1, attempts + 1):
        try:
            blocks.launch(**options)
            return
        except ValueError as exc:
            if _UNREACHABLE not in str(exc):
                raise
            blocks.close()
            url = getattr(blocks, "local_url", None) or f"http://{options.get('server_name') or DEFAULT_HOST}/"
            if attempt == attempts:
                raise DeepfakeEdgeError(
                    f"{url}: the server started but its page did not answer within 3 s, {attempts} times "
                    f"(a proxy in HTTP_PROXY/HTTPS_PROXY without NO_PROXY=127.0.0.1,localhost, or a machine "
                    f"too busy to answer); set NO_PROXY, or retry when the machine is less loaded") from None
            log.warning("%s did not answer Gradio's start-up check in time (busy machine?); starting again", url)


def launch(blocks=None, *, model: Any = None, host: str = DEFAULT_HOST, port: int | None = None,
           share: bool = False, max_file_size: str | int = DEFAULT_MAX_FILE_SIZE, queue_size: int = 64,
           prevent_thread_lock: bool = False, quiet: bool = False, malloc_arenas: int | None = None,
           **build_options):
    """Serve the app: local only unless `share`, bounded queue, upload size limit, no analytics.

    `malloc_arenas` caps glibc's malloc arenas before the request threads start (app/malloc.py:
    default 2, 0 leaves the C library's default), which keeps the server's memory flat under load.
    """
    import gradio as gr

    from deepfake_edge.app.malloc import DEFAULT_ARENAS, configure_server_heap

    configure_server_heap(DEFAULT_ARENAS if malloc_arenas is None else malloc_arenas)
    if blocks is None:
        blocks = build_app(model, **build_options)
    blocks.queue(max_size=queue_size, default_concurrency_limit=1)
    if share:
        log.warning("--share: creating a PUBLIC link through Gradio's share servers; anyone with it can use the app")
    theme = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                              font_mono=["ui-monospace", "monospace"])  # no Google Fonts request
    limits = getattr(blocks, "upload_limits", None)
    if limits is not None and max_file_size == DEFAULT_MAX_FILE_SIZE:
        max_file_size = limits.max_bytes  # the page's own limit for Gradio's upload route, not a second number
    _start_server(blocks, dict(server_name=host, server_port=port, share=bool(share), max_file_size=max_file_size,
                               prevent_thread_lock=True, quiet=quiet, show_error=False, theme=theme,
                               ssr_mode=False, enable_monitoring=False, inbrowser=False))
    if limits is not None:  # one cap on every request's whole body (Gradio caps each file only)
        from deepfake_edge.app.uploads import MULTIPART_OVERHEAD, request_size_guard

        app = blocks.server_app
        stack = app.middleware_stack or app.build_middleware_stack()
        # twice the upload limit: room for one upload sent inline as base64 (4/3 of its size),
        # whose own check then answers with the page's one-line message
        app.middleware_stack = request_size_guard(stack, 2 * limits.max_bytes + MULTIPART_OVERHEAD)
    sweeper = getattr(blocks, "cache_sweeper", None)
    if sweeper is not None:
        sweeper.start()
    service = getattr(blocks, "service", None)
    if service is not None:  # the fast live path: POST /api/frame + the page at /live
        from deepfake_edge.app.live_api import mount_live_api

        blocks.live_sessions = mount_live_api(blocks.server_app, service, blocks.upload_limits)
    bundle = getattr(blocks, "web_bundle", None)
    if bundle is not None:  # the "In your browser" tab's page, on this same server
        browser_tab.mount_bundle(blocks.server_app, bundle)
        log.info("in-browser detector: %s/web/index.html (from %s)", blocks.local_url.rstrip("/"), bundle)
    if not prevent_thread_lock:
        blocks.block_thread()
    return blocks
