"""Occlusion heat maps: the regions that drove the fake probability light up, through any backend."""
from __future__ import annotations

import json

import cv2
import numpy as np

from deepfake_edge.runtime.backends import open_backend
from tests.facekit import face_model_or_skip, grace_hopper, write_tiny_onnx


def _neutral_face(size: int = 96) -> np.ndarray:
    """A grey 'real' crop for the tiny colour model (red-ish = Fake, green-ish = Real)."""
    rng = np.random.default_rng(0)
    return np.clip(rng.normal(120, 8, (size, size, 3)), 0, 255).astype(np.uint8)


def test_a_pasted_fake_patch_lights_up_where_it_was_pasted(tmp_path):
    from deepfake_edge.runtime.explain import occlusion_map

    with open_backend(write_tiny_onnx(tmp_path / "m.onnx")) as backend:
        for y, x in ((8, 10), (50, 56)):  # the heat must follow the patch wherever it is
            crop = _neutral_face()
            crop[y:y + 24, x:x + 24] = (230, 40, 40)  # a red 'manipulated' patch: evidence of Fake
            heat = occlusion_map(backend, crop)
            assert heat.shape == crop.shape[:2] and heat.min() >= 0
            inside = heat[y:y + 24, x:x + 24].mean()
            outside = np.delete(heat.ravel(), np.ravel_multi_index(np.mgrid[y:y + 24, x:x + 24].reshape(2, -1),
                                                                   heat.shape)).mean()
            assert inside > 3 * outside, (inside, outside)
            peak = np.unravel_index(np.argmax(heat), heat.shape)
            assert y - 12 <= peak[0] <= y + 36 and x - 12 <= peak[1] <= x + 36
        plain = occlusion_map(backend, _neutral_face())
        assert plain.max() < inside / 3  # nothing to explain on the untouched crop


def test_detect_explain_writes_one_overlay_per_face(tmp_path, monkeypatch, capsys):
    from deepfake_edge.app import cli

    face_model_or_skip()
    monkeypatch.setattr(cli, "COMMANDS", ("detect",))
    img = tmp_path / "face.jpg"
    cv2.imwrite(str(img), cv2.cvtColor(grace_hopper(), cv2.COLOR_RGB2BGR))
    model = write_tiny_onnx(tmp_path / "model.onnx")
    assert cli.main(["detect", str(img), "--model", str(model), "--json", "--explain", str(tmp_path / "why")]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    (written,) = entry["explain"]
    assert written == str(tmp_path / "why" / "face.face0.explain.png")
    overlay = cv2.imread(written)
    x0, y0, x1, y1 = entry["faces"][0]["crop_box"]
    assert overlay.shape[:2] == (y1 - y0, 2 * (x1 - x0))  # the crop beside its heat map
