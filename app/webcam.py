"""`deepfake-edge detect --webcam N`: a local camera in an OpenCV window.

A reader thread puts frames into a `LatestFrameBuffer` (one slot, drop-oldest), so the
window shows results for the newest frame and latency never builds up; `ScoreSmoother`
averages each tracked face's score so labels do not flicker. Press q or Esc to quit.
"""
from __future__ import annotations

import logging
import os
import sys
import threading
import time

from deepfake_edge.runtime.errors import InputError

log = logging.getLogger(__name__)
WINDOW = "deepfake-edge (q to quit)"


def display_available() -> bool:
    """Whether an OpenCV window can open here (X11/Wayland on Linux; assumed elsewhere)."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def run_webcam(detector, index: int, *, alpha: float = 0.3) -> int:
    import cv2

    from deepfake_edge.runtime.annotate import annotate
    from deepfake_edge.runtime.live import LiveSession
    from deepfake_edge.runtime.stream import LatestFrameBuffer

    if not display_available():
        raise InputError("--webcam: no display here (DISPLAY/WAYLAND_DISPLAY unset); "
                         "use `deepfake-edge app` for a browser webcam instead")
    cap = cv2.VideoCapture(index)
    if not cap.isOpened():
        raise InputError(f"--webcam {index}: cannot open camera {index}")
    buffer, session, stop = LatestFrameBuffer(), LiveSession(detector, alpha=alpha), threading.Event()

    def read_frames() -> None:
        while not stop.is_set():
            ok, bgr = cap.read()
            if not ok:
                break
            buffer.put(bgr)
        buffer.close()

    reader = threading.Thread(target=read_frames, name="webcam-reader", daemon=True)
    reader.start()
    shown, t_start = 0, time.perf_counter()
    try:
        while True:
            bgr = buffer.get(timeout=2.0)
            if bgr is None:
                if buffer.closed:
                    log.warning("camera %d stopped delivering frames", index)
                    break
                continue
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            result = session.process(rgb).result  # detection + tracking + smoothing
            view = cv2.cvtColor(annotate(rgb, result), cv2.COLOR_RGB2BGR)
            cv2.putText(view, f"{result.timings['total_ms']:.0f} ms  dropped {buffer.dropped}", (8, view.shape[0] - 10),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
            cv2.imshow(WINDOW, view)
            shown += 1
            if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                break
    finally:
        stop.set()
        reader.join(timeout=2.0)
        cap.release()
        cv2.destroyAllWindows()
    elapsed = time.perf_counter() - t_start
    log.info("webcam: %d frames shown (%.1f fps), %d dropped", shown, shown / max(elapsed, 1e-9), buffer.dropped)
    return 0
