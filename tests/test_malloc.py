"""app/malloc.py: the web server's threads share a capped number of glibc malloc arenas."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from deepfake_edge.app import malloc

# Four threads each malloc() in C; glibc's malloc_stats() prints one "Arena N:" block per arena.
_COUNT_ARENAS = r'''
import ctypes, sys, threading
from deepfake_edge.app import malloc
print(malloc.configure_server_heap(int(sys.argv[1])), file=sys.stderr)
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
barrier = threading.Barrier(4)
def work():
    barrier.wait()
    libc.malloc(1 << 16)
threads = [threading.Thread(target=work) for _ in range(4)]
[t.start() for t in threads]; [t.join() for t in threads]
libc.malloc_stats()
'''


def _arenas(cap: int, env: dict | None = None) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-c", _COUNT_ARENAS, str(cap)], capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stderr.count("Arena "), done.stderr.splitlines()[0]


@pytest.mark.skipif(malloc._LIBC is None, reason="glibc only: other C libraries have no malloc arenas to cap")
def test_the_cap_keeps_many_threads_in_few_arenas():
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    uncapped, said = _arenas(0, env)
    assert said == "False" and uncapped >= 3  # glibc's default: a new arena per thread, up to 8 per core
    capped, said = _arenas(1, env)
    assert said == "True" and capped == 1


def test_the_environment_wins_and_zero_leaves_the_default(monkeypatch):
    assert malloc.configure_server_heap(0) is False
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert malloc.configure_server_heap(2) is False  # glibc read MALLOC_ARENA_MAX at start-up; the user's choice stands


# glibc's sliding mmap threshold: after a 1 MiB mapped buffer is freed, the threshold rises to
# 1 MiB and a following 900 KiB frame buffer is carved out of the heap, where it stays mapped
# after free(). mallinfo2().hblks counts the buffers that have their own mapping (Python's own
# start-up already holds a few, so the test counts what the frame adds).
_MAPPED_AFTER_FREE = r'''
import ctypes, sys
from deepfake_edge.app import malloc
malloc.configure_server_heap(int(sys.argv[1]))
libc = ctypes.CDLL(None)
class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
libc.mallinfo2.restype = Info
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.free(libc.malloc(1 << 20))
before = libc.mallinfo2().hblks
frame = libc.malloc(900 * 1024)
print(libc.mallinfo2().hblks - before)
'''


@pytest.mark.skipif(malloc._LIBC is None or not hasattr(malloc._LIBC, "mallinfo2"),
                    reason="glibc 2.33+ only: mallinfo2 reports mapped buffers")
def test_frame_sized_buffers_keep_their_own_mapping():
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}

    def mapped(cap: int) -> int:
        done = subprocess.run([sys.executable, "-c", _MAPPED_AFTER_FREE, str(cap)], capture_output=True,
                              text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        return int(done.stdout.strip())
    assert mapped(0) == 0  # glibc's default: the threshold slid up to 1 MiB, the frame came from the heap
    assert mapped(2) == 1  # the server's heap: 256 KiB threshold, fixed, so the frame is its own mapping


def test_the_app_command_passes_its_arena_count_to_the_server(monkeypatch, capsys):
    from deepfake_edge.app import cli, web

    launched = []
    monkeypatch.setattr(web, "build_app", lambda model, **options: "blocks")
    monkeypatch.setattr(web, "launch", lambda blocks, **options: launched.append(options["malloc_arenas"]))
    assert cli.main(["app", "--malloc-arenas", "0"]) == 0
    assert cli.main(["app"]) == 0
    assert launched == [0, None]  # None: launch() applies the app's default (2)
    with pytest.raises(SystemExit) as refused:
        cli.main(["app", "--malloc-arenas", "-1"])
    assert refused.value.code == 2 and "-1: must be 0" in capsys.readouterr().err
