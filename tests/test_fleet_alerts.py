"""The sweep's alerts for a kiosk's records: refused by the server (not a forked chain: that
is the evidence's equivocation alert, tests.test_forks) and waiting to sync for too long;
each resolved by the sweep once a newer report says the condition is gone."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from hom_phieu.i18n import language
from hom_phieu.ledger.device_key import DeviceKey
from tests.api_helpers import enroll, make_app, post, register, seed
from web import db
from web.alerts import alert_words, state_of
from web.alerts_sweep import sweep
from web.models import Alert, AuditEntry

MINUTE = 60_000


def test_refused_and_unsynced_records_are_alerted_and_resolved(
    sqlite_database: Path, server_clock, tmp_path: Path
) -> None:
    app = make_app(sqlite_database, server_clock, migrate=False)
    seed(app)
    register(app)
    client = app.test_client()
    key = DeviceKey.load_or_create(tmp_path / "device-key.pem")
    assert enroll(client, key).status_code == 200

    def report(**fields) -> None:
        health = {"unsynced": 0, "time_quality": "synced", "software": "0.1.0", **fields}
        assert post(client, key, "/api/v1/health", health).status_code == 200

    def swept() -> dict[str, str]:
        with app.app_context():
            from web import clock

            session = db.session()
            sweep(session, clock.now())
            session.commit()
            return {a.kind: str(state_of(a)) for a in session.scalars(select(Alert))}

    report(unsynced=3)
    server_clock.advance(30 * MINUTE)
    report(unsynced=5)
    assert swept() == {}  # waiting, within the threshold (60 minutes)
    server_clock.advance(31 * MINUTE)
    report(unsynced=6)
    assert swept() == {"records_unsynced": "open"}
    with app.app_context(), language("vi"):
        alert = db.session().scalar(select(Alert))
        words = alert_words(alert)
        assert key.device_id in words.detail and "6" in words.detail
        assert words.link == f"/devices/{alert.device_pk}" and words.action
    report(unsynced=2, refused=2, refused_error="record-refused", refused_since_ms=1)
    assert swept() == {"records_unsynced": "open", "records_refused": "open"}
    server_clock.advance(MINUTE)
    report(unsynced=0)  # its pushes go through again
    assert swept() == {"records_unsynced": "resolved", "records_refused": "resolved"}
    report(unsynced=4, refused=4, refused_error="equivocation", refused_since_ms=1)
    kinds = swept()  # a forked chain: the evidence's alert, not a second one
    assert kinds == {"records_unsynced": "resolved", "records_refused": "resolved"}
    with app.app_context():
        resolved = (
            db.session()
            .scalars(select(AuditEntry).where(AuditEntry.action == "alert.resolve"))
            .all()
        )
        assert len(resolved) == 2 and all(entry.user_id is None for entry in resolved)
