"""How the web server's C heap behaves under many concurrent requests (glibc only).

Gradio runs each request handler on a pool of worker threads, and glibc gives threads
their own malloc arenas (up to 8 per core). Decoded frames and model buffers freed in one
arena stay mapped there, and glibc's sliding mmap threshold moves frame-sized buffers
(900 KiB for 640x480) from their own mappings into those heaps after the first one is
freed. `configure_server_heap` caps the arenas and fixes the threshold before the
server's threads start; `deepfake-edge app` calls it (`--malloc-arenas`, default 2, 0
leaves glibc's defaults). Measured with 8 clients for 10 minutes
(benchmarks/results/server_memory.md): with glibc's defaults anonymous memory was still
climbing at the end (+32 MB between the first and last minute of the second half); with
this it levelled off after about three minutes (+2 MB). `malloc_trim` after each cache
sweep was tried and did no better. `MALLOC_ARENA_MAX` /
`MALLOC_MMAP_THRESHOLD_` in the environment, when set, win, as glibc itself reads them.
Elsewhere (musl, macOS, Windows) it is a no-op that says so.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
DEFAULT_ARENAS = 2
MMAP_THRESHOLD = 256 * 1024  # a 640x480 frame is 900 KiB: above it, every frame buffer is its own mapping


def _glibc():
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "mallopt") and hasattr(libc, "gnu_get_libc_version") else None


_LIBC = _glibc()


def configure_server_heap(arenas: int = DEFAULT_ARENAS) -> bool:
    """Cap glibc's malloc arenas at `arenas` and fix the mmap threshold (0: leave both as they are).

    True when the cap is in force. Call it before the worker threads start: threads that
    already own an arena keep it.
    """
    if arenas <= 0:
        return False
    if os.environ.get("MALLOC_ARENA_MAX"):
        log.info("MALLOC_ARENA_MAX=%s is set in the environment; keeping it", os.environ["MALLOC_ARENA_MAX"])
        return False
    if _LIBC is None:
        log.info("not glibc: malloc arenas left as the C library sets them")
        return False
    if _LIBC.mallopt(M_ARENA_MAX, int(arenas)) != 1:
        log.warning("mallopt(M_ARENA_MAX, %d) was refused; malloc arenas left at the default", arenas)
        return False
    log.info("malloc arenas capped at %d (freed frame buffers are reused instead of kept per thread)", arenas)
    if os.environ.get("MALLOC_MMAP_THRESHOLD_"):
        return True
    # A fixed threshold also turns off glibc's sliding one, which after the first freed large
    # buffer moves up to 32 MiB and from then on carves frame buffers out of the heap.
    if _LIBC.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1:
        log.info("buffers of %d KiB or more get their own mapping (returned to the system when freed)",
                 MMAP_THRESHOLD // 1024)
    return True
