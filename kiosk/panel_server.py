"""The virtual panel's HTTP server: on 127.0.0.1, in a thread of its own, idle until asked.

Light on purpose, for the idle kiosk: the thread sleeps in ``select()`` on the listening
socket until a connection comes (no half-second poll); only then is the standard library's
WSGI server made on that socket (:mod:`kiosk.panel_http`), and the panel's Flask app
(:mod:`kiosk.panel`) built on the first request, so a kiosk nobody looks at never loads
``wsgiref``, ``http.server``, Flask, Werkzeug or Jinja. Stopping knocks on the socket to wake
the sleeping thread.
"""

from __future__ import annotations

import contextlib
import io
import select
import socket
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
IDLE_POLL_S = 3600.0  # select()'s timeout: a connection or stop()'s knock wakes it, nothing else
KNOCK_EVERY_S = 0.05
BACKLOG = 5  # connections waiting to be accepted (socketserver's own default)
BODY_MAX = 64 * 1024  # a request body the panel reads (its own limit is smaller: a 413)
DISCARD_MAX = 16 * 1024 * 1024  # read and dropped beyond BODY_MAX, so the answer arrives


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
        self._socket = socket.create_server(("127.0.0.1", port), backlog=BACKLOG)
        self.port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self._server: WSGIServer | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._serve, name="panel", daemon=True)

    @property
    def serving(self) -> bool:
        """Whether the HTTP server has been made (a connection came)."""
        return self._server is not None

    def _serve(self) -> None:
        while not self._stopping:  # asleep until the first connection (or the stop's knock)
            if select.select([self._socket], [], [], IDLE_POLL_S)[0]:
                break
        if self._stopping:
            return
        from kiosk.panel_http import wsgi_server

        server = wsgi_server(self._socket, self.app)
        self._server = server
        server.serve_forever(poll_interval=IDLE_POLL_S)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        shutting: threading.Thread | None = None
        while self._thread.is_alive():  # asleep in select(): a connection wakes it
            if shutting is None and self._server is not None:
                shutting = threading.Thread(target=self._server.shutdown, name="panel-stop")
                shutting.start()
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            self._thread.join(KNOCK_EVERY_S)
        if shutting is not None:
            shutting.join()
        self._socket.close()
