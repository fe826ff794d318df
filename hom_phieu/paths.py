"""Where hom-phieu keeps what it writes.

``HOM_PHIEU_HOME``, when set, holds everything (keys, ledgers, databases, tickets), so
two instances or a test never share state by accident. Under systemd the unit's
``StateDirectory`` (``$STATE_DIRECTORY``) is used; otherwise the user's data folder.
"""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    explicit = os.environ.get("HOM_PHIEU_HOME")
    if explicit:
        return Path(explicit)
    state = os.environ.get("STATE_DIRECTORY")
    if state:
        return Path(state.split(":")[0])
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "hom-phieu"


def kiosk_dir() -> Path:
    return home() / "kiosk"


def default_ledger_path() -> Path:
    return kiosk_dir() / "ballot-box.sqlite3"


def default_key_path() -> Path:
    return kiosk_dir() / "device-key.pem"
