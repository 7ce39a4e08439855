"""The image's health check: which ports it asks, and its answer."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from dialogkit import healthcheck


class Healthy(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[int]:
    httpd = HTTPServer(("127.0.0.1", 0), Healthy)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()


def test_it_asks_the_ports_the_settings_name_else_the_defaults() -> None:
    env = {"CONSENT_HTTP_PORT": "9001", "CONSENT_WORKER_WEB_PORT": "9002", "OTHER_PORT": "1"}
    assert sorted(healthcheck.ports(env)) == [9001, 9002]
    assert healthcheck.ports({}) == list(healthcheck.DEFAULT_PORTS)


def test_healthy_when_the_process_answers(server: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENT_HTTP_PORT", str(server))
    assert healthcheck.main() == 0


def test_unhealthy_when_nothing_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    from devstack.processes import free_port

    monkeypatch.setenv("CONSENT_HTTP_PORT", str(free_port()))
    assert healthcheck.main() == 1
