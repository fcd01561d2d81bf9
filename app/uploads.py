"""One set of limits for everything the web app accepts, applied BEFORE anything is decoded.

Gradio decodes an image input itself before a handler runs: a file with PIL, a payload
sent inline as a data URL with PIL too, whatever its size. A tiny, highly compressed PNG
can then expand to gigabytes. `RawImage` is a `gr.Image` that decodes nothing: the
handler receives the uploaded file's path, or the inline payload's bytes (refused by its
length before base64 decoding), and `read_upload` checks bytes and pixels against the
`UploadLimits` before the project's own reader (`runtime.images.read_rgb`, which reads
the pixel count from the header) decodes it. The live frame endpoint, the image tab and
the video tab all go through these limits, and every refusal is the same one line the
CLI would print, naming the upload by its original name, never by its path on the server.
"""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepfake_edge.runtime.errors import InputError

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_PIXELS = 16_000_000  # a 4K frame is 8.3 MP


@dataclass(frozen=True)
class UploadLimits:
    """What one request may carry: encoded bytes and decoded pixels (images and video frames)."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS


def parse_size(text: str | int) -> int:
    """"50mb", "2gb", "500kb" or a number of bytes -> bytes; InputError for anything else."""
    if isinstance(text, int):
        return text
    units = {"kb": 1024, "mb": 1024 ** 2, "gb": 1024 ** 3, "b": 1}
    t = str(text).strip().lower()
    for unit, factor in units.items():
        if t.endswith(unit) and t[: -len(unit)].strip().replace(".", "", 1).isdigit():
            return int(float(t[: -len(unit)]) * factor)
    if t.isdigit():
        return int(t)
    raise InputError(f"--max-file-size: {text!r} is not a size (e.g. 50mb, 2gb, 500kb)")


class Upload:
    """What `RawImage` hands a handler: a server path or inline bytes, plus the name the user knows."""

    def __init__(self, name: str, path: str | None = None, data: bytes | None = None):
        self.name, self.path, self.data = name, path, data


def read_upload(upload, limits: UploadLimits, what: str = "image") -> np.ndarray:
    """Decode an upload into RGB uint8 within `limits`; InputError with one line naming the upload."""
    from deepfake_edge.runtime.images import read_rgb
    from deepfake_edge.runtime.io import read_bytes

    if upload is None:
        raise InputError(f"no {what} received")
    if isinstance(upload, InputError):  # refused while the request was read (RawImage.preprocess)
        raise upload
    if isinstance(upload, (str, Path)):  # a plain path (a non-browser client or an older component)
        upload = Upload(Path(upload).name, path=str(upload))
    data = upload.data
    if data is None:
        try:
            data = read_bytes(upload.path, what, max_bytes=limits.max_bytes)
        except InputError as exc:
            raise InputError(_hide_path(str(exc), upload)) from None
    elif len(data) > limits.max_bytes:
        raise InputError(f"{upload.name}: {len(data) / 2**20:.1f} MB is above the "
                         f"{limits.max_bytes / 2**20:.0f} MB limit for an {what}")
    return read_rgb(data, max_pixels=limits.max_pixels, name=upload.name)


def check_video_upload(path: str | Path, limits: UploadLimits, name: str | None = None) -> None:
    """A video upload within the byte limit and with frames within the pixel limit, before analysis."""
    from deepfake_edge.runtime.io import check_regular_file
    from deepfake_edge.runtime.video import open_video

    upload = Upload(name or Path(path).name, path=str(path))
    try:
        check_regular_file(path, "video", max_bytes=limits.max_bytes)
        cap, info = open_video(path)
        cap.release()
    except InputError as exc:
        raise InputError(_hide_path(str(exc), upload)) from None
    if info.width * info.height > limits.max_pixels:
        raise InputError(f"{upload.name}: video frames are {info.width}x{info.height} = "
                         f"{info.width * info.height:,} pixels, above the {limits.max_pixels:,}-pixel limit")


def _hide_path(message: str, upload: Upload) -> str:
    return message.replace(str(upload.path), upload.name) if upload.path else message


def decode_data_url(url: str, name: str, limits: UploadLimits) -> bytes:
    """The bytes of a `data:...;base64,` URL, refused by its length before it is decoded."""
    head, _, body = url.partition(",")
    if ";base64" not in head:
        raise InputError(f"{name}: inline image is not base64-encoded")
    if len(body) * 3 // 4 > limits.max_bytes:
        raise InputError(f"{name}: inline image of about {len(body) * 3 // 4 / 2**20:.1f} MB is above the "
                         f"{limits.max_bytes / 2**20:.0f} MB limit for an image")
    try:
        return base64.b64decode(body, validate=False)
    except (binascii.Error, ValueError):
        raise InputError(f"{name}: inline image is not valid base64") from None


_RAW_IMAGE = None


def raw_image_class():
    """`gr.Image` subclass whose preprocessing decodes nothing (see the module docstring)."""
    global _RAW_IMAGE
    if _RAW_IMAGE is None:
        import gradio as gr

        class RawImage(gr.Image):
            is_template = True  # rendered by the stock Image component in the browser
            upload_limits = UploadLimits()

            def preprocess(self, payload):
                if payload is None:
                    return None
                name = Path(payload.orig_name).name if payload.orig_name else "uploaded image"
                if payload.url and payload.url.startswith("data:"):
                    try:
                        return Upload(name, data=decode_data_url(payload.url, name, self.upload_limits))
                    except InputError as exc:
                        return exc  # the handler reports it like any other bad upload
                if not payload.path:
                    return None
                return Upload(name, path=str(payload.path))

        _RAW_IMAGE = RawImage
    return _RAW_IMAGE


def RawImage(*args, limits: UploadLimits = UploadLimits(), **kwargs):  # noqa: N802 - reads like the component
    component = raw_image_class()(*args, **kwargs)
    component.upload_limits = limits
    return component


MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around one file


def request_size_guard(app, max_bytes: int):
    """ASGI wrapper: no request body may exceed `max_bytes` in all, whatever it carries.

    Gradio checks each uploaded FILE against `max_file_size`, but one multipart request
    may carry many files, and a queue request any amount of inline JSON; this caps the
    whole request (the app uses twice the upload limit: one upload inline as base64 still
    fits, and gets its own one-line message), the same number for every route
    (uploads, the queue's JSON with inline data URLs, /api/frame). A declared
    Content-Length above the cap is refused at once with 413 and one line; a body without
    one is counted as it arrives and cut off (the route sees the client disconnect).
    """
    async def guarded(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            message = (f"request of {int(declared) / 2**20:.1f} MB is above the {max_bytes / 2**20:.1f} MB "
                       "limit per request").encode()
            await send({"type": "http.response.start", "status": 413,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                    (b"content-length", str(len(message)).encode())]})
            await send({"type": "http.response.body", "body": message})
            return
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_bytes:
                    return {"type": "http.disconnect"}
            return message

        return await app(scope, counted, send)

    return guarded
