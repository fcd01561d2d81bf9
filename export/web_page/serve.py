"""Serve this folder to a browser: `python serve.py [--port 8765] [--host 127.0.0.1]`.

Standard library only, so the bundle runs from a USB stick on any machine with Python.
Browsers give a page the camera only on localhost or https, and give WebAssembly threads
only to a cross-origin-isolated page: this server binds 127.0.0.1 by default and sends
the two isolation headers (COOP/COEP) and the right types for .mjs and .wasm. It is also
the server `deepfake-edge verify` and `bench` use to run the bundle in headless Chromium.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import threading
from pathlib import Path

TYPES = {".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm",
         ".json": "application/json", ".onnx": "application/octet-stream", ".tflite": "application/octet-stream"}


# Cross-origin isolation (WASM threads need SharedArrayBuffer); `deepfake-edge app` sends the same.
HEADERS = {"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp",
           "Cross-Origin-Resource-Policy": "same-origin", "Cache-Control": "no-cache"}


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **TYPES}

    def end_headers(self):
        for name, value in HEADERS.items():
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, *args):  # quiet: a page load is ~10 requests
        pass


def make_server(folder: str | Path, host: str = "127.0.0.1", port: int = 0) -> http.server.ThreadingHTTPServer:
    """A threading HTTP server for `folder` (port 0: a free one; see `.server_address`)."""
    handler = functools.partial(Handler, directory=str(folder))
    return http.server.ThreadingHTTPServer((host, port), handler)


def serve_in_background(folder: str | Path, host: str = "127.0.0.1", port: int = 0):
    """Start `make_server` on a daemon thread; returns (server, base URL)."""
    server = make_server(folder, host, port)
    threading.Thread(target=server.serve_forever, daemon=True, name="bundle-server").start()
    return server, f"http://{server.server_address[0]}:{server.server_address[1]}/"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: the camera needs "
                                                       "localhost or https)")
    ap.add_argument("--port", type=int, default=8765)
    args = ap.parse_args()
    server = make_server(Path(__file__).resolve().parent, args.host, args.port)
    print(f"deepfake-edge in your browser: open http://{args.host}:{server.server_address[1]}/ (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
