"""The virtual panel's HTTP server: on 127.0.0.1, in a thread of its own, idle until asked.

Light on purpose, for the idle kiosk: the standard library's WSGI server, which sleeps in
``select()`` until a connection comes (no half-second poll), and the panel's Flask app
(:mod:`kiosk.panel`) built on the first request, so a kiosk nobody looks at never loads
Flask, Werkzeug and Jinja. Stopping knocks on the socket to wake the sleeping server.
"""

from __future__ import annotations

import contextlib
import io
import socket
import threading
from collections.abc import Callable, Iterable
from socketserver import TCPServer, ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
IDLE_POLL_S = 3600.0  # serve_forever's select() timeout: stop() knocks, nothing else wakes it
KNOCK_EVERY_S = 0.05
BODY_MAX = 64 * 1024  # a request body the panel reads (its own limit is smaller: a 413)
DISCARD_MAX = 16 * 1024 * 1024  # read and dropped beyond BODY_MAX, so the answer arrives


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a request still held open never keeps the kiosk from stopping
    block_on_close = False

    def server_bind(self) -> None:
        """Bound as asked, named 127.0.0.1 (no reverse DNS look-up of the address)."""
        TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]
        self.setup_environ()


class _QuietHandler(WSGIRequestHandler):
    timeout = 30  # seconds a silent client may hold a request thread

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged (the kiosk's output is for staff)."""


class LazyApp:
    """A WSGI app made by ``build`` when the first request comes (once, under a lock)."""

    def __init__(self, build: Callable[[], WsgiApp]) -> None:
        self._build = build
        self._app: WsgiApp | None = None
        self._lock = threading.Lock()

    @property
    def built(self) -> bool:
        return self._app is not None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]):
        _read_body(environ)
        if self._app is None:
            with self._lock:
                if self._app is None:
                    self._app = self._build()
        return self._app(environ, start_response)


def _read_body(environ: dict[str, Any]) -> None:
    """The whole body read before the app answers: a body left unread makes the closing
    socket reset the connection, and the client loses the answer (a 413, a 415). Beyond
    :data:`BODY_MAX` it is dropped (the app refuses such a body without reading it)."""
    try:
        length = max(0, int(environ.get("CONTENT_LENGTH") or 0))
    except ValueError:
        length = 0
    stream = environ["wsgi.input"]
    body = stream.read(min(length, BODY_MAX)) if length else b""
    left = min(length, DISCARD_MAX) - len(body)
    with contextlib.suppress(OSError):
        while left > 0 and (chunk := stream.read(min(left, 65536))):
            left -= len(chunk)
    environ["wsgi.input"] = io.BytesIO(body)


class PanelServer:
    """The panel's HTTP server on 127.0.0.1; ``app`` is built on the first request.

    A port in use is an ``OSError`` from the constructor, for the caller to report."""

    def __init__(self, app: Callable[[], WsgiApp], port: int = 0) -> None:
        self.app = LazyApp(app)
        self._server = _Server(("127.0.0.1", port), _QuietHandler)
        self._server.set_app(self.app)
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}/"
        self._thread = threading.Thread(target=self._serve, name="panel", daemon=True)

    def _serve(self) -> None:
        self._server.serve_forever(poll_interval=IDLE_POLL_S)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            stopping = threading.Thread(target=self._server.shutdown, name="panel-stop")
            stopping.start()
            while stopping.is_alive():  # the server sleeps in select(): a connection wakes it
                with contextlib.suppress(OSError):
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                stopping.join(KNOCK_EVERY_S)
        self._server.server_close()
