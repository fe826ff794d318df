"""One signed HTTP exchange with the admin server, and how it can fail.

:func:`call` sends a protocol document (:mod:`hom_phieu.protocol.models`) signed with the
device key (:mod:`hom_phieu.protocol.signing`) and hands back the answer's JSON object
exactly as received: the caller reads it with the model it expects, after checking the
server's signature over those very bytes where there is one. Errors come back as
:class:`NetworkError` (try again later) or :class:`ServerRefused` (the server's reason, an
:class:`~hom_phieu.protocol.models.ErrorAnswer`).
"""

from __future__ import annotations

import errno
import json
import socket
import ssl
import urllib.error
import urllib.request
from typing import Any, Protocol

from hom_phieu.i18n import N_, _, current_language
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.protocol.fields import ProtocolError
from hom_phieu.protocol.models import ErrorAnswer, ErrorCode, JsonObject
from hom_phieu.protocol.signing import signed_headers

ERROR_BYTES = 64 * 1024  # of an error answer's body: enough for any reason

# The server's error codes (docs/sync-protocol.md) as a technician reads them.
ERROR_LABELS = {
    ErrorCode.MALFORMED: N_("malformed request"),
    ErrorCode.BAD_CODE: N_("wrong enrollment code"),
    ErrorCode.UNAUTHENTICATED: N_("request not signed"),
    ErrorCode.UNKNOWN_DEVICE: N_("device not known to the server"),
    ErrorCode.BAD_SIGNATURE: N_("wrong signature"),
    ErrorCode.REVOKED: N_("device revoked"),
    ErrorCode.NOT_ACTIVE: N_("device not active"),
    ErrorCode.NOT_FOUND: N_("address not found"),
    ErrorCode.METHOD_NOT_ALLOWED: N_("method not allowed"),
    ErrorCode.GAP: N_("records missing on the server"),
    ErrorCode.EQUIVOCATION: N_("two different records with one number"),
    ErrorCode.KEY_IN_USE: N_("this device's key is already enrolled"),
    ErrorCode.CODE_USED: N_("enrollment code already used"),
    ErrorCode.CODE_EXPIRED: N_("enrollment code expired"),
    ErrorCode.DEVICE_NOT_PENDING: N_("device not waiting for enrollment"),
    ErrorCode.TOO_LARGE: N_("request too large"),
    ErrorCode.TOO_MANY_RECORDS: N_("too many records at once"),
    ErrorCode.RECORD_REFUSED: N_("record refused"),
    ErrorCode.THROTTLED: N_("too many requests: wait"),
    ErrorCode.BUSY: N_("server busy"),
    ErrorCode.UNAVAILABLE: N_("server unavailable"),
}
# Why a connection failed, by errno (the rest are named by their kind below).
NETWORK_ERRORS = {
    errno.ECONNREFUSED: N_(
        "connection refused: the server is not running there, or the port is wrong"
    ),
    errno.ECONNRESET: N_("the connection was cut"),
    errno.ENETUNREACH: N_("no network"),
    errno.EHOSTUNREACH: N_("no route to the server"),
    errno.ETIMEDOUT: N_("no answer in time"),
}


class Document(Protocol):
    """Any protocol model: what a request carries."""

    def to_json(self) -> JsonObject: ...


class SyncError(Exception):
    """A sync step failed; ``message`` says why in words for staff."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NetworkError(SyncError):
    """The server could not be reached or answered nonsense: try again later."""


class ServerRefused(SyncError):
    """The server answered with an error (4xx/5xx) and its reason."""

    def __init__(self, status: int, answer: ErrorAnswer) -> None:
        self.status = status
        self.answer = answer
        self.error = answer.error or str(status)
        super().__init__(answer.message or self.error)


def call(
    server_url: str,
    method: str,
    path: str,
    *,
    key: DeviceKey,
    payload: Document | None = None,
    timeout_s: float = 20.0,
) -> JsonObject:
    """One signed request to ``server_url`` + ``path``; the JSON object of a 2xx answer.

    Raises :class:`NetworkError` (unreachable, timeout, not JSON) or
    :class:`ServerRefused` (an error status, with the server's code and reason).
    """
    body = b"" if payload is None else json.dumps(payload.to_json(), ensure_ascii=False).encode()
    headers = {
        **signed_headers(key, method, path, body),
        "Accept-Language": current_language(),
        "Content-Type": "application/json",
    }
    request = urllib.request.Request(
        server_url.rstrip("/") + path,
        data=body if payload is not None else None,
        headers=headers,
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        raise ServerRefused(exc.code, _error_answer(exc)) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = network_reason(getattr(exc, "reason", None) or exc)
        raise NetworkError(
            _("cannot reach the server {url}: {reason}").format(url=server_url, reason=reason)
        ) from None
    answer = _json(raw)
    if not isinstance(answer, dict):
        raise NetworkError(
            _("the server {url} did not answer with JSON: is it a hom-phieu server?").format(
                url=server_url
            )
        )
    return answer


def error_label(code: str) -> str:
    """A server error code in words (``wrong enrollment code``); an unknown code, such as
    a proxy's status, as ``error 502``."""
    text = ERROR_LABELS.get(code)  # type: ignore[call-overload]  # (StrEnum keys: plain text)
    return _(text) if text else _("error {code}").format(code=code)


def network_reason(reason: object) -> str:
    """Why the server could not be reached, in words (never ``[Errno 111] …``)."""
    if isinstance(reason, ssl.SSLCertVerificationError):
        return _("the server's TLS certificate cannot be verified")
    if isinstance(reason, ssl.SSLError):
        return _("the TLS connection failed")
    if isinstance(reason, socket.gaierror):
        return _("the server's name is not known (DNS)")
    if isinstance(reason, TimeoutError | socket.timeout):
        return _("no answer in time")
    code = getattr(reason, "errno", None)
    if code in NETWORK_ERRORS:
        return _(NETWORK_ERRORS[code])
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror  # the system's own words: rare, kept rather than lost
    return str(reason)


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


def _error_answer(exc: urllib.error.HTTPError) -> ErrorAnswer:
    """The server's reason; a proxy's page (or anything not an error answer) is told by
    its status, keeping an ``error`` code when there is a readable one."""
    try:
        answer = _json(exc.read(ERROR_BYTES))
    except OSError:
        answer = None
    if isinstance(answer, dict) and "error" in answer:
        try:
            return ErrorAnswer.from_json(answer)
        except ProtocolError:
            error = answer.get("error")
            message = answer.get("message")
            return ErrorAnswer(
                error if isinstance(error, str) and error else str(exc.code),
                message if isinstance(message, str) else "",
            )
    return ErrorAnswer(str(exc.code), f"HTTP {exc.code} {exc.reason}")
