"""Start a simulated kiosk as a real process and talk to its virtual panel."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

COMMAND = str(Path(sys.executable).with_name("hom-phieu"))
# The simulated date a kiosk process starts on unless a test gives its own ``--clock``:
# never the machine's date, so the suite passes on any calendar day.
SIMULATED_START = "2026-11-18T08:00:00+07:00"


class KioskProcess:
    def __init__(
        self,
        home: Path,
        *args: str,
        command: tuple[str, ...] = ("kiosk", "run"),
        env: dict[str, str] | None = None,
        lang: str = "en",
    ) -> None:
        env = {**os.environ, "HOM_PHIEU_HOME": str(home), "PYTHONUNBUFFERED": "1", **(env or {})}
        extra = ("--simulate",) if command == ("kiosk", "run") else ("--port", "0")
        if "--clock" not in args:
            extra += ("--clock", SIMULATED_START)
        self.process = subprocess.Popen(
            [COMMAND, "--lang", lang, *command, *extra, "--panel-port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self.url = self._wait_for_url()
        # Keep reading its output (the panel logs every request): a full pipe must never
        # stall the kiosk.
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def _wait_for_url(self, timeout_s: float = 30) -> str:
        deadline = time.monotonic() + timeout_s
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                raise AssertionError("the kiosk exited:\n" + "".join(self.lines))
            self.lines.append(line)
            found = re.search(r"(?:panel|điều khiển).*?(http://127\.0\.0\.1:\d+/)", line)
            if found:
                return found.group(1)
        raise AssertionError("no panel URL:\n" + "".join(self.lines))

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(self.url + path.lstrip("/"), timeout=10) as response:
            return json.loads(response.read())

    def get_bytes(self, path: str) -> bytes:
        with urllib.request.urlopen(self.url + path.lstrip("/"), timeout=10) as response:
            return response.read()

    def post(self, path: str, body: dict) -> dict:
        request = urllib.request.Request(
            self.url + path.lstrip("/"),
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            return {"status": error.code, **json.loads(error.read())}

    def press(self, button: str, hold_ms: int = 60) -> dict:
        return self.post("/api/press", {"button": button, "hold_ms": hold_ms})

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        self._reader.join(timeout=5)
        return code
