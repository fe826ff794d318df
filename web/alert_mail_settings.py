"""The alert e-mail's SMTP settings, one set per server (``settings`` table, key
``alert_mail``), changed by an administrator on ``/manage/alert-mail``.

The password is never stored in clear and never shown back: it is either given in the
server's environment (``HOM_PHIEU_SMTP_PASSWORD``, e.g. ``/etc/hom-phieu/web.env``, which
wins), or typed on the page and kept in the database encrypted (Fernet) with a key derived
from the server's secret key (``HOM_PHIEU_SECRET_KEY`` or the instance folder's
``secret-key``, never in the database): a copy of the database alone does not reveal it.
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import asdict, dataclass, replace
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy.orm import Session
from wtforms import Field, ValidationError

from hom_phieu.i18n import _
from web.models import Setting

SETTING_KEY = "alert_mail"
PASSWORD_ENV = "HOM_PHIEU_SMTP_PASSWORD"
SECURITY = ("starttls", "ssl", "none")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
PER_HOUR = (1, 60)  # the limit an administrator may set: mails per recipient per hour


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str = ""
    port: int = 587
    security: str = "starttls"  # starttls | ssl | none
    user: str = ""
    sender: str = ""
    base_url: str = ""  # the server's public address, for the links in the mails
    per_hour: int = 6  # mails per recipient per hour; the excess is folded into a digest
    enabled: bool = True
    password_sealed: str = ""  # Fernet token (see the module's words); "" none stored

    @property
    def configured(self) -> bool:
        return self.enabled and bool(self.host and self.sender)

    def link(self, path: str | None) -> str:
        base = self.base_url.rstrip("/")
        return f"{base}{path or '/alerts'}" if base else (path or "/alerts")


def load(session: Session) -> SmtpSettings:
    """The settings stored (defaults for anything missing or malformed)."""
    setting = session.get(Setting, SETTING_KEY)
    stored = setting.value if setting is not None and isinstance(setting.value, dict) else {}
    chosen: dict[str, Any] = {}
    for name, default in asdict(SmtpSettings()).items():
        value = stored.get(name)
        if type(value) is type(default):
            chosen[name] = value
    settings = SmtpSettings(**chosen)
    if settings.security not in SECURITY or not 1 <= settings.port <= 65535:
        settings = replace(settings, security="starttls", port=587)
    if not PER_HOUR[0] <= settings.per_hour <= PER_HOUR[1]:
        settings = replace(settings, per_hour=SmtpSettings.per_hour)
    return settings


def save(session: Session, settings: SmtpSettings) -> None:
    """Store them (in the caller's transaction; the caller audits it, never the password)."""
    if settings.security not in SECURITY:
        raise ValueError(f"security: {settings.security!r}")
    setting = session.get(Setting, SETTING_KEY) or Setting(key=SETTING_KEY)
    setting.value = asdict(settings)
    session.add(setting)


def with_password(settings: SmtpSettings, password: str | None) -> SmtpSettings:
    """``password`` sealed into the settings (None or "": no password stored)."""
    return replace(settings, password_sealed=_fernet().encrypt(password.encode()).decode()
                   if password else "")  # fmt: skip


def password(settings: SmtpSettings) -> str | None:
    """The password to log in with: the environment's, else the stored one; None if there
    is none. Raises ValueError if the stored one cannot be read (the secret key changed)."""
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    if not settings.password_sealed:
        return None
    try:
        return _fernet().decrypt(settings.password_sealed.encode()).decode()
    except (InvalidToken, ValueError) as error:
        raise ValueError("the stored SMTP password cannot be read") from error


def password_source(settings: SmtpSettings) -> str:
    """Where the password comes from: "env", "stored" or "" (none)."""
    if os.environ.get(PASSWORD_ENV):
        return "env"
    return "stored" if settings.password_sealed else ""


def email_address(_form: object, field: Field) -> None:
    """A form validator: an e-mail address (or nothing), the message in the request's
    language."""
    if field.data and (len(field.data) > 254 or not EMAIL.fullmatch(field.data)):
        raise ValidationError(_("enter an e-mail address such as ten@example.vn"))


def _fernet() -> Fernet:
    secret = str(current_app.config["SECRET_KEY"]).encode()
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"hom-phieu alert mail smtp password").derive(secret)  # fmt: skip
    return Fernet(base64.urlsafe_b64encode(key))
