"""Draw detection results on an image: a box, label and fake probability per face.

Colours follow the label (red = Fake, green = Real) so a glance is enough; an image
with no face gets a banner instead of silently showing nothing.
"""
from __future__ import annotations

import cv2
import numpy as np

COLORS = {"Fake": (220, 40, 40), "Real": (40, 170, 70)}  # RGB
BANNER_COLOR = (230, 160, 20)


def annotate(image_rgb: np.ndarray, result) -> np.ndarray:
    """A copy of `image_rgb` with every face of `result` (a DetectionResult) drawn on it."""
    out = np.ascontiguousarray(image_rgb, dtype=np.uint8).copy()
    h, w = out.shape[:2]
    scale = max(0.4, min(w, h) / 600.0)
    thick = max(1, int(round(2 * scale)))
    for face in result.faces:
        x, y, bw, bh = face.box
        color = COLORS.get(face.label, (200, 200, 200))
        cv2.rectangle(out, (x, y), (x + bw - 1, y + bh - 1), color, thick)
        text = f"{face.label} {face.fake_probability:.2f}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, thick)
        ty = y - 4 if y - th - base - 4 >= 0 else min(h - 1, y + bh + th + 4)
        cv2.rectangle(out, (x, ty - th - base), (x + tw + 4, ty + base // 2), color, -1)
        cv2.putText(out, text, (x + 2, ty - base // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, (255, 255, 255),
                    thick, cv2.LINE_AA)
    if result.no_face:
        banner = "no face found" + (" - whole image classified" if result.whole_image else "")
        (tw, th), base = cv2.getTextSize(banner, cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, thick)
        cv2.rectangle(out, (0, 0), (w, th + base + 10), BANNER_COLOR, -1)
        cv2.putText(out, banner, (6, th + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, (0, 0, 0), thick, cv2.LINE_AA)
    return out
