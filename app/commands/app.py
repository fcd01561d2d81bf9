"""`deepfake-edge app`: serve the webcam / image / video page on this machine."""
from __future__ import annotations

import argparse

HELP = "serve the Gradio web app (webcam, image, video) on 127.0.0.1"
NEEDS = ("app",)  # pip extras this command needs beyond the base install (runtime/extras.py)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from deepfake_edge.app.commands.arguments import add_face_model, add_provider

    parser.add_argument("--model", default=None,
                        help="model file or run folder (default: the demo run runs/demo/run)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1: this machine only; 0.0.0.0 exposes it to the network)")
    parser.add_argument("--port", type=int, default=None, help="port (default: Gradio's, 7860 or the next free one)")
    parser.add_argument("--share", action="store_true",
                        help="also create a PUBLIC gradio.live link (off by default; anyone with the link can use it)")
    parser.add_argument("--stream-every", type=float, default=None, metavar="S",
                        help="seconds between webcam frames sent to the server (default 0.05)")
    parser.add_argument("--webcam-size", default=None, metavar="WxH",
                        help="frame size the page asks the camera for (default 640x480); 320x240 sends, decodes "
                             "and annotates a quarter of the pixels (benchmarks/results/load_test.md)")
    parser.add_argument("--time-limit", type=float, default=None, metavar="S",
                        help="seconds a webcam stream may run before it must be restarted (default 600)")
    add_face_model(parser)
    add_provider(parser)
    parser.add_argument("--max-file-size", default=None, metavar="SIZE",
                        help="largest upload accepted, e.g. 50mb (default 50mb): Gradio's upload route, inline "
                             "images, live frames and videos alike")
    parser.add_argument("--malloc-arenas", type=_arena_count, default=None, metavar="N",
                        help="glibc malloc arenas the server's threads share (default 2: keeps the server's memory "
                             "flat under many viewers; 0: the C library's default; benchmarks/results/server_memory.md)")


def _arena_count(text: str) -> int:
    count = int(text)
    if count < 0:
        raise argparse.ArgumentTypeError(f"{text}: must be 0 (the C library's default) or a positive count")
    return count


def run(args: argparse.Namespace) -> int:
    from deepfake_edge.app import web
    from deepfake_edge.app.uploads import parse_size

    max_bytes = parse_size(args.max_file_size) if args.max_file_size else web.DEFAULT_MAX_FILE_SIZE
    from deepfake_edge.runtime.backends.options import BackendOptions

    options = {"face_model": args.face_model, "backend_options": BackendOptions.of(provider=args.provider),
               "max_bytes": max_bytes}
    if args.stream_every is not None:
        options["stream_every"] = args.stream_every
    if args.time_limit is not None:
        options["time_limit"] = args.time_limit
    if args.webcam_size is not None:
        options["webcam_size"] = web.parse_webcam_size(args.webcam_size)
    blocks = web.build_app(args.model, **options)
    web.launch(blocks, host=args.host, port=args.port, share=args.share, max_file_size=max_bytes,
               malloc_arenas=args.malloc_arenas)
    return 0
