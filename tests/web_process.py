"""The admin server as a real process (waitress on 127.0.0.1), for browser and crash tests."""

from __future__ import annotations

import http.cookiejar
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tests.web_helpers import csrf_token

COMMAND = str(Path(sys.executable).with_name("hom-phieu"))
SERVER_START = "2026-11-20T09:00:00+07:00"  # a working Friday mid-month


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class WebProcess:
    def __init__(
        self, home: Path, env: dict[str, str] | None = None, clock: str = SERVER_START
    ) -> None:
        """``clock``: the server's rehearsal clock (``web serve --clock``), ISO-8601: never
        the machine's date, so the suite passes on any calendar day."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.env = {**os.environ, "HOM_PHIEU_HOME": str(home), "PYTHONUNBUFFERED": "1",
                    **(env or {})}  # fmt: skip
        self.process = subprocess.Popen(
            [COMMAND, "--lang", "en", "web", "serve", "--port", str(self.port), "--clock", clock],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env,
        )
        self._wait_ready()

    def _wait_ready(self, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError("the server exited: " + (self.process.stdout.read() or ""))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("the server did not start")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()


class Browser:
    """A person at the admin pages of the real server: cookies kept, redirects not followed."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), self._NoRedirect()
        )

    def get(self, path: str) -> tuple[int, bytes]:
        return self._open(path, None)

    def post(self, path: str, form_page: str, **data: str) -> tuple[int, str]:
        """POST ``data`` with the CSRF token of the page at ``form_page``."""
        status, page = self.get(form_page)
        assert status == 200, (status, page[:500])
        body = {**data, "csrf_token": csrf_token(page.decode())}
        status, answer = self._open(path, urllib.parse.urlencode(body).encode())
        return status, answer.decode()

    def _open(self, path: str, body: bytes | None) -> tuple[int, bytes]:
        try:
            with self.opener.open(self.url + path, data=body, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
