"""Detector: class order, one batched backend call per frame, no-face modes, timings, model-file errors."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from deepfake_edge.runtime.backends import open_backend
from deepfake_edge.runtime.contract import ModelContract
from deepfake_edge.runtime.detector import DetectionResult, Detector
from deepfake_edge.runtime.errors import InputError, ModelFileError
from deepfake_edge.runtime.faces import FaceBox, crop_faces
from deepfake_edge.runtime.preprocess import preprocess_batch
from tests.facekit import face_model_or_skip, grace_hopper, tiny_onnx_fake_probability, write_tiny_onnx


class FixedFaces:
    """A face detector double that reports the same boxes for every image."""

    def __init__(self, boxes):
        self.boxes = boxes

    def detect(self, image_rgb):
        return list(self.boxes)


class CountingBackend:
    """Wraps a backend and records the batch size of every call."""

    def __init__(self, backend):
        self.inner, self.calls = backend, []
        self.contract = backend.contract

    def describe(self):
        return self.inner.describe()

    def predict(self, batch):
        self.calls.append(len(batch))
        return self.inner.predict(batch)

    def close(self):
        self.inner.close()


@pytest.fixture()
def onnx_model(tmp_path):
    return write_tiny_onnx(tmp_path / "model.onnx")


def _two_colour_frame():
    img = np.full((200, 300, 3), 128, np.uint8)
    img[40:100, 20:80] = (230, 30, 30)  # red square: Fake for the tiny ONNX model
    img[40:100, 200:260] = (30, 230, 30)  # green square: Real
    return img


def test_all_faces_of_a_frame_go_through_one_backend_call(onnx_model):
    backend = CountingBackend(open_backend(onnx_model))
    boxes = [FaceBox(20, 40, 60, 60, 0.9), FaceBox(200, 40, 60, 60, 0.8)]
    det = Detector(backend, FixedFaces(boxes), no_face="skip")
    result = det.detect(_two_colour_frame())
    assert backend.calls == [2]
    assert [f.label for f in result.faces] == ["Fake", "Real"]
    assert result.faces[0].box == (20, 40, 60, 60) and result.faces[1].face_score == pytest.approx(0.8)
    # Probabilities equal the closed form on exactly the crops the crop rule makes.
    crops = crop_faces(_two_colour_frame(), boxes, det.contract.crop_rule)
    x = preprocess_batch(crops, det.contract)
    expected = tiny_onnx_fake_probability(x.mean(axis=(1, 2)))
    assert [f.fake_probability for f in result.faces] == pytest.approx(expected.tolist(), abs=1e-5)
    det.detect_batch([_two_colour_frame(), _two_colour_frame()])
    assert backend.calls[-1] == 4  # several images: still one call
    det.close()


def test_timings_and_image_size_are_reported(onnx_model):
    with Detector(open_backend(onnx_model), FixedFaces([FaceBox(20, 40, 60, 60)])) as det:
        result = det.detect(_two_colour_frame())
        assert set(result.timings) == {"detect_ms", "crop_ms", "infer_ms", "total_ms"}
        assert all(v >= 0 for v in result.timings.values())
        assert result.timings["total_ms"] >= result.timings["infer_ms"]
        assert result.image_size == (300, 200)
        d = result.to_dict()
        assert d["faces"][0]["box"] == [20, 40, 60, 60] and d["faces"][0]["label"] in ("Real", "Fake")
        assert det.backend_description == "onnxruntime · CPUExecutionProvider"


def test_no_face_skip_reports_it_and_whole_classifies_the_image(onnx_model):
    red = np.zeros((64, 80, 3), np.uint8)
    red[..., 0] = 220
    with Detector(open_backend(onnx_model), FixedFaces([]), no_face="skip") as det:
        r = det.detect(red)
        assert r.no_face and not r.whole_image and r.faces == []
    with Detector(open_backend(onnx_model), FixedFaces([]), no_face="whole") as det:
        r = det.detect(red)
        assert r.no_face and r.whole_image
        assert len(r.faces) == 1 and r.faces[0].box == (0, 0, 80, 64) and r.faces[0].label == "Fake"
    with pytest.raises(InputError, match="no_face"):
        Detector(open_backend(onnx_model), FixedFaces([]), no_face="maybe")


def test_bgr_arrays_and_pil_images_are_accepted(onnx_model):
    from PIL import Image

    frame = _two_colour_frame()
    with Detector(open_backend(onnx_model), FixedFaces([FaceBox(20, 40, 60, 60)])) as det:
        rgb = det.detect(frame).faces[0].fake_probability
        bgr = det.detect(np.ascontiguousarray(frame[..., ::-1]), color="BGR").faces[0].fake_probability
        pil = det.detect(Image.fromarray(frame)).faces[0].fake_probability
    assert rgb == pytest.approx(bgr) == pytest.approx(pil) and rgb > 0.5


def test_class_order_of_a_trained_keras_model(tiny_data, tiny_run):
    """Index 0 is Fake: generated Fake test images score higher than Real ones."""
    from deepfake_edge.runtime.dataset import list_split

    paths, labels = list_split(tiny_data, "Test")
    with Detector(open_backend(tiny_run / "model.keras"), FixedFaces([]), no_face="whole") as det:
        p = np.array([det.detect(str(x)).faces[0].fake_probability for x in paths])
        labels_out = [det.detect(str(x)).faces[0].label for x in paths[:2]]
    fake, real = p[labels == 0], p[labels == 1]
    assert fake.mean() > real.mean() + 0.3
    assert ((p >= 0.5) == (labels == 0)).mean() >= 0.7  # well above chance; a swapped order gives < 0.3
    assert labels_out == ["Fake" if v >= 0.5 else "Real" for v in p[:2]]


def test_from_path_runs_mediapipe_and_the_model_on_a_real_photo(onnx_model):
    face_model = face_model_or_skip()
    with Detector.from_path(onnx_model, face_model=face_model, no_face="skip") as det:
        result = det.detect(grace_hopper())
    assert isinstance(result, DetectionResult) and len(result.faces) == 1
    x, y, w, h = result.faces[0].box
    assert abs(x + w / 2 - 268) < 25 and abs(y + h / 2 - 243) < 25
    assert 0.0 <= result.faces[0].fake_probability <= 1.0


# -- model-file errors: one line naming the file ---------------------------------------
def _one_line_naming(exc, path):
    msg = str(exc.value)
    assert str(path) in msg and "\n" not in msg
    return msg


def test_missing_model_file(tmp_path):
    with pytest.raises(ModelFileError) as err:
        Detector.from_path(tmp_path / "absent.onnx")
    assert "not found" in _one_line_naming(err, tmp_path / "absent.onnx")


def test_truncated_model_files(tmp_path, tiny_run, onnx_model):
    for src in (onnx_model, tiny_run / "model.keras"):
        cut = tmp_path / ("cut_" + src.name)
        data = src.read_bytes()
        cut.write_bytes(data[: len(data) // 2])
        shutil.copy(tiny_run / "contract.json", tmp_path / "contract.json")
        with pytest.raises(ModelFileError) as err:
            open_backend(cut)
        # a cut .keras zip is named as truncated (Keras itself says "File not found")
        expected = "truncated or corrupt" if src.suffix == ".keras" else "cannot load"
        assert expected in _one_line_naming(err, cut)


def test_unknown_suffix(tmp_path):
    odd = tmp_path / "model.pt"
    odd.write_bytes(b"weights")
    with pytest.raises(ModelFileError) as err:
        Detector.from_path(odd)
    assert "unknown model file type" in _one_line_naming(err, odd)


def test_input_shape_disagreeing_with_contract(tmp_path, tiny_run):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    ModelContract.load(run / "contract.json").with_(input_size=64).save(run / "contract.json")
    with pytest.raises(ModelFileError) as err:
        open_backend(run / "model.keras")
    assert "32x32 but its contract says 64x64" in _one_line_naming(err, run / "model.keras")
    onnx32 = write_tiny_onnx(tmp_path / "fixed.onnx", input_size=32)
    # A fixed-size ONNX graph whose contract says 48 is refused too.
    import onnx

    m = onnx.load(str(onnx32))
    m.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
    onnx.save(m, str(onnx32))
    ModelContract(input_size=48).save(str(onnx32) + ".json")
    with pytest.raises(ModelFileError) as err:
        open_backend(onnx32)
    assert "32x32 but its contract says 48x48" in _one_line_naming(err, onnx32)
