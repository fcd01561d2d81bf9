"""The Gradio app, served in-process on 127.0.0.1 and called the way a client calls it.

The image and video endpoints are exercised through `gradio_client`: what comes back
(annotated image, per-face rows, status line, verdict, plot) is what the page shows.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path

import cv2
import numpy as np
import pytest

from deepfake_edge.runtime.errors import ModelFileError
from tests.facekit import FrameRecorder

MAX_PIXELS = 1_000_000  # small, so the "huge image" case stays cheap to generate


def grace_hopper_path() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


def require_face_model():
    """The MediaPipe model `make setup` installs; skip locally without it, fail in CI."""
    from deepfake_edge.runtime.errors import FaceModelError
    from deepfake_edge.runtime.faces import resolve_face_model

    try:
        return resolve_face_model()
    except FaceModelError as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"no face-detector model installed ({exc})")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tiny_run):
    """(url, blocks) of the app serving the tiny model; closed after the module."""
    from deepfake_edge.app import web

    require_face_model()
    blocks = web.build_app(tiny_run / "model.keras", max_pixels=MAX_PIXELS, max_bytes=2 * 1024 * 1024)
    web.launch(blocks, port=free_port(), prevent_thread_lock=True, quiet=True)  # Gradio's limit from the page's
    url = f"http://127.0.0.1:{blocks.server_port}/"
    yield url, blocks
    blocks.close()
    blocks.service.close()


@pytest.fixture(scope="module")
def client(served):
    from gradio_client import Client

    # Generous timeout: on a busy 2-core CI machine the first API-info request can take a while.
    return Client(served[0], verbose=False, httpx_kwargs={"timeout": 120})


def call_image(client, path, explain=False):
    """(annotated image, score table, status line); with `explain`, also the heat-map image."""
    from gradio_client import handle_file

    out = client.predict(handle_file(str(path)), explain, api_name="/image")
    return out if explain else out[:3]


def test_served_on_loopback_only(served):
    blocks = served[1]
    assert blocks.server_name == "127.0.0.1"
    assert blocks.share is False or blocks.share is None


def test_face_photo_gives_box_label_and_annotated_image(client):
    image, table, status = call_image(client, grace_hopper_path())
    original = cv2.imread(str(grace_hopper_path()))[..., ::-1]
    annotated = cv2.imread(image)[..., ::-1]
    assert annotated.shape == original.shape
    assert np.abs(annotated.astype(int) - original.astype(int)).max() > 100, "nothing was drawn on the image"
    rows = table["data"]
    assert len(rows) == 1, rows
    face, label, p_fake, face_score, box = rows[0]
    assert label in ("Real", "Fake")
    assert 0.0 <= float(p_fake) <= 1.0
    assert float(face_score) >= 0.5
    x, y, w, h = (int(v) for v in box.split(","))
    # Grace Hopper's face sits in the upper middle of the 512x600 portrait.
    assert 100 < x + w / 2 < 400 and 100 < y + h / 2 < 350 and w > 80, box
    assert status.startswith("1 face:") and label in status and "total" in status


def test_blank_image_says_no_face(client, tmp_path):
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((240, 320, 3), 128, np.uint8))
    image, table, status = call_image(client, blank)
    assert "No face found" in status
    assert table["data"] == [] or table["data"] == [[]] or all(not any(r) for r in table["data"])


def test_non_image_upload_gives_a_message_and_app_keeps_serving(client, tmp_path):
    bogus = tmp_path / "notes.png"
    bogus.write_text("this is a text file, not a picture\n")
    image, table, status = call_image(client, bogus)
    assert image is None
    assert "not an image" in status and "notes.png" in status
    assert "Traceback" not in status
    _, table, status = call_image(client, grace_hopper_path())
    assert len(table["data"]) == 1 and status.startswith("1 face:")


def test_image_above_the_pixel_limit_is_refused_with_a_message(client, tmp_path):
    big = tmp_path / "big.png"
    cv2.imwrite(str(big), np.zeros((1100, 1000, 3), np.uint8), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    image, table, status = call_image(client, big)
    assert image is None
    assert "pixel limit" in status and "1000x1100" in status


def test_upload_above_the_size_limit_is_rejected_and_app_keeps_serving(client, tmp_path):
    fat = tmp_path / "fat.png"
    fat.write_bytes(os.urandom(3 * 1024 * 1024))  # above the 2 MB limit the fixture set
    with pytest.raises(Exception) as info:
        call_image(client, fat)
    assert "Traceback" not in str(info.value)
    _, table, _ = call_image(client, grace_hopper_path())
    assert len(table["data"]) == 1


def test_stream_endpoint_counts_frames_and_annotates(client, served):
    from gradio_client import handle_file

    frames = FrameRecorder(served[1].service)
    frame, readout = client.predict(handle_file(str(grace_hopper_path())), api_name="/frame")[:2]
    assert frames.count == 1
    assert "total" in readout and "ms" in readout
    assert cv2.imread(frame) is not None


def test_models_in_run_lists_run_folder_files_in_table_order(tiny_run):
    from deepfake_edge.app.web import models_in_run

    choices = models_in_run(tiny_run / "model.keras")
    assert [Path(p).name for _, p in choices] == ["model.keras", "model.h5"]
    assert choices[0][0].startswith("keras")


def test_picker_switch_keeps_serving_on_a_bad_model(served, tiny_run, tmp_path):
    import shutil

    service = served[1].service
    before = service.description
    shutil.copy(tiny_run / "contract.json", tmp_path / "contract.json")
    broken = tmp_path / "model.onnx"
    broken.write_bytes(b"not an onnx model")
    with pytest.raises(ModelFileError) as info:
        service.switch(broken)
    assert str(broken) in str(info.value)
    assert service.description == before
    service.switch(tiny_run / "model.h5")
    assert "model.h5" in service.description
    service.switch(tiny_run / "model.keras")


def test_missing_default_model_says_make_demo(tmp_path, monkeypatch):
    from deepfake_edge.app import web

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelFileError) as info:
        web.build_app(None)
    msg = str(info.value)
    assert "make demo" in msg and "--model" in msg and "\n" not in msg


def test_demo_run_gets_the_demonstration_banner(tiny_run, tmp_path, monkeypatch):
    import shutil

    from deepfake_edge.app import web

    require_face_model()
    shutil.copytree(tiny_run, tmp_path / web.DEMO_RUN)
    monkeypatch.chdir(tmp_path)
    blocks = web.build_app(None)
    try:
        texts = [getattr(b, "value", "") for b in blocks.blocks.values()]
        assert any(isinstance(t, str) and "Demonstration model" in t for t in texts)
    finally:
        blocks.service.close()


def write_face_video(path: Path, n_face: int = 12, n_blank: int = 6, fps: float = 10.0) -> Path:
    """A short mp4: Grace Hopper's portrait, then grey frames without a face."""
    bgr = cv2.imread(str(grace_hopper_path()))
    bgr = cv2.resize(bgr, (256, 300))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (256, 300))
    assert writer.isOpened()
    for _ in range(n_face):
        writer.write(bgr)
    for _ in range(n_blank):
        writer.write(np.full_like(bgr, 128))
    writer.release()
    return path


def call_video(client, path, explain=False):
    """(most suspicious frame, timeline plot, status line); with `explain`, also the heat maps."""
    from gradio_client import handle_file

    out = client.predict(handle_file(str(path)), explain, api_name="/video")
    return out if explain else out[:3]


def test_video_gives_verdict_plot_and_annotated_frame(client, tmp_path):
    video = write_face_video(tmp_path / "clip.mp4")
    frame, plot, status = call_video(client, video)
    assert status.startswith("Video verdict: **Real**") or status.startswith("Video verdict: **Fake**"), status
    assert "of 18 sampled frames" in status and "12 face crops" in status
    png = cv2.imread(plot)
    assert png is not None and png.shape[1] >= 400  # the matplotlib figure, 800 px wide
    annotated = cv2.imread(frame)
    assert annotated.shape[:2] == (300, 256)
    plain = cv2.resize(cv2.imread(str(grace_hopper_path())), (256, 300))
    assert np.abs(annotated.astype(int) - plain.astype(int)).max() > 100, "the summary frame carries no box"


def test_video_tab_explains_the_most_suspicious_frame_on_request(client, tmp_path):
    video = write_face_video(tmp_path / "clip.mp4")
    frame, plot, status, why = call_video(client, video, explain=True)
    assert why is not None and status.startswith("Video verdict")
    heat, annotated = cv2.imread(why), cv2.imread(frame)
    assert heat.shape[1] > heat.shape[0] and heat.shape[0] < annotated.shape[0]  # the face crop beside its heat map
    assert len(call_video(client, video, explain=True)) == 4 and call_video(client, video)[2] == status


def test_unreadable_video_gives_a_message(client, tmp_path):
    bogus = tmp_path / "broken.mp4"
    bogus.write_bytes(b"\x00\x01 definitely not a video" * 50)
    frame, plot, status = call_video(client, bogus)
    assert frame is None and plot is None
    assert status.startswith("⚠️") and "broken.mp4" in status and "\n" not in status


@pytest.fixture()
def paused_video(tmp_path, monkeypatch):
    """A service on a tiny ONNX model, and a video whose analysis pauses after its second
    frame (between frames, where no lock is held) until `release` is set."""
    import threading

    from deepfake_edge.app import web
    from deepfake_edge.runtime import video as video_mod
    from tests.facekit import write_tiny_onnx

    require_face_model()
    service = web.DetectorService(write_tiny_onnx(tmp_path / "model.onnx"))
    paused, release = threading.Event(), threading.Event()
    original = video_mod.iter_frames

    def gated_frames(*args, **kwargs):
        for i, item in enumerate(original(*args, **kwargs)):
            yield item
            if i == 1 and not release.is_set():
                paused.set()
                release.wait(20)

    monkeypatch.setattr(video_mod, "iter_frames", gated_frames)
    outcome = {}

    def analyse():
        try:
            outcome["report"] = service.analyze_video(write_face_video(tmp_path / "clip.mp4"))
        except Exception as exc:  # noqa: BLE001 - handed to the test
            outcome["error"] = exc

    worker = threading.Thread(target=analyse, name="video")
    worker.start()
    assert paused.wait(20), "the video analysis never reached its second frame"
    yield service, release, worker, outcome
    release.set()
    worker.join(20)
    service.close()


def test_live_frames_are_served_while_a_video_is_analysed(paused_video):
    import threading

    service, release, worker, outcome = paused_video
    live = []
    frame = cv2.cvtColor(cv2.imread(str(grace_hopper_path())), cv2.COLOR_BGR2RGB)
    caller = threading.Thread(target=lambda: live.append(service.detect(frame)))
    caller.start()
    caller.join(10)
    assert not caller.is_alive() and len(live[0].faces) == 1  # served mid-video, not after it
    assert worker.is_alive()  # the video is still paused half way
    release.set()
    worker.join(30)
    report, annotated, why = outcome["report"]
    assert len(report.frames) == 18 and annotated is not None and why is None and "error" not in outcome


def test_switching_model_mid_video_ends_that_analysis_with_a_message(paused_video, tmp_path):
    from deepfake_edge.runtime.errors import InputError
    from tests.facekit import write_tiny_onnx

    service, release, worker, outcome = paused_video
    service.switch(write_tiny_onnx(tmp_path / "other.onnx"))
    release.set()
    worker.join(30)
    assert isinstance(outcome.get("error"), InputError) and "model was switched" in str(outcome["error"])
    assert service.model_path.name == "other.onnx"  # the new model keeps serving


# -- one set of limits for every endpoint, applied before decoding -------------------------

def _bomb_png(path: Path) -> Path:
    """A few-kB PNG that decodes to 1000x1100 pixels, above the fixture's pixel limit."""
    cv2.imwrite(str(path), np.zeros((1100, 1000, 3), np.uint8), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    assert path.stat().st_size < 50_000
    return path


def test_live_frame_endpoint_applies_the_pixel_limit_before_decoding(client, served, tmp_path, monkeypatch):
    from gradio_client import handle_file

    import PIL.Image

    decoded = []
    real_load = PIL.Image.Image.load
    monkeypatch.setattr(PIL.Image.Image, "load", lambda im: decoded.append(im.size) or real_load(im))
    frames = FrameRecorder(served[1].service)
    _, readout = client.predict(handle_file(str(_bomb_png(tmp_path / "bomb.png"))), api_name="/frame")[:2]
    assert "pixel limit" in readout and "1000x1100" in readout and "bomb.png" in readout
    assert frames.count == 0
    assert (1000, 1100) not in decoded  # refused from the header, never decoded


def test_inline_data_url_frames_obey_the_same_limits(client, served, tmp_path):
    import base64

    def inline(data: bytes) -> dict:
        return {"path": None, "url": "data:image/png;base64," + base64.b64encode(data).decode(), "size": None,
                "orig_name": "inline.png", "mime_type": None, "is_stream": False, "meta": {"_type": "gradio.FileData"}}

    _, readout = client.predict(inline(_bomb_png(tmp_path / "b.png").read_bytes()), api_name="/frame")[:2]
    assert "pixel limit" in readout and "inline.png" in readout
    _, readout = client.predict(inline(os.urandom(3 * 1024 * 1024)), api_name="/frame")[:2]
    assert "MB limit" in readout and "\n" not in readout.strip()
    _, png = cv2.imencode(".png", cv2.imread(str(grace_hopper_path())))
    frame, readout = client.predict(inline(png.tobytes()), api_name="/frame")[:2]
    assert "total" in readout and cv2.imread(frame) is not None


def test_messages_name_the_upload_not_the_server_path(client, tmp_path):
    bogus = tmp_path / "notes.png"
    bogus.write_text("not a picture\n")
    _, _, status = call_image(client, bogus)
    assert "notes.png" in status and "/tmp/" not in status and "gradio" not in status.lower()


def test_video_frames_above_the_pixel_limit_are_refused(client, tmp_path):
    big = tmp_path / "big.mp4"
    writer = cv2.VideoWriter(str(big), cv2.VideoWriter_fourcc(*"mp4v"), 5, (1000, 1100))
    for _ in range(3):
        writer.write(np.zeros((1100, 1000, 3), np.uint8))
    writer.release()
    frame, plot, status = call_video(client, big)
    assert frame is None and "pixel limit" in status and "1000x1100" in status and "/tmp/" not in status


def test_read_upload_limits_bytes_and_pixels_without_a_server(tmp_path):
    from deepfake_edge.app.uploads import Upload, UploadLimits, decode_data_url, read_upload
    from deepfake_edge.runtime.errors import InputError

    limits = UploadLimits(max_bytes=10_000, max_pixels=500_000)
    big = tmp_path / "server-side-name.bin"
    big.write_bytes(os.urandom(20_000))
    with pytest.raises(InputError) as err:
        read_upload(Upload("holiday.jpg", path=str(big)), limits)
    assert str(err.value).startswith("holiday.jpg: ") and "server-side-name" not in str(err.value)
    with pytest.raises(InputError, match="above the 0 MB limit|MB limit"):
        decode_data_url("data:image/png;base64," + "A" * 20_000, "x.png", limits)
    with pytest.raises(InputError, match="pixel limit"):
        read_upload(Upload("b.png", data=_bomb_png(tmp_path / "b.png").read_bytes()), limits)


def test_identical_frames_from_many_clients_all_download(served, tmp_path):
    """Identical results used to share one cache file rewritten in place: downloads under load came back cut."""
    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import Client, handle_file

    url, blocks = served
    frame = tmp_path / "same.jpg"
    cv2.imwrite(str(frame), cv2.imread(str(grace_hopper_path())))

    def client_loop(_):
        c = Client(url, verbose=False, httpx_kwargs={"timeout": 120})
        shapes = []
        for _ in range(6):
            out, readout = c.predict(handle_file(str(frame)), api_name="/frame")[:2]
            img = cv2.imread(out)
            shapes.append(None if img is None else img.shape)
        return shapes

    with ThreadPoolExecutor(6) as pool:
        results = [s for shapes in pool.map(client_loop, range(6)) for s in shapes]
    assert results == [(600, 512, 3)] * 36
    assert len(blocks.served_files) <= blocks.served_files.keep  # old result files are removed


def test_served_files_are_unique_complete_and_bounded(tmp_path):
    from deepfake_edge.app.served import ServedFiles

    files = ServedFiles(keep=3, root=tmp_path / "served")
    rgb = np.full((40, 50, 3), 200, np.uint8)
    paths = [files.image(rgb) for _ in range(5)]
    assert len(set(paths)) == 5  # identical images, distinct files
    alive = sorted(p.name for p in (tmp_path / "served").iterdir())
    assert alive == sorted(Path(p).name for p in paths[-3:])  # only the newest three are kept
    assert cv2.imread(paths[-1]).shape == (40, 50, 3)
    files.close()
    assert not (tmp_path / "served").exists()


def test_app_and_cli_read_a_16_bit_grayscale_png_the_same_way(client, served, tmp_path):
    """Gradio used to convert uploads itself: a 16-bit PNG then scored differently in the app and the CLI."""
    from deepfake_edge.runtime.images import read_rgb

    gray16 = (cv2.cvtColor(cv2.imread(str(grace_hopper_path())), cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257)
    path = tmp_path / "gray16.png"
    cv2.imwrite(str(path), gray16)
    _, table, _ = call_image(client, path)
    cli_result = served[1].service.detect(read_rgb(path))  # what `deepfake-edge detect` computes
    assert len(table["data"]) == len(cli_result.faces) == 1
    assert float(table["data"][0][2]) == pytest.approx(cli_result.faces[0].fake_probability, abs=5e-4)


def test_image_tab_explains_the_verdict_on_request(client):
    image, table, status, why = call_image(client, grace_hopper_path(), explain=True)
    assert len(table["data"]) == 1 and why is not None
    heat = cv2.imread(why)
    annotated = cv2.imread(image)
    assert heat.shape[1] > heat.shape[0] and heat.shape[0] < annotated.shape[0]  # crop beside its heat map
    assert call_image(client, grace_hopper_path())[0] is not None  # off by default: no heat map computed


def test_the_page_asks_the_camera_for_the_configured_size(tiny_run):
    """Gradio alone asks for 1920x1440 (a real webcam then sends full-HD frames); the app asks
    for --webcam-size, 640x480 by default."""
    from deepfake_edge.app import web
    from deepfake_edge.runtime.errors import InputError

    require_face_model()
    for size, want in ((None, (640, 480)), ((320, 240), (320, 240))):
        blocks = web.build_app(tiny_run / "model.keras", **({"webcam_size": size} if size else {}))
        cam = next(b for b in blocks.blocks.values() if getattr(b, "elem_id", None) == "webcam-in")
        video = cam.webcam_options.constraints["video"]
        assert (video["width"]["ideal"], video["height"]["ideal"]) == want
        blocks.service.close()
    assert web.parse_webcam_size("320x240") == (320, 240)
    for bad in ("320", "axb", "10x10"):
        with pytest.raises(InputError, match="--webcam-size"):
            web.parse_webcam_size(bad)


def test_one_request_cannot_carry_more_than_the_upload_limit_in_all(served):
    """Gradio caps each file; the app caps the whole request (many files, or one huge JSON body)."""
    import httpx

    url, blocks = served
    part = b"\xff\xd8" + bytes(1024 * 1024)  # 1 MB each: every file under the 2 MB limit
    many = [("files", (f"f{k}.jpg", part, "image/jpeg")) for k in range(5)]
    r = httpx.post(url + "gradio_api/upload", files=many, timeout=60)
    assert r.status_code == 413 and "above the 4.1 MB limit per request" in r.text and "\n" not in r.text
    r = httpx.post(url + "gradio_api/upload", files=many[:1], timeout=60)
    assert r.status_code == 200 and len(r.json()) == 1  # one file under the limit still uploads

    def endless():  # no Content-Length: counted as it arrives, cut off past the limit
        for _ in range(12):
            yield bytes(512 * 1024)

    r = httpx.post(url + "gradio_api/queue/join", content=endless(), timeout=60,
                   headers={"content-type": "application/json"})
    assert r.status_code >= 400
    assert httpx.get(url + "config", timeout=60).status_code == 200  # and the app keeps serving
