"""The app's "In your browser" tab: the run's web bundle served by the app's own server.

`export --formats web` writes `model_web/` beside the model; when the served model's run
folder has one, `launch()` mounts it at /web/ on the same local server (127.0.0.1 by
default) with the cross-origin isolation headers the bundle's own `serve.py` sends, so
ONNX Runtime Web gets its WASM threads. The page opens in its own browser tab: an isolated
page cannot live inside the Gradio page's iframe. Every frame then stays in the viewer's
browser and the server only serves static files.
"""
from __future__ import annotations

import mimetypes
from pathlib import Path

from deepfake_edge.runtime.formats import artifact_path

MOUNT = "/web"


def bundle_for(model_path: str | Path | None) -> Path | None:
    """The web bundle of the run folder holding `model_path`, if it was exported."""
    if model_path is None:
        return None
    path = Path(model_path)
    run = path if path.is_dir() and not path.name.endswith("_web") else path.parent
    bundle = path if path.name.endswith("_web") else artifact_path(run, "web")
    return bundle if (bundle / "index.html").is_file() else None


def tab_markdown(bundle: Path | None, run_hint: str) -> str:
    if bundle is None:
        return ("The whole detector can run in the viewer's browser, with the server idle: export the run's "
                f"web bundle (`deepfake-edge export {run_hint} --formats web`, needs node and npm once) and "
                "restart the app; this tab then opens it.")
    return (f"**[Open the in-browser detector]({MOUNT}/index.html)** (a new tab). The camera, MediaPipe's face "
            "detector and the model run in your browser (ONNX Runtime Web): no frame leaves this device. "
            "Browsers allow the camera only on `localhost` or `https://` pages, so open the app as "
            "`http://127.0.0.1:PORT` (as it starts) or behind https.")


def isolated_static(folder: Path):
    """An ASGI app serving `folder` with the bundle's cross-origin isolation headers."""
    from starlette.staticfiles import StaticFiles

    from deepfake_edge.runtime.backends.browser import load_bundle_server

    headers = [(k.lower().encode(), v.encode()) for k, v in load_bundle_server(folder).HEADERS.items()]
    mimetypes.add_type("text/javascript", ".mjs")  # module scripts need a JavaScript type
    mimetypes.add_type("application/wasm", ".wasm")  # streaming WebAssembly compilation needs this one
    static = StaticFiles(directory=str(folder))

    async def app(scope, receive, send):
        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *headers]}
            await send(message)

        await static(scope, receive, send_with_headers)

    return app


def mount_bundle(server_app, bundle: Path) -> None:
    """Serve `bundle` at /web/ on the running app's server (ahead of Gradio's own routes)."""
    from starlette.routing import Mount

    server_app.router.routes.insert(0, Mount(MOUNT, app=isolated_static(bundle), name="web-bundle"))
