"""Alerts sent by e-mail to a real local SMTP server (aiosmtpd on 127.0.0.1): the right
recipients only (role, unit, address, their own choice), Vietnamese words with a link and
no count by level, one mail per alert (raised again: none; re-opened: a new one), at most
N an hour each with the rest in a digest, an SMTP server down retried later with nothing
lost; the settings page hides the password and names SMTP errors."""

from __future__ import annotations

import email
import socket
from email import policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from hom_phieu.i18n import language
from hom_phieu.ledger.records import LEVEL_LABELS
from tests.web_helpers import create_account, csrf_token, login
from web import alert_mail, alert_mail_settings, db
from web.alert_mail_settings import SmtpSettings
from web.alerts import AlertKind, alert_words, raise_alert, resolve
from web.models import AuditEntry, Device, Setting, User
from web.models_alert_mail import PENDING, SENT, AlertMail

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class Inbox:
    def __init__(self) -> None:
        self.mails: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        self.mails.append((sorted(envelope.rcpt_tos), message))
        return "250 OK"

    def to(self) -> list[str]:
        return sorted(address for tos, _m in self.mails for address in tos)


@pytest.fixture(scope="module")
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def inbox(smtp) -> Inbox:
    smtp[1].mails.clear()
    return smtp[1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _configure(app, port: int, per_hour: int = 6) -> None:
    with app.app_context():
        settings = SmtpSettings(host="127.0.0.1", port=port, security="none",
                                sender="canh-bao@hp.example.vn",
                                base_url="https://hp.example.vn", per_hour=per_hour)  # fmt: skip
        alert_mail_settings.save(db.session(), settings)
        db.session().commit()


def _people(app, ids) -> None:
    """Addresses for the seeded accounts, and a few more who must not get device alerts."""
    with app.app_context():
        session = db.session()
        create_account("kt-hac", "Kỹ thuật Hạc Thành", "technician", ids["hac"]["unit"])
        create_account("uy-ban-dong", "Ủy ban Đông Thanh", "committee", ids["dong"]["unit"])
        for user in session.scalars(select(User)):
            user.email = f"{user.username}@hp.example.vn"
        session.scalar(select(User).where(User.username == "kt-tinh")).alert_mail = False
        session.commit()


def _device(session, office_id: int, name: str) -> Device:
    device = Device(office_id=office_id, device_id=name, status="active", kind="kiosk")
    session.add(device)
    session.flush()
    return device


def _offline(session, device, now):
    return raise_alert(session, AlertKind.DEVICE_OFFLINE, None, device,
                       {"device": device.device_id, "since": "20/11/2026 08:00"}, now)  # fmt: skip


def test_an_alert_is_mailed_once_to_those_who_act_in_vietnamese(site, smtp, inbox, server_clock):
    app, _client, ids = site
    _people(app, ids)
    _configure(app, smtp[0].port)
    with app.app_context():
        from web import clock

        session = db.session()
        device = _device(session, ids["dong"]["office"], "hp-dong-1")
        alert = _offline(session, device, clock.now())
        session.commit()
        done = alert_mail.run(session, clock.now())
        assert (done.mails, done.error) == (2, None)
        # admin (whole tree) and the technician of Đông Thanh; not the province's technician
        # (opted out), Hạc Thành's, the committee (not a device alert) or the viewer.
        assert inbox.to() == ["admin@hp.example.vn", "kt-dong@hp.example.vn"]
        mail = inbox.mails[0][1]
        with language("vi"):
            title = alert_words(alert).title
        assert mail["Subject"] == f"[Cảnh báo] {title} — Bộ phận một cửa Xã Đông Thanh"
        body = mail.get_content()
        assert f"https://hp.example.vn/devices/{device.id}" in body
        assert "hp-dong-1" in body and "Việc cần làm" in body
        assert not any(label in body for label in LEVEL_LABELS.values())
        assert mail["Auto-Submitted"] == "auto-generated"

        server_clock.advance(5 * 60_000)  # raised again: the same alert, no new mail
        _offline(session, device, clock.now())
        session.commit()
        assert alert_mail.run(session, clock.now()).mails == 0
        resolve(session, alert, None, clock.now())  # back, then gone again: a new alert
        server_clock.advance(5 * 60_000)
        _offline(session, device, clock.now())
        session.commit()
        assert alert_mail.run(session, clock.now()).mails == 2
        assert len(inbox.mails) == 4


def test_at_most_n_mails_an_hour_the_rest_in_a_digest(site, smtp, inbox, server_clock):
    app, _client, ids = site
    _configure(app, smtp[0].port, per_hour=2)
    with app.app_context():
        from web import clock

        session = db.session()
        session.scalar(select(User).where(User.username == "kt-dong")).email = "kt@hp.example.vn"
        devices = [_device(session, ids["dong"]["office"], f"hp-d{n}") for n in range(6)]
        _offline(session, devices[0], clock.now())
        session.commit()
        assert alert_mail.run(session, clock.now()).mails == 1
        for device in devices[1:5]:
            _offline(session, device, clock.now())
        session.commit()
        server_clock.advance(60_000)
        done = alert_mail.run(session, clock.now())
        assert (done.mails, done.alerts) == (1, 4)  # the hour's last mail: one digest of four
        digest = inbox.mails[-1][1]
        assert digest["Subject"] == "[Cảnh báo] 4 cảnh báo cần xử lý"
        assert all(f"hp-d{n}" in digest.get_content() for n in range(1, 5))
        _offline(session, devices[5], clock.now())
        session.commit()
        server_clock.advance(60_000)
        done = alert_mail.run(session, clock.now())
        assert (done.mails, done.waiting) == (0, 1)  # the hour is used up: it waits
        server_clock.advance(59 * 60_000)
        assert alert_mail.run(session, clock.now()).mails == 1  # the hour is over: it goes
        statuses = session.scalars(select(AlertMail.status)).all()
        assert statuses == [SENT] * 6 and len(inbox.mails) == 3


def test_an_smtp_server_down_is_retried_later_and_nothing_is_lost(site, smtp, inbox, server_clock):
    app, _client, ids = site
    _configure(app, _free_port())  # nothing listens there: connection refused
    with app.app_context():
        from web import clock

        session = db.session()
        session.scalar(select(User).where(User.username == "admin")).email = "admin@hp.example.vn"
        device = _device(session, ids["dong"]["office"], "hp-down")
        _offline(session, device, clock.now())  # raising never waits for the mail server
        session.commit()
        done = alert_mail.run(session, clock.now())
        assert done.mails == 0 and "refused the connection" in done.error
        row = session.scalar(select(AlertMail))
        assert (row.status, row.attempts) == (PENDING, 1) and "refused" in row.error
        assert alert_mail.run(session, clock.now()).error is None  # backing off: not tried
        server_clock.advance(2 * 60_000)
        assert "refused" in alert_mail.run(session, clock.now()).error  # tried again
        assert session.scalar(select(AlertMail)).attempts == 2
        _configure(app, smtp[0].port)  # the server is back
        server_clock.advance(2 * 60_000)
        assert alert_mail.run(session, clock.now()).mails == 1
        assert session.scalar(select(AlertMail)).status == SENT
        assert inbox.to() == ["admin@hp.example.vn"]


def test_the_settings_page_hides_the_password_and_names_smtp_errors(site, smtp, inbox):
    app, client, _ids = site
    login(client, "kt-dong")
    assert client.get("/manage/alert-mail").status_code == 403
    login(client, "admin")
    page = client.get("/manage/alert-mail")
    assert page.status_code == 200
    form = {"csrf_token": csrf_token(page.text), "enabled": "y", "host": "127.0.0.1",
            "port": str(smtp[0].port), "security": "none", "user": "",
            "password": "bí-mật-smtp-9", "sender": "canh-bao@hp.example.vn",
            "base_url": "https://hp.example.vn", "per_hour": "5"}  # fmt: skip
    assert client.post("/manage/alert-mail", data={**form, "port": "abc"}).status_code == 400
    assert client.post("/manage/alert-mail", data={**form, "csrf_token": ""}).status_code == 400
    assert client.post("/manage/alert-mail", data=form).status_code == 302
    page = client.get("/manage/alert-mail")
    assert "bí-mật-smtp-9" not in page.text and "đã lưu một mật khẩu" in page.text
    with app.app_context():
        stored = db.session().get(Setting, "alert_mail").value
        assert "bí-mật-smtp-9" not in str(stored)
        assert alert_mail_settings.password(alert_mail_settings.load(db.session())) == (
            "bí-mật-smtp-9"
        )
        audits = db.session().scalars(select(AuditEntry.detail)).all()
        assert not any("bí-mật" in str(detail) for detail in audits)
    token = csrf_token(page.text)
    sent = client.post("/manage/alert-mail/test", data={"csrf_token": token,
                                                        "to": "toi@hp.example.vn"})  # fmt: skip
    assert sent.status_code == 302 and inbox.to() == ["toi@hp.example.vn"]
    # A login the server does not offer, then a server that is not there: named, never a 500.
    client.post("/manage/alert-mail", data={**form, "user": "hp", "password": ""})
    failed = client.post("/manage/alert-mail/test", data={"csrf_token": token, "to": "a@b.vn"})
    assert failed.status_code == 400 and "không cho đăng nhập" in failed.text
    client.post("/manage/alert-mail", data={**form, "port": str(_free_port())})
    failed = client.post("/manage/alert-mail/test", data={"csrf_token": token, "to": "a@b.vn"})
    assert failed.status_code == 400 and "từ chối kết nối" in failed.text


def test_addresses_are_set_by_an_administrator_and_users_may_opt_out(site):
    app, client, _ids = site
    with app.app_context():
        kt = db.session().scalar(select(User).where(User.username == "kt-dong"))
        kt_id = kt.id
    login(client, "admin")
    page = client.get(f"/manage/users/{kt_id}/alert-mail")
    token = csrf_token(page.text)
    address = f"/manage/users/{kt_id}/alert-mail"
    form = {"csrf_token": token, "email": "not an address", "alert_mail": "y"}
    bad = client.post(address, data=form)
    assert bad.status_code == 400 and "nhập một địa chỉ thư điện tử" in bad.text
    ok = client.post(address, data={**form, "email": "kt@hp.example.vn"})
    assert ok.status_code == 302
    assert "kt@hp.example.vn" in client.get("/manage/users").text
    login(client, "kt-dong")
    assert client.get(f"/manage/users/{kt_id}/alert-mail").status_code == 403
    own = client.get("/account/alert-mail")
    assert "kt@hp.example.vn" in own.text
    assert (
        client.post("/account/alert-mail", data={"csrf_token": csrf_token(own.text)}).status_code
        == 302
    )
    with app.app_context():
        user = db.session().get(User, kt_id)
        assert (user.email, user.alert_mail) == ("kt@hp.example.vn", False)
        assert alert_mail.eligible(user) is False
