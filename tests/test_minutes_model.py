"""The minutes as a typed model: the JSON it writes is byte for byte what the dict-building
code wrote before (so frozen minutes' hashes still verify), stored minutes read back
exactly, a wrong shape is refused by name, and the documents render from a real opening."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pypdf
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

import web.opening
from hom_phieu.clock import TIMEZONE
from hom_phieu.formatting import aware
from hom_phieu.ledger.records import Channel, canonical_bytes, record_hash
from tests.ceremony_helpers import (
    as_secretary,
    confirm,
    enrolled_kiosk,
    october_kiosk,
    post_form,
)
from web import db as web_db
from web.box_count import LEVELS
from web.ceremony_calendar import next_box
from web.checklist import device_status
from web.minutes import Minutes, MinutesFormatError
from web.minutes_csv import minutes_csv
from web.minutes_pdf import minutes_pdf
from web.minutes_xlsx import minutes_xlsx
from web.models import Clerk, Opening, ProcedureField

ROOT = Path(__file__).resolve().parent.parent


# --- the minutes as the server wrote them before the model (web/opening.py, verbatim) -------


def old_minutes_content(session, opening, count, checks) -> dict:
    office = opening.office
    fields = dict(session.execute(select(ProcedureField.id, ProcedureField.name)).all())
    clerks = {
        clerk.code: (clerk.name, clerk.title, fields.get(clerk.field_id, "—"))
        for clerk in session.scalars(select(Clerk).where(Clerk.office_id == office.id))
    }
    counters = {d.device.pk: d.device.counter or d.device.label for d in count.devices}
    users = {c.user_id: c.user for c in opening.confirmations}
    return {
        "format": 1,
        "office": {
            "code": office.code,
            "name": office.name,
            "unit": office.unit.name,
            "parent_unit": office.unit.parent.name if office.unit.parent else None,
        },
        "box": opening.box,
        "started_at": _iso(opening.started_at),
        "opened_at": _iso(opening.opened_at),
        "place": office.unit.name,
        "early_reason": opening.early_reason or None,
        "warnings_reason": opening.warnings_reason or None,
        "dossiers_returned": opening.dossiers_returned,
        "quorum": {
            "required": office.quorum,
            "members": len(web.opening.active_members(session, office.id)),
        },
        "attendees": [
            {
                "name": users[c.user_id].display_name,
                "committee_role": c.committee_role,
                "confirmed_at": _iso(c.at),
            }
            for c in opening.confirmations
        ],
        "devices": [_device_entry(device, checks) for device in count.devices],
        "checks": [check.as_dict() for check in checks],
        "count": _tables(count.main, clerks, counters),
        "supplements": [
            {"box": box, "count": _tables(tally, clerks, counters)}
            for box, tally in sorted(count.supplements.items())
        ],
        "next_box": {
            "box": next_box(opening.box),
            "devices": [
                {
                    "device_id": d.device.device_id,
                    "label": d.device.label,
                    "open_seq": d.next_open[0],
                    "opened_at": _iso_ms(d.next_open[1]),
                }
                for d in count.devices
                if d.next_open is not None
            ],
        },
    }


def _device_entry(device, checks) -> dict:
    problem = device.problem
    return {
        "device_id": device.device.device_id,
        "label": device.device.label,
        "counter": device.device.counter,
        "status": device_status(checks, device.device.device_id),
        "records": device.records,
        "first_seq": device.first_seq,
        "last_seq": device.last_seq,
        "chain_head": device.chain_head,
        "open_seq": device.open_seq,
        "close_seq": device.close_seq,
        "votes": device.votes,
        "refused": dict(sorted(device.refused.items())),
        "unsynced_votes": device.unsynced_votes,
        "uncounted": device.uncounted,
        "problem": None
        if problem is None
        else {"seq": problem.seq, "fault": problem.fault.value, "message": problem.message},
        "last_seen_at": _iso(device.device.last_seen_at),
        "evidence": device.device.evidence,
    }


def _tables(tally, clerks, counters) -> dict:
    unknown = ("", "", "—")
    by_counter: dict = {}
    for device_pk, levels in tally.by_device.items():
        by_counter.setdefault(counters.get(device_pk, "?"), Counter()).update(levels)
    by_field: dict = {}
    for code, levels in tally.by_clerk.items():
        by_field.setdefault(clerks.get(code, unknown)[2], Counter()).update(levels)
    return {
        "votes": tally.votes,
        "by_level": _levels(tally.by_level),
        "by_clerk": [
            {
                "key": code,
                "name": clerks.get(code, unknown)[0],
                "title": clerks.get(code, unknown)[1],
                **_row(levels),
            }
            for code, levels in sorted(
                tally.by_clerk.items(), key=lambda item: (clerks.get(item[0], unknown)[0], item[0])
            )
        ],
        "by_counter": [{"key": k, "name": k, **_row(v)} for k, v in sorted(by_counter.items())],
        "by_field": [{"key": k, "name": k, **_row(v)} for k, v in sorted(by_field.items())],
        "by_channel": [
            {"key": k, "name": k, **_row(tally.by_channel.get(k, Counter()))}
            for k in (channel.value for channel in Channel)
            if k in tally.by_channel
        ],
        "by_criterion": [{"key": k, "name": k, **_row(v)} for k, v in tally.by_criterion.items()],
        "comments": [
            {"clerk": code, "name": clerks.get(code, unknown)[0], "text": text}
            for code, text in tally.comments
        ],
    }


def _row(levels) -> dict:
    return {"by_level": _levels(levels), "votes": sum(levels.values())}


def _levels(levels) -> dict:
    return {level: levels.get(level, 0) for level in LEVELS}


def _iso(moment):
    if moment is None:
        return None
    return aware(moment).astimezone(TIMEZONE).isoformat(timespec="seconds")


def _iso_ms(wall_ms: int) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(wall_ms / 1000, TIMEZONE).isoformat(timespec="seconds")


# --- on real openings -------------------------------------------------------------------------


@pytest.fixture
def app(ceremony_app):
    return ceremony_app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def written(monkeypatch) -> list[tuple[Minutes, bytes]]:
    """Each opening's minutes as the model wrote them, with the old code's canonical bytes
    for the very same count, checks and database state."""
    found: list[tuple[Minutes, bytes]] = []
    real = web.opening.minutes_content

    def spy(session, opening, count, checks):
        minutes = real(session, opening, count, checks)
        old = old_minutes_content(session, opening, count, checks)
        found.append((minutes, canonical_bytes(old)))
        return minutes

    monkeypatch.setattr(web.opening, "minutes_content", spy)
    return found


def stored(app, box: str) -> tuple[bytes, str]:
    with app.app_context():
        opening = web_db.session().scalar(select(Opening).where(Opening.box == box))
        return bytes(opening.minutes), opening.minutes_hash


def open_box(client, app, box: str, members=("chu-tich", "mttq", "thu-ky"), **form) -> None:
    post_form(client, app, box, "start", **form.pop("start", {}))
    for username in members:
        assert confirm(client, app, box, username).status_code == 302
    assert post_form(client, app, box, "open", **form).status_code == 302


def test_minutes_the_old_code_wrote_still_read_back_byte_for_byte(app, client, tmp_path, written):
    """Two openings: October (refusals, a warning) and November, whose minutes hold
    October's late ballots in a supplement. The old code's minutes for the same count
    (before each clerk's channels were split) still read, and write back unchanged."""
    kiosk = enrolled_kiosk(app, client, tmp_path / "k1", "2026-10-20T08:00:00")
    kiosk.vote("lan", "rat_hai_long", 5)
    kiosk.vote("binh", "hai_long", 2)
    kiosk.box.refuse(button="hai_long", reason="burst")
    kiosk.sync(client)
    as_secretary(client)
    open_box(client, app, "2026-10", dossiers_returned="9", warnings_reason="Thiết bị mất mạng")
    kiosk.vote("binh", "khong_hai_long", 2)  # late October ballots
    kiosk.clock.advance_to("2026-11-03T08:00:00")
    kiosk.vote("lan", "hai_long", 3)
    kiosk.clock.advance_to("2026-12-01T07:00:00")
    kiosk.box.tick()
    kiosk.sync(client)
    open_box(client, app, "2026-11", ("pho-chu-tich", "mot-cua", "thu-ky"),
             start={"early_reason": "Chủ tịch đi công tác"}, warnings_reason="Họp sớm")  # fmt: skip

    assert len(written) == 2
    for (minutes, old), box in zip(written, ("2026-10", "2026-11"), strict=True):
        data, digest = stored(app, box)
        assert canonical_bytes(Minutes.from_bytes(old).to_json()) == old  # frozen ones read
        assert record_hash(data) == digest
        assert canonical_bytes(minutes.to_json()) == data
        assert Minutes.from_bytes(data) == minutes  # read back: the same minutes
    november = written[1][0]
    assert [s.box for s in november.supplements] == ["2026-10"]
    assert november.supplements[0].count.by_level["not_satisfied"] == 2
    assert november.early_reason == "Chủ tịch đi công tác"


def test_the_documents_render_from_a_real_opening(app, client, tmp_path, written):
    october_kiosk(app, client, tmp_path)
    as_secretary(client)
    open_box(client, app, "2026-10", dossiers_returned="20", warnings_reason="Bấm liên tục")
    data, digest = stored(app, "2026-10")
    minutes = Minutes.from_bytes(data)
    assert minutes.count.votes == 15 and minutes.count.by_level["very_satisfied"] == 7
    pdf = minutes_pdf(minutes, digest)
    text = " ".join(" ".join(page.extract_text().split())
                    for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)  # fmt: skip
    assert "7 (46,67%)" in text and digest in text and "Nguyễn Văn Ễnh" in text
    workbook = load_workbook(io.BytesIO(minutes_xlsx(minutes, digest)))
    summary = {row[0]: row[1] for row in workbook["Summary"].iter_rows(values_only=True) if row}
    assert summary["Ballots"] == 15 and summary["Content check code (SHA-256)"] == digest
    rows = list(csv.DictReader(io.StringIO(minutes_csv(minutes).removeprefix("\ufeff"))))
    (total,) = [row for row in rows if row["Section"] == "Total"]
    assert total["Total"] == "15"
    as_page = client.get(f"/offices/{app.config['OFFICE_ID']}/boxes/2026-10/minutes.pdf")
    assert as_page.status_code == 200 and as_page.data == pdf  # the route, the same bytes


# --- the shape ---------------------------------------------------------------------------------


@pytest.fixture
def sample() -> dict:
    from tests.test_minutes_render import make_minutes

    return make_minutes().to_json()


def test_minutes_written_before_the_phone_survey_read_back_unchanged(sample) -> None:
    for count in (sample["count"], *(s["count"] for s in sample["supplements"])):
        del count["by_criterion"], count["comments"]
    minutes = Minutes.from_json(sample)
    assert minutes.count.by_criterion is None and minutes.count.comments is None
    assert canonical_bytes(minutes.to_json()) == canonical_bytes(sample)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.pop("place"), r"minutes\.place: missing"),
        (lambda m: m.update(colour="red"), r"minutes: unknown keys colour"),
        (lambda m: m["quorum"].update(required="3"), r"minutes\.quorum\.required: expected an"),
        (lambda m: m["quorum"].update(required=True), r"minutes\.quorum\.required: expected an"),
        (lambda m: m["count"]["by_level"].update(satisfied=1.5), r"by_level\.satisfied"),
        (lambda m: m["checks"][0].update(severity="bad"), r"checks\[0\]\.severity: unknown"),
        (lambda m: m["attendees"][1].update(committee_role="king"), r"attendees\[1\]\.committee"),
        (lambda m: m.update(opened_at="2026-11-30T16:05:12"), r"opened_at: not a time with its"),
        (lambda m: m.update(opened_at="2026-11-30T16:05:12.5+07:00"), r"opened_at: not a time"),
        (lambda m: m.update(started_at="yesterday"), r"started_at: not an ISO-8601 time"),
        (lambda m: m["devices"][0].update(problem={"seq": 4}), r"devices\[0\]\.problem\.fault"),
        (lambda m: m.update(format=2), r"minutes\.format: 2, not 1"),
        (lambda m: m.update(devices={}), r"minutes\.devices: expected a list"),
    ],
)
def test_a_wrong_shape_is_refused_by_name(sample, change, message) -> None:
    change(sample)
    with pytest.raises(MinutesFormatError, match=message):
        Minutes.from_json(sample)


def test_not_json_is_refused() -> None:
    with pytest.raises(MinutesFormatError, match="not JSON"):
        Minutes.from_bytes(b"{")


def test_the_field_reference_in_the_docs_is_current() -> None:
    done = subprocess.run(
        [sys.executable, "tools/minutes_docs.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_json_round_trips_through_text(sample) -> None:
    minutes = Minutes.from_bytes(json.dumps(sample, ensure_ascii=False).encode())
    assert minutes.to_json() == sample


def test_the_model_knows_every_committee_role() -> None:
    from web.minutes import COMMITTEE_ROLES
    from web.models import CommitteeRole

    assert COMMITTEE_ROLES == CommitteeRole.ALL
