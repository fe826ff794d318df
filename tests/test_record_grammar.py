"""The record grammar: a correctly signed record with nonsense in it is named, refused and
never counted.

Each case takes a real ledger (button votes, a phone answer with its criteria and comment,
a clerk change, a refused press, a month's CLOSE and the next OPEN), changes one record
the way a tamperer holding the device key would (then re-chains and re-signs every record
after it, so nothing but the grammar can catch it), and checks the one verifier, the
``kiosk verify`` command, the server's ingest and the opening ceremony.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import insert, select

from hom_phieu.cli import main
from hom_phieu.clock import FakeClock
from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.errors import BallotBoxError, LedgerCorruptError
from hom_phieu.ledger.records import (
    Channel,
    Kind,
    Level,
    canonical_bytes,
    receipt_code,
    record_hash,
)
from hom_phieu.ledger.verify import Row, verify_rows
from tests.api_helpers import push
from tests.ceremony_helpers import (
    as_secretary,
    box_url,
    confirm,
    enrolled_kiosk,
    minutes_of,
    post_form,
)
from tests.ledger_tools import raw_connection
from web import clock as web_clock
from web import db as web_db
from web.models import Device, LedgerRecord

START = "2026-10-30T08:00:00"  # October's box, closed on 1 November: the server may open it
CRITERIA = ("Thái độ của công chức", "Thời gian và quy trình giải quyết")
LEVELS = {level.value for level in Level}
MAX_COMMENT = 1000  # the phone survey's limits (web.survey, web.manage.office)
MAX_CRITERIA = 10
MALFORMED, UNREADABLE = "malformed", "unreadable"  # the faults' stable codes
LABELS = {MALFORMED: "malformed record", UNREADABLE: "unreadable"}  # and their English names


def fill(box: BallotBox, clock: FakeClock) -> dict[str, int]:
    """Every kind of record the kiosk and the phone survey write; their seqs by role."""
    seqs = {"boot": 1, "open": 2}

    def later() -> None:
        clock.advance(60_000)

    later()
    seqs["vote"] = box.cast_vote(clerk="lan", button="rat_hai_long", level=Level.VERY_SATISFIED).seq
    later()
    box.cast_vote(clerk="binh", button="hai_long", level=Level.SATISFIED)
    later()
    seqs["event"] = box.event("clerk_on_duty", clerk="binh", previous="lan").seq
    later()
    seqs["refused"] = box.refuse(button="hai_long", reason="min_gap", clerk="binh", gap_ms=400).seq
    later()
    seqs["phone"] = box.cast_vote(
        clerk="lan",
        button="hai_long",
        level=Level.SATISFIED,
        channel=Channel.PHONE,
        criteria=dict.fromkeys(CRITERIA, "satisfied"),
        source="ticket",
        comment="Cán bộ nhiệt tình, hướng dẫn rõ ràng",
    ).seq
    later()
    box.cast_vote(clerk="binh", button="khong_hai_long", level=Level.NOT_SATISFIED)
    clock.advance_to("2026-11-01T07:30:00")
    seqs["close"] = next(r.seq for r in box.tick() if r.kind is Kind.CLOSE)
    later()
    seqs["last"] = box.cast_vote(clerk="lan", button="hai_long", level=Level.SATISFIED).seq
    return seqs


@dataclass(frozen=True)
class Case:
    """One way to break one record: ``change`` edits its fields, or ``raw`` its bytes."""

    name: str
    target: str  # a key of fill()'s seqs
    fault: str
    words: tuple[str, ...]  # what the reason must mention
    change: Callable[[dict[str, Any]], None] | None = None
    raw: tuple[bytes, bytes] | None = None  # (old, new) bytes

    def apply(self, data: bytes) -> bytes:
        if self.raw is not None:
            old, new = self.raw
            assert old in data, (old, data)
            return data.replace(old, new, 1)
        fields = json.loads(data)
        assert self.change is not None
        self.change(fields)
        return canonical_bytes(fields)


def body(**changes: Any) -> Callable[[dict[str, Any]], None]:
    def change(fields: dict[str, Any]) -> None:
        fields["body"].update(changes)

    return change


def without(name: str) -> Callable[[dict[str, Any]], None]:
    return lambda fields: fields["body"].pop(name)


def header(**changes: Any) -> Callable[[dict[str, Any]], None]:
    return lambda fields: fields.update(changes)


def criterion(value: Any) -> Callable[[dict[str, Any]], None]:
    def change(fields: dict[str, Any]) -> None:
        fields["body"]["criteria"][CRITERIA[0]] = value

    return change


CASES = [
    Case("level HACKED", "vote", MALFORMED, ("body.level", "HACKED"), body(level="HACKED")),
    Case("criterion answer is a list", "phone", MALFORMED, ("body.criteria", "a list"),
         criterion(["very_satisfied"])),
    Case("criterion answer not a level", "phone", MALFORMED, ("body.criteria",),
         criterion("rất hài lòng")),
    Case("too many criteria", "phone", MALFORMED, ("body.criteria", str(MAX_CRITERIA)),
         body(criteria={f"c{n}": "satisfied" for n in range(MAX_CRITERIA + 1)})),
    Case("an object where a clerk's code belongs", "vote", MALFORMED, ("body.clerk", "an object"),
         body(clerk={"id": "lan"})),
    Case("a list where a button belongs", "vote", MALFORMED, ("body.button", "a list"),
         body(button=["rat_hai_long"])),
    Case("oversized comment", "phone", MALFORMED, ("body.comment", str(MAX_COMMENT)),
         body(comment="x" * (MAX_COMMENT + 1))),
    Case("a boolean as ballot counter", "vote", MALFORMED, ("body.counter", "true or false"),
         body(counter=True)),
    Case("unknown channel", "vote", MALFORMED, ("body.channel", "fax"), body(channel="fax")),
    Case("unknown survey source", "phone", MALFORMED, ("body.source",), body(source="sms")),
    Case("missing channel", "vote", MALFORMED, ("body.channel", "missing"), without("channel")),
    Case("an extra field in a VOTE", "vote", MALFORMED, ("body.stuffed", "VOTE"),
         body(stuffed=100)),
    Case("an extra field in an OPEN", "open", MALFORMED, ("body.note", "OPEN"), body(note="x")),
    Case("an OPEN of month 13", "open", MALFORMED, ("box", "2026-13"), header(box="2026-13")),
    Case("an extra field in a CLOSE", "close", MALFORMED, ("body.bonus", "CLOSE"),
         body(bonus=1)),
    Case("a list as refusal reason", "refused", MALFORMED, ("body.reason", "a list"),
         body(reason=["min_gap"])),
    Case("an object as refusal detail", "refused", MALFORMED, ("body.gap_ms", "an object"),
         body(gap_ms={"ms": 400})),
    Case("a number as event type", "event", MALFORMED, ("body.type",), body(type=42)),
    Case("a list as clerk on duty", "event", MALFORMED, ("body.clerk", "a list"),
         body(clerk=["binh"])),
    Case("a text as clock_synced", "boot", MALFORMED, ("body.clock_synced",),
         body(clock_synced="yes")),
    Case("a wall time beyond year 9999", "last", MALFORMED, ("wall_ms",),
         header(wall_ms=2**62)),
    Case("a float as ballot counter", "vote", UNREADABLE, ("float",),
         raw=(b'"counter":1,', b'"counter":1.0,')),
    Case("a float seq", "vote", UNREADABLE, ("float",), raw=(b'"seq":3,', b'"seq":3.0,')),
    Case("a 5,000-digit counter", "vote", UNREADABLE, ("JSON",),
         raw=(b'"counter":1,', b'"counter":' + b"1" * 5000 + b",")),
    Case("a list as kind", "vote", UNREADABLE, ("kind",),
         raw=(b'"kind":"VOTE"', b'"kind":["VOTE"]')),
]  # fmt: skip
IDS = [case.name for case in CASES]


def tampered(rows: list[Row], key: DeviceKey, seq: int, case: Case) -> list[Row]:
    """Rows ``seq`` on: that record broken by ``case``, every later one re-chained and
    re-signed with the device key (as a tamperer holding it would)."""
    changed: list[Row] = []
    prev_hash = ""
    for row in rows:
        if row.seq < seq:
            continue
        if row.seq == seq:
            data = case.apply(row.data)
            assert data != row.data
        else:
            fields = json.loads(row.data)
            fields["prev"] = prev_hash
            if fields["kind"] == "CLOSE":
                fields["body"]["last_hash"] = prev_hash
            elif fields["kind"] == "OPEN" and fields["body"]["previous_close"]:
                fields["body"]["previous_close"] = prev_hash
            data = canonical_bytes(fields)
        changed.append(Row(row.seq, data, key.sign(data)))
        prev_hash = record_hash(data)
    return changed


@pytest.fixture
def ledger(tmp_path: Path, key: DeviceKey) -> tuple[Path, list[Row], dict[str, int]]:
    path = tmp_path / "ballot-box.sqlite3"
    clock = FakeClock.at(START, synced=True)
    with BallotBox.open(path, key, clock, kernel_boot_id="b") as box:
        seqs = fill(box, clock)
        rows = box.store.rows()
    return path, rows, seqs


def test_every_record_the_kiosk_and_the_survey_write_fits_the_grammar(ledger, key) -> None:
    _path, rows, _seqs = ledger
    problem, verifier = verify_rows(rows, key.public_raw, key.device_id)
    assert problem is None and verifier.state.head_seq == len(rows)


def test_the_limits_themselves_are_allowed(key, tmp_path) -> None:
    clock = FakeClock.at(START, synced=True)
    with BallotBox.open(tmp_path / "b.sqlite3", key, clock) as box:
        box.cast_vote(clerk="lan", button="b", level=Level.SATISFIED, channel=Channel.PHONE,
                      criteria={f"{n}" * 200: "not_satisfied" for n in range(MAX_CRITERIA)},
                      source="screen", comment="ễ" * MAX_COMMENT)  # fmt: skip
        rows = box.store.rows()
    assert verify_rows(rows, key.public_raw, key.device_id)[0] is None


@pytest.mark.parametrize(
    ("detail", "words"),
    [
        ({"comment": "x" * (MAX_COMMENT + 1)}, "body.comment"),
        ({"criteria": {"Thái độ": ["satisfied"]}}, "body.criteria"),
        ({"stuffed": 1}, "body.stuffed"),
    ],
)
def test_the_ballot_box_never_writes_a_malformed_record(box, detail, words) -> None:
    head = box.state.head_seq
    with pytest.raises(BallotBoxError, match=words):
        box.cast_vote(clerk="lan", button="b", level=Level.SATISFIED, **detail)
    with pytest.raises(BallotBoxError, match=r"body\.where"):
        box.event("printer_fault", where={"usb": 1})
    assert box.state.head_seq == head and box.store.record_count() == head


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_verifier_names_the_record_and_what_is_wrong(ledger, key, case) -> None:
    _path, rows, seqs = ledger
    target = seqs[case.target]
    broken = [*rows[: target - 1], *tampered(rows, key, target, case)]
    problem, verifier = verify_rows(broken, key.public_raw, key.device_id)
    assert problem is not None, "the broken record went unnoticed"
    assert (problem.seq, problem.fault.value) == (target, case.fault), problem
    for word in case.words:
        assert word in problem.message, problem.message
    assert verifier.state.head_seq == target - 1


def write_rows(path: Path, rows: list[Row]) -> None:
    """Put ``rows`` in the ledger file in place of the records from the first one on."""
    conn = raw_connection(path)
    originals = dict(conn.execute("SELECT seq, kind FROM records").fetchall())
    conn.execute("DELETE FROM records WHERE seq >= ?", (rows[0].seq,))
    conn.executemany(
        "INSERT INTO records (seq, kind, box, data, sig) VALUES (?, ?, '', ?, ?)",
        [(row.seq, originals[row.seq], row.data, row.sig) for row in rows],
    )
    conn.close()


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_kiosk_verify_names_it_and_the_device_refuses_to_go_on(ledger, key, tmp_path, case):
    path, rows, seqs = ledger
    target = seqs[case.target]
    write_rows(path, tampered(rows, key, target, case))
    key_file = tmp_path / "device-key.pem"
    args = ["--lang", "en", "kiosk", "verify", "--ledger", str(path), "--key", str(key_file)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    label = LABELS[case.fault]
    assert f"Ledger DAMAGED: record {target}: {label}: " in result.stderr, result.stderr
    for word in case.words:
        assert word in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    with pytest.raises(LedgerCorruptError, match=f"record {target}"):
        BallotBox.open(path, key, FakeClock.at("2026-11-02T08:00:00"))


# --- the server ---------------------------------------------------------------------------
def held_seqs(app, device_id: str) -> list[int]:
    with app.app_context():
        session = web_db.session()
        device = session.scalar(select(Device).where(Device.device_id == device_id))
        return list(
            session.scalars(
                select(LedgerRecord.seq)
                .where(LedgerRecord.device_pk == device.id)
                .order_by(LedgerRecord.seq)
            )
        )


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_server_refuses_it_at_push_time_and_stores_nothing_from_it(ceremony_app, tmp_path,
                                                                       case):  # fmt: skip
    app, client = ceremony_app, ceremony_app.test_client()
    kiosk = enrolled_kiosk(app, client, tmp_path / "kiosk", START)
    seqs = fill(kiosk.box, kiosk.clock)
    rows, target = kiosk.rows(), seqs[case.target]
    if target > 1:
        assert push(client, kiosk.key, rows[: target - 1]).status_code == 200
    response = push(client, kiosk.key, tampered(rows, kiosk.key, target, case), nonce="n-2")
    assert response.status_code == 422, response.get_data(as_text=True)
    answer = response.get_json()
    assert answer["error"] == "record-refused"
    assert (answer["seq"], answer["fault"]) == (target, case.fault)
    for word in case.words:
        assert word in answer["message"], answer["message"]
    assert held_seqs(app, kiosk.key.device_id) == list(range(1, target))


# At the opening every malformed record takes the same path: one case per kind of record
# (the ingest test above takes them all).
OPENING_CASES = list(
    {
        case.target: case
        for case in reversed(CASES)
        if case.fault == MALFORMED and case.target != "last"
    }.values()
)


@pytest.mark.parametrize("case", OPENING_CASES, ids=[case.name for case in OPENING_CASES])
def test_one_in_the_servers_database_is_named_at_the_opening_and_never_counted(
    ceremony_app, tmp_path, case
):
    """Someone with write access to the database puts it there: the box still opens, the
    checklist and the minutes name the record, and nothing from it on is counted."""
    app, client = ceremony_app, ceremony_app.test_client()
    kiosk = enrolled_kiosk(app, client, tmp_path / "kiosk", START)
    seqs = fill(kiosk.box, kiosk.clock)
    rows, target = kiosk.rows(), seqs[case.target]
    if target > 1:
        assert push(client, kiosk.key, rows[: target - 1]).status_code == 200
    with app.app_context():
        session = web_db.session()
        device = session.scalar(select(Device).where(Device.device_id == kiosk.key.device_id))
        for row in tampered(rows, kiosk.key, target, case):
            fields = json.loads(row.data)
            session.execute(insert(LedgerRecord).values(
                device_pk=device.id, seq=row.seq, kind=fields["kind"], office_id=device.office_id,
                box=fields["box"], wall_ms=fields["wall_ms"], data=row.data, sig=row.sig,
                hash=record_hash(row.data), received_at=web_clock.now(),
                receipt=receipt_code(record_hash(row.data)) if fields["kind"] == "VOTE" else None,
            ))  # fmt: skip
        session.commit()
    as_secretary(client)
    assert post_form(client, app, "2026-10", "start").status_code == 302
    for username in ("chu-tich", "mttq", "cong-doan"):
        assert confirm(client, app, "2026-10", username).status_code == 302
    checks = client.get(box_url(app, "2026-10") + "?verify=1")
    assert checks.status_code == 200
    assert f"record {target}: malformed record" in checks.text
    opened = post_form(client, app, "2026-10", "open", warnings_reason="Điều tra")
    assert opened.status_code == 302, opened.get_data(as_text=True)
    minutes = minutes_of(app, "2026-10")
    [mine] = [d for d in minutes["devices"] if d["device_id"] == kiosk.key.device_id]
    assert mine["problem"]["fault"] == "malformed" and mine["problem"]["seq"] == target
    assert mine["status"] == "fault"
    before = [json.loads(r.data) for r in rows if r.seq < target]
    counted = sum(f["kind"] == "VOTE" and f["box"] == "2026-10" for f in before)
    assert mine["votes"] == counted
    unverified = minutes["count"].get("unverified", {"votes": 0})["votes"]  # the phone answer
    assert minutes["count"]["votes"] + unverified == sum(d["votes"] for d in minutes["devices"])
    by_level = minutes["count"]["by_level"]
    assert set(by_level) <= LEVELS and sum(by_level.values()) == minutes["count"]["votes"]


def test_base64_fields_are_checked_exactly_as_their_pattern_says() -> None:
    """The sealed part's base64 is checked by a byte table (for speed): it accepts exactly
    what the pattern accepts, and names the fault of what it refuses."""
    import random

    from hom_phieu.ledger.grammar import BASE64

    alphabet = "ABCxyz019+/=é -_\n"
    picked = random.Random(7)
    samples = ["", "=", "==", "A", "A=", "A==", "A===", "=A", "AB=C", "é", "AAAA", "A\n"]
    samples += ["".join(picked.choices(alphabet, k=picked.randint(0, 8))) for _ in range(5000)]
    assert BASE64.pattern is not None
    for text in samples:
        expected = BASE64.pattern.fullmatch(text) is not None
        assert BASE64.fits(text) is expected, text
        assert (BASE64.problem("body.sealed.ct", text) is None) is expected, text
    assert not BASE64.fits(b"AAAA") and not BASE64.fits(None)
