"""The server's public address, as configured: never taken from a request.

What a kiosk is told to enroll with (the QR codes of ``web.enroll_batch``' sheet) must not
come from the request's ``Host`` header: whoever can make a page be served under another
host name (a reverse proxy passing any host through, a tunnel, a look-alike name) would
make the sheet send every kiosk, and its votes, to their own server. The address is the
Flask setting ``SERVER_URL`` (tests), else ``HOM_PHIEU_SERVER_URL`` in the server's
environment (``/etc/hom-phieu/web.env``), else the public address an administrator typed
on the e-mail settings page (``web.alert_mail_settings``: the links in the mails).
"""

from __future__ import annotations

import os
import re

from flask import current_app
from sqlalchemy.orm import Session

from web import alert_mail_settings

ENV = "HOM_PHIEU_SERVER_URL"
ADDRESS = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]+(/[A-Za-z0-9._~\-/]*)?")


def configured(session: Session) -> str | None:
    """The server's public address without its final ``/``; None when none is set (or the
    one set is no plain ``http(s)://host[:port][/path]``)."""
    given = (
        current_app.config.get("SERVER_URL")
        or os.environ.get(ENV)
        or alert_mail_settings.load(session).base_url
    )
    address = str(given or "").strip().rstrip("/")
    return address if ADDRESS.fullmatch(address) else None


__all__ = ["ENV", "configured"]
