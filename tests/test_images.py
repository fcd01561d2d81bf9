"""Image hardening: every odd file a user may hand us decodes to upright RGB uint8 or fails in one line."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from deepfake_edge.runtime.errors import InputError
from deepfake_edge.runtime.images import as_rgb_array, read_rgb


def _save(tmp_path, name, im, **kw):
    p = tmp_path / name
    im.save(p, **kw)
    return p


def _one_line_error(path, match):
    with pytest.raises(InputError) as err:
        read_rgb(path)
    msg = str(err.value)
    assert str(path) in msg and "\n" not in msg and match in msg, msg


def test_zero_byte_file(tmp_path):
    p = tmp_path / "empty.jpg"
    p.write_bytes(b"")
    _one_line_error(p, "empty file")


def test_truncated_jpeg(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    full = _save(tmp_path, "full.jpg", Image.fromarray(rgb), quality=90).read_bytes()
    p = tmp_path / "cut.jpg"
    p.write_bytes(full[: len(full) // 3])
    _one_line_error(p, "truncated")


def test_non_image_and_missing_and_folder(tmp_path):
    p = tmp_path / "notes.png"
    p.write_text("this is text, not a picture")
    _one_line_error(p, "not an image")
    _one_line_error(tmp_path / "absent.png", "not found")
    _one_line_error(tmp_path, "folder")


def test_grayscale_becomes_three_equal_channels(tmp_path):
    gray = np.tile(np.arange(0, 240, 4, dtype=np.uint8), (40, 1))
    out = read_rgb(_save(tmp_path, "g.png", Image.fromarray(gray, "L")))
    assert out.shape == (40, 60, 3) and out.dtype == np.uint8
    assert np.array_equal(out[..., 0], gray) and np.array_equal(out[..., 1], out[..., 2])


def test_rgba_is_composited_on_white(tmp_path):
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:16, :, 3] = 255  # top opaque red, bottom fully transparent
    out = read_rgb(_save(tmp_path, "a.png", Image.fromarray(rgba, "RGBA")))
    assert out.shape == (32, 32, 3)
    assert tuple(out[0, 0]) == (200, 0, 0) and tuple(out[-1, -1]) == (255, 255, 255)


def test_16_bit_is_scaled_to_8_bit(tmp_path):
    arr = np.full((20, 20), 65535, np.uint16)
    arr[:10] = 32768
    out = read_rgb(_save(tmp_path, "deep.png", Image.fromarray(arr)))
    assert out.dtype == np.uint8 and out[-1, 0, 0] == 255 and abs(int(out[0, 0, 0]) - 128) <= 1


def test_cmyk_jpeg_decodes_to_rgb(tmp_path):
    im = Image.new("CMYK", (32, 32), (0, 255, 255, 0))  # pure red in CMYK
    out = read_rgb(_save(tmp_path, "c.jpg", im, quality=95))
    assert out.shape == (32, 32, 3)
    r, g, b = out[16, 16].astype(int)
    assert r > 200 and g < 60 and b < 60


def test_exif_rotation_is_applied(tmp_path):
    arr = np.zeros((20, 40, 3), np.uint8)  # 40 wide, 20 high, left half white
    arr[:, :20] = 255
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    out = read_rgb(_save(tmp_path, "rot.jpg", im, exif=exif, quality=95))
    assert out.shape == (40, 20, 3)  # upright: now taller than wide
    assert out[5, 10].mean() > 200 and out[35, 10].mean() < 60  # the white half moved to the top


def test_tiny_image_is_refused(tmp_path):
    _one_line_error(_save(tmp_path, "tiny.png", Image.new("RGB", (12, 30))), "smaller than 16px")


def test_decompression_bomb_is_refused(tmp_path):
    bomb = _save(tmp_path, "bomb.png", Image.new("1", (8000, 8000)))  # 64 Mpx in a few kB
    assert bomb.stat().st_size < 1_000_000
    _one_line_error(bomb, "pixel limit")
    small = _save(tmp_path, "ok.png", Image.new("RGB", (100, 100)))
    with pytest.raises(InputError, match="above the 5,000-pixel limit"):
        read_rgb(small, max_pixels=5000)


def test_bytes_pil_and_arrays_share_the_same_rules():
    buf = io.BytesIO()
    Image.new("RGB", (20, 20), (10, 20, 30)).save(buf, format="PNG")
    assert tuple(read_rgb(buf.getvalue())[0, 0]) == (10, 20, 30)
    bgr = np.zeros((20, 20, 3), np.uint8)
    bgr[..., 0] = 255  # blue in BGR
    assert tuple(as_rgb_array(bgr, color="BGR")[0, 0]) == (0, 0, 255)
    assert as_rgb_array(np.zeros((20, 20), np.uint8)).shape == (20, 20, 3)
    assert tuple(as_rgb_array(np.ones((20, 20, 3), np.float32))[0, 0]) == (255, 255, 255)
    with pytest.raises(InputError, match="smaller than 16px"):
        as_rgb_array(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(InputError, match="expected an image array"):
        as_rgb_array(np.zeros((20, 20, 5), np.uint8))
