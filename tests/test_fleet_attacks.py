"""Issue 14 attacked (alerts, their e-mail, enrollment sheets, install) as an administrator, a
technician, a clerk and a stranger: the alerts page only reads (the sweep runs from its
timer); nobody reaches another unit's alerts, devices or codes, a clerk or a stranger none;
the sheet's QR codes name the configured server, never the request's Host; an office named
with a line break adds no header to a mail and stops no mail; ``web install`` refuses a
database URL that would add lines to ``web.env`` and a bad account name, writing nothing; two
kiosks sending one code at the same moment enroll one; the poster's QR never names the Host."""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import func, select

from hom_phieu.cli import main
from hom_phieu.ledger.device_key import DeviceKey
from tests.api_helpers import enroll
from tests.test_alert_mail import Inbox, _configure, inbox, smtp  # noqa: F401 (fixtures)
from tests.test_enroll_batch import cards
from tests.web_helpers import create_account, csrf_token, login
from web import alert_mail, alert_mail_settings, db
from web.alert_mail_settings import SmtpSettings
from web.alerts_sweep import sweep
from web.models import Alert, AuditEntry, Device, Office, Role, User
from web.models_enroll import EnrollmentBatchDevice

HOUR = timedelta(hours=1)
EVIL = "evil.example"


def _silent_kiosk(app, office_id: int, name: str) -> int:
    """An active kiosk whose last report is two hours old (offline for the sweep)."""
    with app.app_context():
        from web import clock

        earlier = clock.now() - 2 * HOUR
        session = db.session()
        device = Device(office_id=office_id, device_id=name, status="active", kind="kiosk",
                        label="Quầy 1", enrolled_at=earlier, last_seen_at=earlier,
                        health={"reported_at": earlier.isoformat()})  # fmt: skip
        session.add(device)
        session.commit()
        return device.id


def _swept(app) -> None:
    with app.app_context():
        from web import clock

        session = db.session()
        sweep(session, clock.now())
        session.commit()


FORGED = {"wsgi.url_scheme": "https", "HTTP_HOST": EVIL, "HTTP_REFERER": f"https://{EVIL}/"}


def _count(app, model) -> int:
    with app.app_context():
        return db.session().scalar(select(func.count()).select_from(model))


def test_the_alerts_page_only_reads_and_each_reaches_only_its_own(site) -> None:
    app, client, ids = site
    create_account_in(app, "vt-dong", Role.CLERK, ids["dong"]["unit"])
    dong = _silent_kiosk(app, ids["dong"]["office"], "hp-dong-silent")
    hac = _silent_kiosk(app, ids["hac"]["office"], "hp-hac-silent")
    login(client, "kt-dong")
    page = client.get("/alerts?lang=en")
    assert page.status_code == 200 and "hp-dong-silent" not in page.text
    assert _count(app, Alert) == 0  # a GET wrote nothing (no alert, no audit of one)
    with app.app_context():
        assert not db.session().scalar(select(AuditEntry).where(AuditEntry.action.like("alert.%")))

    _swept(app)  # (the timer's run)
    page = client.get("/alerts")
    assert "hp-dong-silent" in page.text and "hp-hac-silent" not in page.text
    with app.app_context():
        found = {a.device_pk: a.id for a in db.session().scalars(select(Alert))}
    token = csrf_token(page.text)
    for action in ("acknowledge", "resolve"):  # another unit's alert: not even found
        answer = client.post(f"/alerts/{found[hac]}/{action}", data={"csrf_token": token})
        assert answer.status_code == 404
    assert client.get(f"/devices/{hac}").status_code == 404
    assert "hp-hac-silent" not in client.get("/fleet").text
    assert client.get(f"/fleet?unit={ids['hac']['unit']}").status_code == 404
    client.post("/logout", data={"csrf_token": token})

    login(client, "vt-dong")  # a clerk: none of it
    token = csrf_token(client.get("/account/alert-mail").text)
    for path in ("/alerts", "/fleet", f"/devices/{dong}", "/devices/batches/new",
                 f"/devices/batches/new?office={ids['dong']['office']}"):  # fmt: skip
        assert client.get(path).status_code == 403, path
    for path in (f"/alerts/{found[dong]}/acknowledge", f"/alerts/{found[dong]}/resolve"):
        assert client.post(path, data={"csrf_token": token}).status_code == 403, path
    client.post("/logout", data={"csrf_token": token})

    stranger = app.test_client()  # not logged in: the login page, nothing else
    stranger.environ_base["wsgi.url_scheme"] = "https"
    for path in ("/alerts", "/fleet", f"/devices/{dong}", "/devices/batches/new"):
        answer = stranger.get(path)
        assert answer.status_code == 302 and "/login" in answer.headers["Location"], path
    answer = stranger.post(f"/alerts/{found[dong]}/resolve", data={"note": "x"})
    assert answer.status_code in (302, 400)
    with app.app_context():
        alerts = list(db.session().scalars(select(Alert)))
        assert all(a.acknowledged_at is None and a.resolved_at is None for a in alerts)


def create_account_in(app, username: str, role: str, unit: int) -> None:
    with app.app_context():
        create_account(username, username, role, unit)
        db.session().commit()


def test_the_sheet_names_the_configured_server_never_the_host_header(site, tmp_path) -> None:
    app, _client, ids = site
    office = ids["dong"]["office"]
    path = f"/devices/batches/new?office={office}"
    client = app.test_client()  # a technician reaching the server under another host name
    client.environ_base.update(FORGED)
    login(client, "kt-dong")
    page = client.get(path + "&lang=en")
    assert "public address is not set" in page.text and 'name="counters"' not in page.text
    token = csrf_token(page.text)
    chosen = {"counters": [ids["dong"]["counter"]], "days": 7, "csrf_token": token}
    refused = client.post(path, data=chosen)
    assert refused.status_code == 400 and _count(app, Device) == 0  # nothing made

    with app.app_context():  # the administrator's public address (the e-mail settings')
        alert_mail_settings.save(db.session(), SmtpSettings(base_url="https://hp.example.vn"))
        db.session().commit()
    sheet = client.post(path, data=chosen)
    assert sheet.status_code == 200 and EVIL not in sheet.text, sheet.text[-3000:]
    ((_counter, code, _qr, command, _expires),) = cards(sheet.text)
    assert command == f"hom-phieu kiosk install --server https://hp.example.vn --code {code}"

    # the code works once; again (another kiosk), or guessed, it is refused
    assert enroll(client, DeviceKey.load_or_create(tmp_path / "a.pem"), code).status_code == 200
    again = enroll(client, DeviceKey.load_or_create(tmp_path / "b.pem"), code)
    assert again.status_code == 410
    guessed = enroll(client, DeviceKey.load_or_create(tmp_path / "c.pem"), "ABCD-EFGH-JKLM")
    assert guessed.status_code == 400

    # new codes for the unused ones: the sheet under a forged Host still names the server
    chosen["counters"] = [ids["dong"]["counter"]]
    client.post(path, data=chosen)  # (a second batch, its device still pending)
    with app.app_context():
        pending = db.session().scalar(select(Device.id).where(Device.status == "pending"))
        batch_id = db.session().get(EnrollmentBatchDevice, pending).batch_id
    reissue = f"/devices/batches/{batch_id}/reissue"
    token = csrf_token(client.get(reissue).text)
    renewed = client.post(reissue, data={"csrf_token": token})
    assert renewed.status_code == 200 and EVIL not in renewed.text
    assert re.search(r"--server https://hp\.example\.vn --code", renewed.text)


def test_an_office_named_with_a_line_break_adds_no_header_and_stops_no_mail(
    site,
    smtp,  # noqa: F811 (the imported fixture)
    inbox,  # noqa: F811
) -> None:
    app, _client, ids = site
    _configure(app, smtp[0].port)
    with app.app_context():
        session = db.session()
        for user in session.scalars(select(User)):
            user.email = f"{user.username}@hp.example.vn"
        office = session.get(Office, ids["dong"]["office"])
        office.name = "Một cửa\r\nBcc: ke-gian@evil.example\nX-Hack: 1"
        session.commit()
    _silent_kiosk(app, ids["dong"]["office"], "hp-dong-silent")
    _silent_kiosk(app, ids["hac"]["office"], "hp-hac-silent")
    _swept(app)
    with app.app_context():
        from web import clock

        done = alert_mail.run(db.session(), clock.now())
    assert done.error is None and done.mails >= 3  # admin ×2, kt-dong, kt-tinh
    assert not any("evil" in address for address in inbox.to())
    for _tos, message in inbox.mails:
        assert message["Bcc"] is None and message["X-Hack"] is None
        assert "\n" not in str(message["Subject"]) and "\r" not in str(message["Subject"])
    subjects = [str(message["Subject"]) for _tos, message in inbox.mails]
    assert any("Một cửa Bcc: ke-gian@evil.example X-Hack: 1" in s for s in subjects)


def cli(*args: str, stdin: str | None = None):
    return CliRunner().invoke(main, ["--lang", "en", *args], input=stdin)


def test_web_install_refuses_a_url_that_adds_settings_and_a_bad_account_name(tmp_path) -> None:
    root = tmp_path / "server"
    base = ("web", "install", "--root", str(root), "--command", "/usr/bin/true",
            "--password-stdin")  # fmt: skip
    injected = f"sqlite:///{tmp_path}/db\nHOM_PHIEU_SECRET_KEY=chosen-by-someone"
    for args, says in [
        (("--database-url", injected), "--database-url"),
        (("--database-url", "postgresql://u:p w@127.0.0.1/x"), "--database-url"),
        (("--database-url", "postgresql://u:p@127.0.0.1:1/x"), "cannot be used"),
        (("--admin", ""), "--admin"),
        (("--admin", "Quản Trị\nroot"), "--admin"),
    ]:
        done = cli(*base, *args, stdin="Mat-khau-rat-dai-2026!\n")
        assert done.exit_code == 2 and says in done.output, (args, done.output)
        assert "Traceback" not in done.output
        assert not root.exists() or not any(root.rglob("*")), args  # nothing written


def _racing_enrollments(app, tmp_path, monkeypatch) -> list[tuple[int, dict]]:
    """Two kiosks post the same code to a real (threaded) server at the same moment: each
    request is held, past the code's checks, until the other has reached the same point."""
    from tests import api_helpers
    from tests.web_process import free_port
    from web import api_v1_enroll

    both_checked = threading.Barrier(2, timeout=20)
    checked = api_v1_enroll._enrollable

    def held(*args, **kwargs):
        device = checked(*args, **kwargs)
        both_checked.wait()  # (both saw the code unused)
        return device

    monkeypatch.setattr(api_v1_enroll, "_enrollable", held)
    keys = [DeviceKey.load_or_create(tmp_path / f"racer-{n}.pem") for n in range(2)]
    answers: list[tuple[int, dict]] = [(0, {})] * 2

    def post(number: int, url: str) -> None:
        key = keys[number]
        payload = {"code": api_helpers.CODE, "public_key": api_helpers.b64(key.public_raw)}
        data = json.dumps(payload).encode()
        headers = api_helpers.signed(key, "POST", "/api/v1/enroll", data)
        asked = urllib.request.Request(url + "/api/v1/enroll", data, headers, method="POST")
        try:
            with urllib.request.urlopen(asked, timeout=30) as answer:
                answers[number] = (answer.status, json.loads(answer.read()))
        except urllib.error.HTTPError as refused:
            answers[number] = (refused.code, json.loads(refused.read()))

    with api_helpers.serving(app, free_port()) as url:
        racers = [threading.Thread(target=post, args=(n, url)) for n in range(2)]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join(40)
    return [(status, {**answer, "key": keys[n].public_raw}) for n, (status, answer) in
            enumerate(answers)]  # fmt: skip


def test_one_code_sent_by_two_kiosks_at_once_enrolls_one(server_app, tmp_path, monkeypatch):
    from tests.api_helpers import register, seed

    seed(server_app)
    device_pk = register(server_app)
    answers = sorted(_racing_enrollments(server_app, tmp_path, monkeypatch), key=lambda a: a[0])
    (won, winner), (lost, loser) = answers
    assert (won, lost) == (200, 410), answers
    assert loser["error"] == "code-used" and "already used" in loser["message"]
    with server_app.app_context():
        session = db.session()
        device = session.get(Device, device_pk)
        assert device.status == "active" and device.device_id == winner["device_id"]
        assert bytes(device.public_key) == winner["key"]  # the winner's key, not overwritten
        enrolled = session.scalars(select(Device).where(Device.device_id.is_not(None))).all()
        assert [d.id for d in enrolled] == [device_pk]
        audits = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "device_enrolled")
        ).all()
        assert len(audits) == 1 and winner["device_id"] in str(audits[0].detail)


def test_the_poster_names_the_configured_server_never_the_host_header(ceremony_app) -> None:
    import base64
    import io

    import zxingcpp
    from PIL import Image
    from pypdf import PdfReader

    from tests.report_helpers import open_directly

    app = ceremony_app
    with app.app_context():
        office = db.session().scalar(select(Office.id).where(Office.code == "demo"))
    open_directly(app, office, "2026-10")
    client = app.test_client()  # a visitor reaching the server under another host name
    client.environ_base.update(FORGED)
    path = f"/public/offices/{office}/boxes/2026-10/poster"

    def shown() -> tuple[str, str]:
        page = client.get(path + "?lang=en")
        pdf = client.get(path + ".pdf?lang=en")
        assert page.status_code == 200 and pdf.status_code == 200
        text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
        return page.text, text

    page, text = shown()  # no address set: no QR and no link at all, rather than the Host's
    assert EVIL not in page and EVIL not in text and "/public/results" not in text
    assert "data:image/png" not in page and "public address is not set" in page

    with app.app_context():
        alert_mail_settings.save(db.session(), SmtpSettings(base_url="https://hp.example.vn/"))
        db.session().commit()
    page, text = shown()
    url = f"https://hp.example.vn/public/results?office={office}&period=month&month=2026-10"
    assert EVIL not in page and EVIL not in text and url in text.replace("\n", "")
    qr = re.search(r'<img src="data:image/png;base64,([^"]+)"', page).group(1)
    image = Image.open(io.BytesIO(base64.b64decode(qr)))
    assert [code.text for code in zxingcpp.read_barcodes(image)] == [url]
