"""The alert e-mail's words and its SMTP connection (``web.alert_mail`` decides who gets
what, and when).

A mail is written in its recipient's language (Vietnamese unless the account chose
otherwise): the alert's title, the office and device, what to do, and a link to the alert's
device or box on the server's public address. It carries only ``web.alerts.alert_words``:
never a count by level. Names typed by people (an office, a device's label) reach a header
only on one line (:func:`one_line`). SMTP errors are named in words an administrator can act on
(:func:`explain`).
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from sqlalchemy.orm import Session

from hom_phieu import formatting
from hom_phieu.i18n import LANGUAGES, _, language
from web.alert_mail_settings import SmtpSettings, password
from web.alerts import SEVERITY_LABELS, Severity, alert_words
from web.models import Alert, Device, Office, User

TIMEOUT_S = 10.0
SENDER_NAME = "Hòm phiếu"


def compose(session: Session, settings: SmtpSettings, user: User,
            alerts: Sequence[Alert]) -> EmailMessage:  # fmt: skip
    """One mail to ``user``: one alert, or a digest of several."""
    code = user.language if user.language in LANGUAGES else "vi"
    with language(code):
        if len(alerts) == 1:
            subject, body = _one(session, settings, alerts[0])
        else:
            subject = _("[Alerts] {count} alerts need attention").format(count=len(alerts))
            intro = _("More alerts were raised than your hourly limit of mails: here they "
                      "are together.")  # fmt: skip
            sections = [_section(session, settings, alert) for alert in alerts]
            body = "\n\n".join([intro, *sections])
        body += "\n\n-- \n" + _(
            "An automatic mail from the hom-phieu server. To stop receiving alerts by mail: {link}"
        ).format(link=settings.link("/account/alert-mail"))
    message = EmailMessage()
    message["Subject"] = one_line(subject)
    message["From"] = formataddr((SENDER_NAME, settings.sender))
    message["To"] = user.email or ""
    message["Auto-Submitted"] = "auto-generated"
    domain = settings.sender.rpartition("@")[2] or None
    message["Message-ID"] = make_msgid("alert", domain=domain)
    message.set_content(body)
    return message


def one_line(text: str) -> str:
    """``text`` on one line: a header cannot carry a line break (an office named with one
    would add a header, or make the mail refused and stop the sending of all mails)."""
    return " ".join(text.split())


def trial_message(settings: SmtpSettings, to: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = _("[Alerts] Test e-mail from the hom-phieu server")
    message["From"] = formataddr((SENDER_NAME, settings.sender))
    message["To"] = to
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(_("This test e-mail shows that the server can send alerts by mail."))
    return message


def _one(session: Session, settings: SmtpSettings, alert: Alert) -> tuple[str, str]:
    words = alert_words(alert)
    office = _office(session, alert)
    subject = (_("[Alert] {title} — {office}").format(title=words.title, office=office)
               if office else _("[Alert] {title}").format(title=words.title))  # fmt: skip
    return subject, _section(session, settings, alert)


def _section(session: Session, settings: SmtpSettings, alert: Alert) -> str:
    words = alert_words(alert)
    device = session.get(Device, alert.device_pk) if alert.device_pk is not None else None
    lines = [words.title.upper(), "", words.detail, ""]
    office = _office(session, alert)
    if office:
        lines.append(_("Office: {office}").format(office=office))
    if device is not None:
        name = device.device_id or "—"
        lines.append(_("Device: {device}").format(
            device=f"{name} ({device.label})" if device.label else name))  # fmt: skip
    try:
        severity = _(SEVERITY_LABELS[Severity(alert.severity)])
    except ValueError:
        severity = alert.severity
    lines.append(_("Severity: {severity}").format(severity=severity))
    lines.append(_("Raised at: {time}").format(time=formatting.stored_time(alert.at)))
    if words.action:
        lines += ["", _("What to do: {action}").format(action=words.action)]
    lines += ["", _("See it and resolve it: {link}").format(link=settings.link(words.link))]
    return "\n".join(lines)


def _office(session: Session, alert: Alert) -> str:
    office = session.get(Office, alert.office_id) if alert.office_id is not None else None
    return office.name if office is not None else ""


class Connection:
    """One SMTP connection, opened at the first mail and closed by :meth:`close`."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def send(self, message: EmailMessage) -> None:
        if self._smtp is None:
            self._smtp = _open(self.settings)
        self._smtp.send_message(message)

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None


def _open(settings: SmtpSettings) -> smtplib.SMTP:
    secret = password(settings)  # (ValueError: unreadable; explained)
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.security == "ssl":
        smtp = smtplib.SMTP_SSL(settings.host, settings.port, timeout=TIMEOUT_S, context=context)
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=TIMEOUT_S)
    try:
        if settings.security == "starttls":
            smtp.starttls(context=context)
        if settings.user:
            smtp.login(settings.user, secret or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def permanent(error: BaseException) -> bool:
    """The address is refused: retrying will not help (every other error is retried)."""
    return isinstance(error, smtplib.SMTPRecipientsRefused)


def explain(error: BaseException, settings: SmtpSettings) -> str:
    """An SMTP failure in words an administrator can act on (the current language)."""
    where = {"host": settings.host, "port": settings.port}
    if isinstance(error, ConnectionRefusedError):
        return _("The SMTP server {host}:{port} refused the connection: check the host and "
                 "the port, and that the server is running.").format(**where)  # fmt: skip
    if isinstance(error, socket.gaierror):
        return _("The SMTP server's name {host} is not known: check the host.").format(**where)
    if isinstance(error, TimeoutError | socket.timeout):
        return _("The SMTP server {host}:{port} did not answer in time.").format(**where)
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return _("The SMTP server refused the user name or the password.")
    if isinstance(error, smtplib.SMTPNotSupportedError) and settings.security == "starttls":
        return _("The SMTP server does not offer STARTTLS: choose SSL or no encryption.")
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return _("The SMTP server does not accept a login on this connection: leave the user "
                 "empty, or choose STARTTLS or SSL.")  # fmt: skip
    if isinstance(error, ssl.SSLError):
        return _("The secure connection to the SMTP server failed ({error}): check the "
                 "encryption chosen and the port.").format(error=error.reason or error)  # fmt: skip
    if isinstance(error, smtplib.SMTPSenderRefused):
        return _("The SMTP server refused the sender address {sender}.").format(
            sender=settings.sender)  # fmt: skip
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return _("The SMTP server refused the address {address}.").format(
            address=", ".join(error.recipients))  # fmt: skip
    if isinstance(error, ValueError):
        return _("The stored SMTP password cannot be read (the server's secret key changed): "
                 "type it again.")  # fmt: skip
    return _("The SMTP server failed: {error}").format(error=error)


__all__ = ["Connection", "compose", "explain", "one_line", "permanent", "trial_message"]
