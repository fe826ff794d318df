"""The virtual panel's WSGI server, made on the panel's listening socket when the first
connection comes (:class:`kiosk.panel_server.PanelServer`): the standard library's
``wsgiref`` (with ``http.server``, ``http.client``, ``email``, ``ssl``) is loaded only then."""

from __future__ import annotations

import socket
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a request still held open never keeps the kiosk from stopping
    block_on_close = False


class _QuietHandler(WSGIRequestHandler):
    timeout = 30  # seconds a silent client may hold a request thread

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged (the kiosk's output is for staff)."""


def wsgi_server(listening: socket.socket, app: Any) -> WSGIServer:
    """A threading WSGI server serving ``app`` on ``listening`` (already bound and listening),
    named 127.0.0.1 (no reverse DNS look-up of the address)."""
    address = listening.getsockname()
    server = _Server(address, _QuietHandler, bind_and_activate=False)
    server.socket.close()  # the one it made, never bound: the panel's socket instead
    server.socket, server.server_address = listening, address
    server.server_name, server.server_port = "127.0.0.1", address[1]
    server.setup_environ()
    server.set_app(app)
    return server
