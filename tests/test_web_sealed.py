"""Sealed until opened: no page, API answer or log line of the server shows a box's counts
by level or by clerk, for any role; and staff of one commune see nothing of another.

The ledger is built so that every per-level and per-clerk count is a number that appears
nowhere else (137, 223, 61; 257, 164); the total (421) may be shown. Every page reachable
from the front page, in both languages, for every role, is searched for those numbers.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest
from sqlalchemy import select

from hom_phieu.clock import FakeClock
from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.records import Level
from tests.api_helpers import enroll, push, register, seed, signed
from tests.web_helpers import create_account, login
from web import db
from web.models import Office, Unit

LEVELS = {Level.VERY_SATISFIED: 137, Level.SATISFIED: 223, Level.NOT_SATISFIED: 61}
BUTTONS = {Level.VERY_SATISFIED: "rat_hai_long", Level.SATISFIED: "hai_long",
           Level.NOT_SATISFIED: "khong_hai_long"}  # fmt: skip
SECRETS = ("137", "223", "61", "257", "164")  # per level, then per clerk (lan, binh)
ROLES = ("admin", "technician", "committee", "clerk", "viewer")


@pytest.fixture
def synced(server_app, tmp_path: Path, caplog: pytest.LogCaptureFixture):
    """The demo office's box holds 421 ballots; accounts of every role in its commune, and a
    viewer in another commune."""
    app = server_app
    seed(app)
    with app.app_context():
        session = db.session()
        unit = session.scalar(select(Office).where(Office.code == "demo")).unit_id
        other = Unit(code="xa-khac", name="Xã Khác Hẳn", kind="xã")
        session.add(other)
        session.flush()
        for role in ROLES:
            create_account(f"{role}-1", f"{role} 1", role, None if role == "admin" else unit)
        create_account("viewer-other", "Người xem xã khác", "viewer", other.id)
        session.commit()
    key = DeviceKey.load_or_create(tmp_path / "key.pem")
    clock = FakeClock.at("2026-11-03T08:00:00")
    plan = [level for level, count in LEVELS.items() for _ in range(count)]
    with BallotBox.open(tmp_path / "ledger.sqlite3", key, clock) as box:
        for number, level in enumerate(plan):
            clock.advance(60_000)
            clerk = "lan" if number < 257 else "binh"
            box.cast_vote(clerk=clerk, button=BUTTONS[level], level=level)
        rows = box.store.rows()
    assert len(rows) not in (137, 223, 61, 257, 164)
    register(app)
    client = app.test_client()
    caplog.set_level(logging.DEBUG)
    assert enroll(client, key).status_code == 200
    for start in range(0, len(rows), 500):
        assert push(client, key, rows[start : start + 500]).status_code == 200
    return app, key, caplog


def crawl(client, start: str = "/") -> dict[str, str]:
    """Every same-site page reachable from ``start`` by GET links."""
    seen: dict[str, str] = {}
    queue = [start, start + "?lang=en"]
    while queue and len(seen) < 200:
        path = queue.pop()
        if path in seen:
            continue
        answer = client.get(path)
        textual = answer.content_type.startswith(("text/", "application/json"))
        # (binary files, the XLSX and PDF exports, are of opened results: tests/test_reports.py)
        seen[path] = answer.get_data(as_text=True) if answer.status_code == 200 and textual else ""
        if not answer.content_type.startswith("text/html"):
            continue
        for href in re.findall(r'href="([^"#]+)"', seen[path]):
            target = urljoin("https://localhost" + path, href)
            parsed = urlparse(target)
            if parsed.netloc == "localhost":
                queue.append(parsed.path + (f"?{parsed.query}" if parsed.query else ""))
    return seen


def numbers_in(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w/.:-])\d+(?![\w/.:-])", text))


@pytest.mark.parametrize("role", ROLES)
def test_no_route_shows_counts_of_a_sealed_box(synced, role: str) -> None:
    app, _key, _logs = synced
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    assert login(client, f"{role}-1").status_code == 302
    pages = crawl(client)
    assert len(pages) >= 2
    front = pages["/"]
    assert "421" in front  # the number of ballots received may be shown
    for path, text in pages.items():
        leaked = numbers_in(text) & set(SECRETS)
        assert not leaked, f"{role} sees {leaked} on {path}"


def test_the_api_and_the_logs_say_nothing_of_levels(synced) -> None:
    app, key, logs = synced
    client = app.test_client()
    answer = client.get("/api/v1/config", headers=signed(key, "GET", "/api/v1/config", b""))
    assert answer.status_code == 200
    body = answer.get_data(as_text=True)
    assert not numbers_in(body) & set(SECRETS)
    logged = "\n".join(record.getMessage() for record in logs.records)
    assert not numbers_in(logged) & set(SECRETS)
    for level in Level:
        assert level.value not in logged


def test_staff_of_another_commune_see_nothing_of_this_box(synced) -> None:
    app, _key, _logs = synced
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    login(client, "viewer-other")
    pages = crawl(client)
    everything = "\n".join(pages.values())
    assert "421" not in numbers_in(everything)
    assert "UBND xã Demo" not in everything
