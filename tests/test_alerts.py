"""Alerts: one open alert per kind and subject, words rendered at display time, shown only
to the roles and unit who act, acknowledged and resolved with CSRF forms, audited; the
sweep raises the alerts of boxes overdue and resolves them when the box is opened."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from hom_phieu.i18n import language
from hom_phieu.ledger.records import LEVEL_LABELS
from tests.web_helpers import create_account, csrf_token, login
from web import db
from web.alerts import SPECS, AlertKind, State, alert_words, raise_alert, state_of
from web.alerts_sweep import sweep
from web.models import Alert, AuditEntry, Device, Opening, Role, User

UNITS = Path(__file__).resolve().parent.parent / "systemd"


def _device(session, office_id: int, name: str) -> Device:
    device = Device(office_id=office_id, device_id=name, status="active", kind="kiosk")
    session.add(device)
    session.flush()
    return device


def test_alerts_are_one_per_subject_words_at_display_and_no_level_counts(site, server_clock):
    app, _client, ids = site
    with app.app_context():
        from web import clock

        now = clock.now()
        session = db.session()
        device = _device(session, ids["dong"]["office"], "hp-aaaa")
        first = raise_alert(session, AlertKind.EQUIVOCATION, None, device,
                            {"device": "hp-aaaa", "seq": 3}, now)  # fmt: skip
        again = raise_alert(
            session,
            AlertKind.EQUIVOCATION,
            None,
            device,
            {"device": "hp-aaaa", "seq": 3},
            now + timedelta(minutes=5),
        )
        session.commit()
        assert again.id == first.id and again.seen_count == 2
        assert session.scalar(select(Alert).where(Alert.id != first.id)) is None
        with pytest.raises(ValueError):  # a kind carries only its declared parameters
            raise_alert(session, AlertKind.DEVICE_OFFLINE, None, device,
                        {"device": "x", "very_satisfied": 4}, now)  # fmt: skip
        with language("vi"):
            words = alert_words(first)
        assert words.title == "Hai bản ghi khác nhau cùng một số thứ tự"
        assert "hp-aaaa" in words.detail and "3" in words.detail and "bản sao" in words.detail
        assert words.link == f"/devices/{device.id}/fork" and "đăng ký lại" in words.action
        with language("en"):  # the same row, another reader's language
            assert alert_words(first).title == "Two different records with one number"
        levels = {str(level) for level in LEVEL_LABELS} | {"counts", "levels"}
        for kind, spec in SPECS.items():  # no kind can carry a count by level
            assert not set(spec.params) & levels, kind
            alert = Alert(kind=str(kind), params={p: "1" for p in spec.params}, message="")
            words = alert_words(alert)
            text = f"{words.title} {words.detail} {words.action}".lower()
            assert not any(_(label).lower() in text for label in LEVEL_LABELS.values()), kind
        actions = [e.action for e in session.scalars(select(AuditEntry))]
        assert actions == ["alert.raise"]


def _(text: str) -> str:
    from hom_phieu.i18n import _ as translate

    return translate(text)


def test_alerts_page_roles_unit_scope_acknowledge_and_resolve(site):
    app, client, ids = site
    with app.app_context():
        from web import clock

        session = db.session()
        create_account("hd-hac", "Hội đồng Hạc Thành", Role.COMMITTEE, ids["hac"]["unit"])
        dong = _device(session, ids["dong"]["office"], "hp-dong")
        hac = _device(session, ids["hac"]["office"], "hp-hac")
        for device in (dong, hac):
            details = {"device": device.device_id, "reason": "record 11"}
            raise_alert(session, AlertKind.RECORDS_REFUSED, None, device, details, clock.now())
        flood = {"office": "Hạc Thành", "clerk": "Nguyễn Thị Lan", "answers": 140}
        box = raise_alert(session, AlertKind.PHONE_REFUSALS, ids["hac"]["office"], None, flood,
                          clock.now(), box="2026-11", subject="lan")  # fmt: skip
        session.commit()
        dong_alert = session.scalar(select(Alert).where(Alert.device_pk == dong.id))
        hac_alert = session.scalar(select(Alert).where(Alert.device_pk == hac.id))
        dong_id, hac_id, box_id, dong_pk = dong_alert.id, hac_alert.id, box.id, dong.id
    login(client, "kt-dong")  # a technician of Đông Thanh: its device alerts only
    page = client.get("/alerts")
    assert page.status_code == 200
    assert (
        "hp-dong" in page.text and "hp-hac" not in page.text and "Nguyễn Thị Lan" not in page.text
    )
    assert f'href="/devices/{dong_pk}"' in page.text
    token = csrf_token(page.text)
    assert client.post(f"/alerts/{dong_id}/acknowledge", data={}).status_code == 400  # no CSRF
    with app.app_context():
        assert state_of(db.session().get(Alert, dong_id)) is State.OPEN
    assert client.post(f"/alerts/{hac_id}/acknowledge",
                       data={"csrf_token": token}).status_code == 404  # fmt: skip
    assert client.post(f"/alerts/{dong_id}/acknowledge",
                       data={"csrf_token": token}).status_code == 302  # fmt: skip
    note = {"csrf_token": token, "note": "re-enrolled"}
    assert client.post(f"/alerts/{dong_id}/resolve", data=note).status_code == 302
    assert "hp-dong" not in client.get("/alerts").text  # resolved: not "to deal with"
    assert "re-enrolled" in client.get("/alerts?state=resolved").text
    assert client.get("/alerts?state=bogus").status_code == 200
    assert client.get("/alerts?state=%00").status_code == 400  # (refused, never a 500)
    client.get("/logout")
    login(client, "xem-hac")  # a viewer acts on nothing
    assert client.get("/alerts").status_code == 403
    client.get("/logout")
    login(client, "hd-hac")  # the committee: the box alerts of its unit, no device alerts
    page = client.get("/alerts")
    assert "Nguyễn Thị Lan" in page.text and "hp-hac" not in page.text
    assert f'href="/offices/{ids["hac"]["office"]}/boxes/2026-11"' in page.text
    with app.app_context():
        session = db.session()
        alert = session.get(Alert, dong_id)
        assert alert.acknowledged_by is not None and alert.resolved_note == "re-enrolled"
        assert alert.open_key is None and session.get(Alert, box_id).open_key is not None
        actions = [e.action for e in session.scalars(select(AuditEntry).where(
            AuditEntry.target == f"alert:{dong_id}").order_by(AuditEntry.id))]  # fmt: skip
        assert actions == ["alert.raise", "alert.acknowledge", "alert.resolve"]


def test_sweep_raises_box_alerts_and_resolves_them_when_gone(site, server_clock):
    app, _client, ids = site
    with app.app_context():
        from web import clock

        session = db.session()
        device = _device(session, ids["dong"]["office"], "hp-silent")
        device.enrolled_at = clock.now() - timedelta(days=60)
        device.last_seen_at = clock.now() - timedelta(days=40)  # silent since September
        session.commit()
        sweep(session, clock.now())
        session.commit()
        kinds = sorted(a.kind for a in session.scalars(select(Alert)))
        # October's box, overdue on the 20th; and the device itself is offline
        assert kinds == ["box_overdue", "box_unsynced", "device_offline"]
        again = sweep(session, clock.now())  # the same conditions: nothing piles up
        session.commit()
        assert len(list(session.scalars(select(Alert)))) == 3 and again.resolved == 0
        device.last_seen_at = clock.now()  # it synced, and the box is opened
        user = session.scalar(select(User).where(User.username == "admin"))
        for alert in session.scalars(select(Alert).where(Alert.kind == "box_overdue")):
            session.add(Opening(office_id=alert.office_id, box=alert.box, status="opened",
                                started_by=user.id, opened_at=clock.now()))  # fmt: skip
        session.commit()
        swept = sweep(session, clock.now())
        session.commit()
        assert swept.resolved == 3
        assert all(a.resolved_at is not None and a.resolved_by is None
                   for a in session.scalars(select(Alert)))  # fmt: skip


def test_sweep_command_and_its_systemd_units(site, monkeypatch, tmp_path: Path):
    app, _client, _ids = site
    from click.testing import CliRunner

    from hom_phieu import cli

    monkeypatch.setattr(cli, "_server_app", lambda start_ms=None: app)
    result = CliRunner().invoke(cli.main, ["--lang", "en", "web", "alerts", "sweep"])
    assert result.exit_code == 0, result.output
    assert "Alerts swept" in result.output
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd not installed")
    names = ["hom-phieu-web-alerts@.service", "hom-phieu-web-alerts@.timer"]
    for name in names:
        text = (UNITS / name).read_text()
        (tmp_path / name).write_text(text.replace("/opt/hom-phieu/.venv/bin/hom-phieu",
                                                  sys.executable))  # fmt: skip
    verified = subprocess.run(["systemd-analyze", "verify", *names], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
    assert verified.returncode == 0 and not verified.stderr.strip(), verified.stderr


def test_a_silent_kiosk_is_alerted_within_the_threshold_and_resolved_when_back(
    sqlite_database: Path, server_clock, tmp_path: Path
) -> None:
    """A kiosk reports a printer fault, then goes silent (SIGKILLed: no goodbye): offline
    is alerted once the threshold (5 minutes) is past, not before; back, both resolve."""
    from hom_phieu.ledger.device_key import DeviceKey
    from tests.api_helpers import enroll, make_app, post, register, seed

    app = make_app(sqlite_database, server_clock, migrate=False)
    seed(app)
    register(app)
    client = app.test_client()
    key = DeviceKey.load_or_create(tmp_path / "device-key.pem")
    assert enroll(client, key).status_code == 200
    report = {"unsynced": 0, "time_quality": "synced", "printer": "out of paper",
              "screen": None, "software": "0.1.0", "out_of_service": None}  # fmt: skip
    assert post(client, key, "/api/v1/health", report).status_code == 200

    def swept() -> dict[str, str]:
        with app.app_context():
            from web import clock

            session = db.session()
            sweep(session, clock.now())
            session.commit()
            return {a.kind: str(state_of(a)) for a in session.scalars(select(Alert))}

    assert swept() == {"printer_fault": "open"}
    server_clock.advance(4 * 60_000)  # silent, within the threshold: not offline yet
    assert swept() == {"printer_fault": "open"}
    server_clock.advance(2 * 60_000)  # past it
    assert swept() == {"printer_fault": "open", "device_offline": "open"}
    with app.app_context(), language("vi"):
        offline = db.session().scalar(select(Alert).where(Alert.kind == "device_offline"))
        words = alert_words(offline)
        assert words.title == "Thiết bị mất kết nối" and key.device_id in words.detail
    report["printer"] = None  # back, paper loaded
    assert post(client, key, "/api/v1/health", report).status_code == 200
    assert swept() == {"printer_fault": "resolved", "device_offline": "resolved"}
