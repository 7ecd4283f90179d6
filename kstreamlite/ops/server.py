"""The HTTP endpoint of one instance, on ``StreamsConfig.metrics_port``.

``/metrics`` (Prometheus text format), ``/health`` (200 only while RUNNING, so a
load balancer or Kubernetes probe sees rebalances and errors), ``/`` (the status page),
``/status.json`` (what the page draws). The standard library's threading server: a
scrape or a browser never waits on the stream thread, and no web framework is needed.
"""

from __future__ import annotations

import errno
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import TYPE_CHECKING, Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST

from ..errors import ConfigError
from .status import status_snapshot

if TYPE_CHECKING:
    from ..runtime.streams import KafkaStreams

log = logging.getLogger("kstreamlite.ops")


class StatusServer:
    """Serves one KafkaStreams instance until ``stop()``."""

    def __init__(self, app: KafkaStreams, port: int, host: str = "0.0.0.0") -> None:
        self._app = app
        page = resources.files(__package__).joinpath("status_page.html").read_bytes()
        handler = type("Handler", (_Handler,), {"app": app, "page": page})
        try:
            self._server = ThreadingHTTPServer((host, port), handler)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"metrics_port {port} on {host} is in use by another process; choose "
                    "another StreamsConfig.metrics_port (0 picks a free one)"
                ) from exc
            raise ConfigError(f"cannot serve metrics on {host}:{port}: {exc}") from exc
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"kstreamlite-status-{app.config.application_id}",
            daemon=True,
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = str(self._server.server_address[0])
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        return f"http://{host}:{self.port}/"

    def start(self) -> None:
        self._thread.start()
        log.info("status page and metrics on %s (/metrics, /health)", self.url)

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() waits for serve_forever: only if it runs
            self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    app: KafkaStreams
    page: bytes
    server_version = "kstreamlite"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(200, CONTENT_TYPE_LATEST, self.app._metrics.exposition())
        elif path == "/health":
            state = self.app.state.name
            body = orjson.dumps({"state": state, "healthy": state == "RUNNING"})
            self._send(200 if state == "RUNNING" else 503, "application/json", body)
        elif path in ("/", "/status"):
            self._send(200, "text/html; charset=utf-8", self.page)
        elif path == "/status.json":
            self._send(200, "application/json", orjson.dumps(status_snapshot(self.app)))
        else:
            self._send(404, "text/plain; charset=utf-8", b"not found: try /, /health or /metrics\n")

    def _send(self, code: int, content_type: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)
