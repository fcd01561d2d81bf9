"""The fast server live path: frames in as JPEG bodies, boxes out as JSON, drawn by the page.

Gradio's webcam stream pays, per frame, an upload into its file cache, a queue round,
an event stream, a re-encoded annotated JPEG written to disk and its download (~150 ms a
frame on loopback, benchmarks/results/load_test.md), while the detector needs ~6 ms.
This path keeps the detector and drops the rest:

    page (/live/): camera -> canvas -> JPEG -> POST /api/frame  (one request in flight per page:
                   the next frame sent is always the newest one, so a slow answer drops frames,
                   never queues them)
    server:        the same byte and pixel limits as every upload (`app.uploads`), then the
                   session's `runtime.live.LiveSession` (detection, tracking, smoothing) over the
                   app's one locked `DetectorService`, in a worker thread
    answer:        {"faces": [{"box", "label", "fake_probability", "track"}], "timings", ...}

`launch()` mounts both routes on the app's own server (127.0.0.1 by default). Sessions are
keyed by the page's `X-Session` header and the least recently used ones are dropped past
MAX_SESSIONS, so many viewers cannot grow the server's memory without bound.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from pathlib import Path

PAGE = Path(__file__).resolve().parent / "assets" / "live.html"
FRAME_ROUTE = "/api/frame"
PAGE_ROUTE = "/live"
MAX_SESSIONS = 64


class LiveSessions:
    """Per-page LiveSessions over one DetectorService, the least recently used dropped first."""

    def __init__(self, service, max_sessions: int = MAX_SESSIONS):
        self.service = service
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str):
        from deepfake_edge.runtime.live import LiveSession

        with self._lock:
            session = self._sessions.pop(key, None) or LiveSession(self.service)
            self._sessions[key] = session
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)
            return session

    def __len__(self) -> int:
        return len(self._sessions)


def process_frame(body: bytes, session_key: str, sessions: LiveSessions, limits) -> tuple[int, dict]:
    """(HTTP status, JSON answer) for one frame body; every refusal is one line, no server path."""
    from deepfake_edge.app.uploads import Upload, read_upload
    from deepfake_edge.runtime.errors import DeepfakeEdgeError
    from deepfake_edge.runtime.io import first_line

    started = time.time()
    try:
        rgb = read_upload(Upload("webcam frame", data=body), limits, "webcam frame")
        live = sessions.get(session_key)
        frame = live.process(rgb)
    except DeepfakeEdgeError as exc:
        return 400, {"error": first_line(exc, 300)}
    service = sessions.service
    service.live_frame_done(started, time.time())
    result = frame.result
    faces = [{"box": [float(v) for v in f.box], "label": f.label, "fake_probability": round(float(f.fake_probability), 4),
              "track": int(track)} for f, track in zip(result.faces, frame.tracks)]
    return 200, {"faces": faces, "no_face": bool(result.no_face), "width": int(rgb.shape[1]),
                 "height": int(rgb.shape[0]), "timings": {k: round(float(v), 2) for k, v in result.timings.items()},
                 "fps": round(float(live.fps or 0.0), 1), "threshold": float(service.contract.threshold)}


def mount_live_api(server_app, service, limits) -> LiveSessions:
    """Add POST /api/frame and the page at /live on the running app's server (ahead of Gradio's routes)."""
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse
    from starlette.routing import Route

    sessions = LiveSessions(service)

    async def frame(request: Request):
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limits.max_bytes:
            return JSONResponse({"error": f"webcam frame: {int(declared) / 2**20:.1f} MB is above the "
                                          f"{limits.max_bytes / 2**20:.0f} MB limit"}, status_code=413)
        body = bytearray()
        async for chunk in request.stream():  # a body without (or lying about) its length is capped too
            body += chunk
            if len(body) > limits.max_bytes:
                return JSONResponse({"error": f"webcam frame: above the {limits.max_bytes / 2**20:.0f} MB limit"},
                                    status_code=413)
        key = (request.headers.get("x-session") or "anonymous")[:64]
        status, answer = await run_in_threadpool(process_frame, bytes(body), key, sessions, limits)
        return JSONResponse(answer, status_code=status)

    async def page(_request: Request):
        return HTMLResponse(PAGE.read_text())

    server_app.router.routes.insert(0, Route(FRAME_ROUTE, frame, methods=["POST"], name="live-frame"))
    server_app.router.routes.insert(0, Route(PAGE_ROUTE, page, methods=["GET"], name="live-page"))
    return sessions
