"""Reading files safely, writing them atomically, and saying what went wrong in one line.

Every file the project reads (images, videos, models, contracts, datasets) is checked
here first, so each class of bad input is decided once:

- only regular files are read: a FIFO, a device or a socket is refused at once (reading
  one would block forever or never end), a folder is named as a folder;
- reads are capped (`max_bytes`): an endless or huge file is refused by its size, and a
  file that grows while it is read stops at the cap;
- every `OSError` becomes one `InputError` line naming the file and the reason in words
  ("permission denied", "symlink loop", "name too long", "I/O error"), never "file not
  found" for a file that exists but cannot be opened.
"""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Callable

from deepfake_edge.runtime.errors import InputError

MB = 1024 * 1024

_REASONS = {
    errno.ENOENT: "file not found",
    errno.ENOTDIR: "file not found (a part of the path is not a folder)",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ELOOP: "symlink loop",
    errno.ENAMETOOLONG: "name too long",
    errno.EIO: "I/O error",
    errno.EISDIR: "is a folder, not a file",
    errno.ENXIO: "no such device",
    errno.ENODEV: "no such device",
    errno.EMFILE: "too many open files",
}


def os_error_text(exc: OSError) -> str:
    """An OSError as a few words: the reason, not the errno spelling or the path."""
    return _REASONS.get(exc.errno, (exc.strerror or type(exc).__name__).lower())


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (its type name when it has none), at most `limit` chars."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:limit]


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def check_regular_file(path: str | Path, what: str = "file", *, max_bytes: int | None = None,
                       allow_empty: bool = False) -> os.stat_result:
    """The file's stat when it is a readable regular file within `max_bytes`; InputError otherwise."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise InputError(f"{path}: {os_error_text(exc)}") from None
    except ValueError:  # a NUL byte in the name
        raise InputError(f"{path!r}: not a valid file name") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{path}: is a folder, not {_article(what)}")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{path}: is {_kind(st.st_mode)}, not {_article(what)}; only regular files are read")
    if st.st_size == 0 and not allow_empty:
        raise InputError(f"{path}: empty {what + ' ' if what not in ('file', 'image') else ''}file (0 bytes)")
    if max_bytes is not None and st.st_size > max_bytes:
        raise InputError(f"{path}: {st.st_size / MB:,.1f} MB is above the {max_bytes / MB:,.0f} MB limit for "
                         f"{_article(what)}")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: permission denied")
    return st


def check_folder(path: str | Path, what: str = "folder") -> Path:
    """`path` when it is a folder; InputError saying why not otherwise ("run folder not found",
    "symlink loop", "name too long", "is a file, not a data folder"), never an OSError."""
    try:
        st = os.stat(path)
    except OSError as exc:
        reason = os_error_text(exc)
        raise InputError(f"{path}: {what} not found" if reason == "file not found" else f"{path}: {reason}") from None
    except ValueError:  # a NUL byte in the name
        raise InputError(f"{path!r}: not a valid folder name") from None
    if not stat.S_ISDIR(st.st_mode):
        raise InputError(f"{path}: is {_kind(st.st_mode) if not stat.S_ISREG(st.st_mode) else 'a file'}, "
                         f"not {_article(what)}")
    return Path(path)


def read_bytes(path: str | Path, what: str = "file", *, max_bytes: int) -> bytes:
    """The file's bytes, at most `max_bytes` (checked before and while reading)."""
    check_regular_file(path, what, max_bytes=max_bytes)
    try:
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"{path}: {os_error_text(exc)}") from None
    if len(data) > max_bytes:
        raise InputError(f"{path}: grew past the {max_bytes / MB:,.0f} MB limit for {_article(what)} while being read")
    if not data:
        raise InputError(f"{path}: empty file (0 bytes)")
    return data


def read_text(path: str | Path, what: str = "file", *, max_bytes: int = 16 * MB) -> str:
    """The file as UTF-8 text (capped like `read_bytes`); a binary file is one InputError."""
    data = read_bytes(path, what, max_bytes=max_bytes)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text (is this really {_article(what)}?)") from None


def list_folder(folder: str | Path) -> list[Path]:
    """A folder's entries, sorted; an unreadable folder is one InputError naming it."""
    try:
        return sorted(Path(folder).iterdir())
    except OSError as exc:
        raise InputError(f"{folder}: cannot list the folder ({os_error_text(exc)})") from None


def is_regular_file(path: str | Path) -> bool:
    """True for a regular file (following symlinks); False for folders, FIFOs, devices, broken links."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def scan_folder(folder: str | Path, wanted: Callable[[Path], bool],
                what: str = "image or video file") -> tuple[list[Path], list[dict]]:
    """(files, notes) of a folder tree, sorted: regular files that `wanted` accepts, and a
    `{"path", "reason"}` note for everything else (other files, non-regular files,
    sub-folders that cannot be read), so a batch can say what it did not read."""
    files: list[Path] = []
    notes: list[dict] = []

    def unreadable(exc: OSError) -> None:
        notes.append({"path": exc.filename or str(folder), "reason": f"folder not read ({os_error_text(exc)})"})

    for root, dirs, names in os.walk(folder, onerror=unreadable):
        dirs.sort()
        for name in sorted(names):
            p = Path(root) / name
            if not wanted(p):
                notes.append({"path": str(p), "reason": f"not an {what}" if what[:1] in "aeiou" else f"not a {what}"})
            elif not is_regular_file(p):
                notes.append({"path": str(p), "reason": "not a regular file (FIFO, device, socket or broken link)"})
            else:
                files.append(p)
    return files, notes


def is_folder(path: str | Path) -> bool:
    """True for a folder; False for anything else, including names the OS refuses (too long, loops)."""
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def exists(path: str | Path) -> bool:
    """True when something (even a broken or looping link) has this name; False on any OS refusal."""
    try:
        os.lstat(path)
        return True
    except (OSError, ValueError):
        return False


def write_bytes_atomically(path: str | Path, data: bytes) -> Path:
    """`data` into `path` through `<name>.partial` and a rename: never half a file.

    The temporary name ends in `.partial`, not the file's own suffix, so a crash
    mid-write never leaves something a folder listing takes for an image or a model.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_text_atomically(path: str | Path, text: str) -> Path:
    """UTF-8 `text` into `path`, atomically (see `write_bytes_atomically`)."""
    return write_bytes_atomically(path, text.encode("utf-8"))


def replace_atomically(path: str | Path, write: Callable[[Path], object], suffix: str = "") -> Path:
    """Write `path` through a temporary name in the same folder, then `os.replace` it.

    A crash mid-write leaves the old file (or none) instead of a truncated one. `suffix`
    keeps the extension writers such as Keras' `model.save` insist on.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.partial{suffix or path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _article(what: str) -> str:
    return f"an {what}" if what[:1].lower() in "aeiou" else f"a {what}"
