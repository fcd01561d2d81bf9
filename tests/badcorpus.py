"""A generated corpus of bad inputs, one file per class of badness (no binary fixtures).

`write_corpus(folder)` returns {class name: path}. Every class is one that once ended, in
some command, in a traceback, a hang or a silent success: unreadable kinds of file (FIFO,
symlink loop, dangling link, name too long, a folder named like an image), empty,
truncated and mislabelled content, a decompression bomb (a PNG header declaring 60,000 x
60,000 pixels), and the same for videos. `tests/test_bad_input_corpus.py` runs it through
every command and the app.
"""
from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np


def png_bomb(width: int = 60_000, height: int = 60_000) -> bytes:
    """A valid PNG whose header declares width x height pixels: a few hundred bytes on disk."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    rows = zlib.compress(b"\0" * (width + 1) * 64, 9)  # the first 64 rows; the rest is missing
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def write_corpus(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    jpeg = cv2.imencode(".jpg", np.full((64, 64, 3), 128, np.uint8))[1].tobytes()
    png = cv2.imencode(".png", np.full((64, 64, 3), 128, np.uint8))[1].tobytes()
    files = {
        "empty image": ("empty.jpg", b""),
        "text named .jpg": ("text.jpg", b"this is not an image\n" * 20),
        "truncated JPEG": ("truncated.jpg", jpeg[: len(jpeg) // 3]),
        "truncated PNG": ("truncated.png", png[:60]),
        "decompression bomb": ("bomb.png", png_bomb()),
        "empty video": ("empty.mp4", b""),
        "text named .mp4": ("text.mp4", b"not a video\n" * 50),
        "truncated video header": ("truncated.avi", b"RIFF\x00\x00\x00\x00AVI LIST" + b"\0" * 64),
    }
    corpus = {}
    for name, (filename, data) in files.items():
        (folder / filename).write_bytes(data)
        corpus[name] = folder / filename
    os.mkfifo(folder / "pipe.jpg")
    corpus["FIFO"] = folder / "pipe.jpg"
    os.symlink(folder / "loop.png", folder / "loop.png")
    corpus["symlink loop"] = folder / "loop.png"
    os.symlink(folder / "nowhere.jpg", folder / "dangling.jpg")
    corpus["dangling symlink"] = folder / "dangling.jpg"
    (folder / "folder.jpg").mkdir()
    corpus["folder named .jpg"] = folder / "folder.jpg"
    return corpus


def too_long_name(folder: Path) -> Path:
    """A path whose last component is longer than the file system allows (never created)."""
    return folder / ("x" * 300 + ".jpg")
