"""The app's server start survives Gradio's start-up probe timing out once, and says so in one line when it never answers."""
from __future__ import annotations

import httpx
import pytest

from deepfake_edge.runtime.errors import DeepfakeEdgeError


def _page():
    import gradio as gr

    with gr.Blocks() as blocks:
        gr.Markdown("hello")
    return blocks


def _options(port: int) -> dict:
    return dict(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, ssr_mode=False,
                enable_monitoring=False, inbrowser=False)


def _probe_answers(monkeypatch, answers: list[bool]) -> list[str]:
    import gradio.networking

    asked: list[str] = []

    def url_ok(url):
        asked.append(url)
        return answers.pop(0) if answers else True
    monkeypatch.setattr(gradio.networking, "url_ok", url_ok)
    return asked


def test_a_probe_that_times_out_once_gets_a_second_start(monkeypatch):
    from deepfake_edge.app import web
    from tests.test_web import free_port

    asked = _probe_answers(monkeypatch, [False])
    blocks, port = _page(), free_port()
    try:
        web._start_server(blocks, _options(port))
        assert len(asked) == 2  # first probe "timed out", the second start's probe answered
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=30).status_code == 200
    finally:
        blocks.close()


def test_a_page_that_never_answers_is_one_line_and_leaves_no_server(monkeypatch):
    from deepfake_edge.app import web
    from tests.test_web import free_port

    _probe_answers(monkeypatch, [False, False])
    blocks, port = _page(), free_port()
    with pytest.raises(DeepfakeEdgeError) as refused:
        web._start_server(blocks, _options(port))
    message = str(refused.value)
    assert "\n" not in message and f"127.0.0.1:{port}" in message and "did not answer within 3 s, 2 times" in message
    assert "NO_PROXY" in message
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
