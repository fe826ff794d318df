"""Acceptance of issue 12: before the opening, a copy of the server's database and of a
kiosk's ledger, read with plain ``sqlite3`` or ``psycopg`` (what ``psql`` shows), reveal no
level, button, criterion or comment of the ballots cast, and two ballots of the same level
are not linked by their ciphertexts. The opening then reads them all with the shares.

The server's copy is compared with the copy taken just before the ballots were cast: every
row they added or changed is searched (the office's scale and criteria, written before,
name buttons, levels and criteria by design; no ballot may point at one).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import select

from hom_phieu.ledger.records import Kind, decode
from tests.api_helpers import stored_rows
from tests.ceremony_helpers import Kiosk, enrolled_kiosk, minutes_of, with_scale
from tests.report_helpers import open_directly
from tests.seal_helpers import deal, keyring, opening_keys
from tests.web_helpers import csrf_token
from web import db as web_db
from web.models import Device, LedgerRecord, Office

BOX = "2026-11"  # the server's test clock stands on 2026-11-20
LEVEL_WORDS = ("very_satisfied", "satisfied", "not_satisfied")
BUTTONS = ("rat_hai_long", "hai_long", "khong_hai_long")  # the demo scale's button names
CRITERIA = ("Thái độ phục vụ (mục ZQX-1)", "Thời gian chờ đợi (mục ZQX-2)")
COMMENTS = ("Chờ quá lâu, góp ý số QWZ-4417", "Cán bộ hướng dẫn tận tình QWZ-5523")

Row = tuple[str, bytes]  # (table, the row's text and bytes, as a copy shows them)


@pytest.fixture
def app(ceremony_app):
    """The ceremony's office with the demo scale, its phone criteria, and this month's and
    next month's keys dealt to its committee."""
    app = with_scale(ceremony_app)
    with app.app_context():
        session = web_db.session()
        session.get(Office, app.config["OFFICE_ID"]).survey_criteria = list(CRITERIA)
        session.commit()
    app.config["DEALT"] = deal(app, app.config["OFFICE_ID"], [BOX, "2026-12"])
    return app


def sqlite_rows(path: Path) -> Iterator[Row]:
    """Every text and blob column of every row of every table, read with plain sqlite3."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master "
                                                 "WHERE type = 'table'")]  # fmt: skip
        for table in tables:
            for row in db.execute(f'SELECT * FROM "{table}"'):
                parts = [v.encode() if isinstance(v, str) else v for v in row]
                yield table, b"\x1f".join(p for p in parts if isinstance(p, bytes))


def postgres_rows(url: str) -> Iterator[Row]:
    """Every row of every table cast to text, as ``psql`` shows it (bytea in hex)."""
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as db:
        tables = [name for (name,) in db.execute("SELECT tablename FROM pg_tables "
                                                 "WHERE schemaname = 'public'")]  # fmt: skip
        for table in tables:
            for (text,) in db.execute(f'SELECT t::text FROM "{table}" t'):
                yield table, text.encode()


def server_copy(app) -> set[Row]:
    url = app.config["DATABASE_URL"]
    if url.startswith("sqlite"):
        return set(sqlite_rows(Path(url.removeprefix("sqlite:///"))))
    return set(postgres_rows(url))


def forms(secret: str) -> list[bytes]:
    """How ``secret`` would show in a copy: as UTF-8, JSON-escaped (a row cast to text
    doubles its backslashes), or as bytea's hex."""
    raw, escaped = secret.encode(), json.dumps(secret).strip('"')
    return [raw, escaped.encode(), escaped.replace("\\", "\\\\").encode(), raw.hex().encode()]


def revealed(rows: Iterable[Row], secrets: Iterable[str]) -> list[tuple[str, str]]:
    """Each (table, secret) a row shows."""
    rows = list(rows)
    return sorted({(table, secret) for secret in secrets for table, data in rows
                   if any(form in data for form in forms(secret))})  # fmt: skip


def ledger_copy(kiosk: Kiosk) -> list[Row]:
    """A copy of the kiosk's SD card: its ledger's tables, and the raw files (WAL too)."""
    path = Path(kiosk.box.store.path)
    raw = [("file", p.read_bytes()) for p in path.parent.glob(path.name + "*")]
    return [*sqlite_rows(path), *raw]


def sealed_cts(records) -> list[str]:
    return [r.body["sealed"]["ct"] for r in records if r.kind is Kind.VOTE]


def test_kiosk_ballots_are_unreadable_in_copies_until_the_opening(app, tmp_path: Path) -> None:
    client = app.test_client()
    kiosk = enrolled_kiosk(app, client, tmp_path / "k1", "2026-11-20T08:00:00")
    kiosk.box.use_keys(keyring(app, app.config["OFFICE_ID"]))  # as its configuration gives
    kiosk.sync(client)  # its BOOT and OPEN: nothing to hide
    before = server_copy(app)
    kiosk.vote("lan", "rat_hai_long", 2)  # two equal ballots
    kiosk.vote("binh", "hai_long")
    kiosk.vote("binh", "khong_hai_long")
    kiosk.box.refuse(button="khong_hai_long", reason="burst")
    kiosk.sync(client)

    secrets = (*LEVEL_WORDS, *BUTTONS)
    assert ("scale_buttons", "hai_long") in revealed(before, secrets)  # the copy is read
    added = server_copy(app) - before
    assert {table for table, _data in added} >= {"ledger_records"}
    assert revealed(added, secrets) == []
    assert revealed(ledger_copy(kiosk), secrets) == []
    held = [decode(row.data) for row in stored_rows(app, kiosk.key.device_id)]
    first, second, *_others = sealed_cts(held)
    assert first != second and len(first) == len(second)  # equal ballots, unlinkable
    assert sealed_cts(held) == sealed_cts(decode(row.data) for row in kiosk.rows())

    open_directly(app, app.config["OFFICE_ID"], BOX,
                  keys=opening_keys(app, app.config["DEALT"][BOX]))  # fmt: skip
    by_clerk = {row["key"]: row["by_level"] for row in minutes_of(app, BOX)["count"]["by_clerk"]}
    assert by_clerk == {
        "lan": {"very_satisfied": 2, "satisfied": 0, "not_satisfied": 0},
        "binh": {"very_satisfied": 0, "satisfied": 1, "not_satisfied": 1},
    }


def answer(app, path: str, level: str, criteria: tuple[str, ...], comment: str) -> None:
    """A citizen's phone answers the survey page (every criterion, a comment)."""
    phone = app.test_client()
    page = phone.get(path)
    assert page.status_code == 200, page.text
    fields = {"level": level, "comment": comment, "csrf_token": csrf_token(page.text)}
    fields |= {f"c{number}": word for number, word in enumerate(criteria)}
    sent = phone.post(path, data=fields)
    assert sent.status_code == 200, sent.text


def test_phone_answers_are_unreadable_in_copies_until_the_opening(app, tmp_path: Path) -> None:
    client = app.test_client()
    kiosk = enrolled_kiosk(app, client, tmp_path / "k1", "2026-11-20T08:00:00")
    kiosk.box.use_keys(keyring(app, app.config["OFFICE_ID"]))
    kiosk.vote("lan", "hai_long", 2)
    kiosk.sync(client)
    before = server_copy(app)
    answer(app, f"/s/demo/lan?t={kiosk.receipts[0]}", "khong_hai_long",
           ("not_satisfied", "very_satisfied"), COMMENTS[0])  # fmt: skip
    answer(app, "/s/demo/binh", "rat_hai_long", ("satisfied", "satisfied"), COMMENTS[1])

    assert ("offices", CRITERIA[1]) in revealed(before, CRITERIA)  # the copy is read
    added = server_copy(app) - before
    assert revealed(added, (*LEVEL_WORDS, *BUTTONS, *CRITERIA, "ZQX-", *COMMENTS, "QWZ-")) == []
    with app.app_context():
        rows = (
            web_db.session()
            .execute(
                select(LedgerRecord.data)
                .join(Device, LedgerRecord.device_pk == Device.id)
                .where(Device.kind == "survey", LedgerRecord.kind == Kind.VOTE.value)
            )
            .all()
        )
    cts = [decode(bytes(data)).body.get("sealed", {}).get("ct") for (data,) in rows]
    assert len(cts) == 2 and None not in cts and cts[0] != cts[1]

    open_directly(app, app.config["OFFICE_ID"], BOX,
                  keys=opening_keys(app, app.config["DEALT"][BOX], cards=(1, 3, 4)))  # fmt: skip
    minutes = json.dumps(minutes_of(app, BOX), ensure_ascii=False)
    assert all(comment in minutes for comment in COMMENTS)
