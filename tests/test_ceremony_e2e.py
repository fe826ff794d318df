"""Acceptance: a month at the counter, from the citizen's press to the printed minutes.

Real components only, on loopback: the admin server (``hom-phieu web serve``, waitress),
a kiosk provisioned with ``hom-phieu kiosk provision`` and run with ``hom-phieu kiosk run
--simulate`` (pressed through its virtual panel, on a simulated clock), the sync protocol
between them, and the committee's opening ceremony over HTTP. The count in the minutes
must be exactly what the kiosk's answers said was counted, and the PDF, XLSX and CSV must
say the same.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
import unicodedata
from collections import Counter
from pathlib import Path

import openpyxl
import pypdf
from sqlalchemy import select

from hom_phieu.demo import CLERKS, SCALE
from hom_phieu.formatting import percent
from hom_phieu.ledger.records import record_hash
from hom_phieu.ledger.store import LedgerStore
from kiosk.provision import load_link
from tests.ceremony_helpers import CODE, review_token_of, seed_kiosk_office
from tests.kiosk_helpers import provision
from tests.kiosk_process import KioskProcess
from tests.web_helpers import PASSWORD
from tests.web_process import Browser, WebProcess
from web import create_app
from web import db as web_db
from web.models import Device
from web.services import close_app

LEVEL_OF = {name: level for name, _label, level in SCALE}
LEVELS = ("very_satisfied", "satisfied", "not_satisfied")
CLERK_NAMES = {code: name for code, name, _title in CLERKS}
BOX = "2026-10"
BURST_WINDOW_S = 2
# Quick presses (no minimum gap) but a small burst limit, so that pressing fast is
# refused as a burst, the one refusal the checklist turns into a warning; a short hold
# limit, for a refused "held" press; a served button, for the clerk-on-duty gesture.
KIOSK_TOML = f"""
[served_button]
pin = 23

[anti_stuffing]
bounce_ms = 10
min_gap_ms = 0
burst_count = 4
burst_window_s = {BURST_WINDOW_S}
hold_ms = 300
gesture_s = 2

[server]
sync_interval_s = 5
"""
GESTURE_HOLD_MS = 2300  # longer than gesture_s


class Counting:
    """Presses buttons and keeps what the kiosk said it counted, clerk by clerk."""

    def __init__(self, kiosk: KioskProcess) -> None:
        self.kiosk = kiosk
        self.votes: dict[str, Counter] = {}  # box -> Counter((clerk, level))
        self.refused: Counter = Counter()  # reason -> presses

    def on_duty(self) -> str:
        return self.kiosk.get("/api/state")["clerk_on_duty"]["id"]

    def vote(self, button: str, n: int = 1) -> None:
        """``n`` ballots for ``button``: pressed quickly, so that some are refused as a
        burst; each refused press is noted, and pressed again once the window has passed."""
        state = self.kiosk.get("/api/state")
        box, clerk = state["box"]["box"], state["clerk_on_duty"]["id"]
        counted = 0
        while counted < n:
            answer = self.kiosk.press(button)
            if answer["outcome"] == "vote":
                self.votes.setdefault(box, Counter())[(clerk, LEVEL_OF[button])] += 1
                counted += 1
                continue
            assert answer["outcome"] == "refused" and answer["reason"] == "burst", answer
            self.refused["burst"] += 1
            time.sleep(BURST_WINDOW_S + 0.1)

    def lean_on(self, button: str) -> None:
        """Held past hold_ms: refused, never a ballot."""
        answer = self.kiosk.press(button, hold_ms=700)
        assert answer["outcome"] == "refused" and answer["reason"] == "held", answer
        self.refused["held"] += 1

    def next_clerk(self) -> None:
        """The clerk's gesture: hold *served*, a short press for the next clerk, hold again."""
        for hold_ms, outcome in [(GESTURE_HOLD_MS, "select_start"), (60, "select_next"),
                                 (GESTURE_HOLD_MS, "select_confirm")]:  # fmt: skip
            answer = self.kiosk.post("/api/served", {"hold_ms": hold_ms})
            assert answer["outcome"] == outcome, answer

    def by_clerk(self, box: str) -> dict[str, dict[str, int]]:
        table: dict[str, dict[str, int]] = {}
        for (clerk, level), n in self.votes.get(box, Counter()).items():
            table.setdefault(clerk, dict.fromkeys(LEVELS, 0))[level] += n
        return table


def wait_until_synced(app, ledger: Path, device_id: str, timeout_s: float = 30) -> int:
    """Until the server holds every record of the kiosk's ledger; the number of records."""
    deadline = time.monotonic() + timeout_s
    while True:
        store = LedgerStore(ledger, readonly=True)
        try:
            rows = store.rows()
        finally:
            store.close()
        with app.app_context():
            device = web_db.session().scalar(select(Device).where(Device.device_id == device_id))
            held = (device.head_seq, device.head_hash)
        if rows and held == (rows[-1].seq, record_hash(rows[-1].data)):
            return len(rows)
        assert time.monotonic() < deadline, f"the server holds {held[0]} of {len(rows)} records"
        time.sleep(0.2)


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return unicodedata.normalize("NFC", "\n".join(page.extract_text() for page in reader.pages))


def clerk_rows(workbook) -> dict[str, list[list[int]]]:
    """Every row of every sheet that names a clerk: its counts (the numbers not formatted as
    percentages; a share of 0 reads back as the integer 0), in order."""
    found: dict[str, list[list[int]]] = {}
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            values = [cell.value for cell in row]
            counts = [
                cell.value
                for cell in row
                if isinstance(cell.value, int | float) and not isinstance(cell.value, bool)
                and "%" not in cell.number_format
            ]  # fmt: skip
            for code, name in CLERK_NAMES.items():
                if name in values:
                    found.setdefault(code, []).append(counts)
    return found


def test_a_month_at_the_counter_is_opened_and_minuted_exactly(isolated_home: Path, tmp_path):
    database_url = f"sqlite:///{isolated_home / 'server' / 'hom-phieu.sqlite3'}"
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "SECRET_KEY": "test"})
    web_db.upgrade(database_url)
    office_id, enrollment_code = seed_kiosk_office(app)
    config = tmp_path / "kiosk.toml"
    config.write_text(KIOSK_TOML, encoding="utf-8")
    server = kiosk = exit_code = None
    try:
        # The server's date: the Monday after October's last working day (the kiosk
        # below replays October 30 and sees November start).
        server = WebProcess(isolated_home, env={"HOM_PHIEU_DATABASE_URL": database_url},
                            clock="2026-11-02T09:00:00+07:00")  # fmt: skip
        provision(isolated_home, config, server.url, enrollment_code)
        link = load_link()
        assert link is not None and link.counter == "Quầy 1"
        assert [c.id for c in link.config.clerks] == ["binh", "lan"]

        # --- October at the counter ---------------------------------------------------------
        kiosk = KioskProcess(isolated_home, "--clock", "2026-10-30T07:55:00+07:00",
                                  "--config", str(config))  # fmt: skip
        clock = kiosk.post("/api/clock", {"now": "2026-10-30T08:00:00+07:00", "synced": True})
        assert clock["now"].startswith("2026-10-30T08:00") and clock["synced"] is True
        state = kiosk.get("/api/state")
        assert state["box"] == {"box": BOX, "ballots": 0, "refused_presses": 0}
        assert state["device_id"] == link.device_id
        counting = Counting(kiosk)
        assert counting.on_duty() == "lan"
        counting.vote("rat_hai_long", 3)
        counting.vote("hai_long", 2)  # the fifth quick press is refused as a burst
        counting.lean_on("khong_hai_long")
        counting.vote("rat_hai_long", 2)
        counting.vote("hai_long", 2)
        counting.next_clerk()
        assert counting.on_duty() == "binh"
        counting.vote("hai_long", 3)
        counting.vote("khong_hai_long", 2)
        counting.vote("rat_hai_long", 1)
        october = counting.by_clerk(BOX)
        assert october == {
            "lan": {"very_satisfied": 5, "satisfied": 4, "not_satisfied": 0},
            "binh": {"very_satisfied": 1, "satisfied": 3, "not_satisfied": 2},
        }
        assert counting.refused["burst"] >= 1 and counting.refused["held"] == 1
        state = kiosk.get("/api/state")
        assert state["box"]["ballots"] == 15
        assert state["box"]["refused_presses"] == sum(counting.refused.values())

        # --- 2 November: the kiosk seals October and opens November ---------------------------
        # (a jump of days is followed only when the server's signed time confirms it)
        kiosk.post("/api/clock", {"now": "2026-11-02T09:00:00+07:00", "synced": True})
        deadline = time.monotonic() + 10  # the main loop looks at the month once a second
        while kiosk.get("/api/state")["box"] != {"box": "2026-11", "ballots": 0,
                                                 "refused_presses": 0}:  # fmt: skip
            assert time.monotonic() < deadline, "the kiosk did not close October"
            time.sleep(0.1)
        counting.vote("khong_hai_long")
        assert counting.by_clerk("2026-11") == {
            "binh": {"very_satisfied": 0, "satisfied": 0, "not_satisfied": 1}
        }
        records = wait_until_synced(app, isolated_home / "kiosk" / "ballot-box.sqlite3",
                                    link.device_id)  # fmt: skip

        # --- the ceremony, on the real server ------------------------------------------------
        box_page = f"/offices/{office_id}/boxes/{BOX}"
        secretary = Browser(server.url)
        status, _ = secretary.post("/login", "/login", username="thu-ky", password=PASSWORD)
        assert status == 302
        status, page = secretary.get(box_page + "?lang=en")
        assert status == 200
        assert "Sealed: 15 ballots from 1 devices" in page.decode()
        assert "Very satisfied" not in page.decode()  # sealed: no level is named yet
        assert secretary.post(box_page + "/start", box_page)[0] == 302  # no early reason
        for username in ("chu-tich", "mttq", "thu-ky"):
            status, answer = secretary.post(box_page + "/confirm", box_page, username=username,
                                            password=PASSWORD, code=CODE)  # fmt: skip
            assert status == 302, answer
        status, checks = secretary.get(box_page + "?verify=1")
        assert status == 200
        assert "chain intact" in checks.decode()
        assert f"too many votes in a short time: {counting.refused['burst']}" in checks.decode()
        status, refused = secretary.post(box_page + "/review", box_page, dossiers_returned="20")
        assert status == 400 and "give the reason" in refused  # the burst is a warning
        figures = {"dossiers_returned": "20",
                   "warnings_reason": "Bấm liên tục nhiều lần, đã kiểm tra camera"}  # fmt: skip
        status, summary = secretary.post(box_page + "/review", box_page, **figures)
        assert status == 200, summary
        status, answer = secretary.post(box_page + "/open", box_page, **figures,
                                        review_token=review_token_of(summary))  # fmt: skip
        assert status == 302, answer

        # --- the minutes: the content ---------------------------------------------------------
        status, raw = secretary.get(box_page + "/minutes.json")
        assert status == 200
        minutes = json.loads(raw)
        count = minutes["count"]
        assert {row["key"]: row["by_level"] for row in count["by_clerk"]} == october
        assert {row["key"]: row["name"] for row in count["by_clerk"]} == {
            clerk: CLERK_NAMES[clerk] for clerk in october
        }
        assert count["votes"] == 15  # not November's ballot
        assert count["by_level"] == {"very_satisfied": 6, "satisfied": 7, "not_satisfied": 2}
        assert [a["committee_role"] for a in minutes["attendees"]] == [
            "ubnd_leader", "mttq_chair", "secretary"]  # fmt: skip
        assert minutes["office"]["unit"] == "Xã Đông Thanh"
        assert minutes["warnings_reason"].startswith("Bấm liên tục")
        # The kiosk, and the office's phone-survey ledger (no answer in October).
        [device] = [d for d in minutes["devices"] if d["device_id"] == link.device_id]
        assert len(minutes["devices"]) == 2
        assert device["device_id"] == link.device_id and device["counter"] == "Quầy 1"
        assert device["votes"] == 15 and device["problem"] is None
        assert device["refused"] == dict(sorted(counting.refused.items()))
        assert device["open_seq"] is not None and device["close_seq"] is not None
        assert device["close_seq"] < records  # November's records came after
        warnings = {(c["code"], c["severity"]) for c in minutes["checks"] if c["severity"] != "ok"}
        assert warnings == {("refused", "warning")}
        assert minutes["next_box"]["devices"][0]["open_seq"] == device["close_seq"] + 1
        content_hash = hashlib.sha256(raw).hexdigest()

        # --- the minutes: the PDF, in Vietnamese ------------------------------------------------
        secretary.get("/?lang=vi")
        status, pdf = secretary.get(box_page + "/minutes.pdf")
        assert status == 200 and pdf.startswith(b"%PDF"), pdf[:300]
        text = pdf_text(pdf)
        flat = " ".join(text.split())
        assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in flat
        assert "Độc lập" in flat and "BIÊN BẢN" in flat
        assert "Xã Đông Thanh" in flat and "Bộ phận một cửa Xã Đông Thanh" in flat
        for name in [*CLERK_NAMES.values(), "Nguyễn Văn Ễnh", "Đỗ Thị Thư"]:  # clerks, signers
            assert name in flat
        lan_very = percent(october["lan"]["very_satisfied"], sum(october["lan"].values()))
        assert lan_very == "55,56%" and f"5 ({lan_very})" in flat  # lan's row: 5 of 9
        assert percent(count["by_level"]["very_satisfied"], count["votes"]) in flat  # 40,00%
        assert content_hash in flat.replace(" ", "")

        # --- the minutes: the workbook and the CSV ----------------------------------------------
        status, xlsx = secretary.get(box_page + "/minutes.xlsx")
        assert status == 200
        rows = clerk_rows(openpyxl.load_workbook(io.BytesIO(xlsx)))
        assert set(rows) == set(october)
        for clerk, levels in october.items():
            expected = [*(levels[level] for level in LEVELS), sum(levels.values())]
            assert rows[clerk] and all(numbers == expected for numbers in rows[clerk]), rows
        status, csv_bytes = secretary.get(box_page + "/minutes.csv")
        assert status == 200
        header, *table = csv.reader(io.StringIO(csv_bytes.decode("utf-8-sig")))
        assert header[:3] == ["Phần", "Mã", "Tên"]  # in words, in Vietnamese
        by_clerk = {r[1]: dict(zip(LEVELS, map(int, r[3:6]), strict=True))
                    for r in table if r[0] == "Theo công chức"}  # fmt: skip
        assert by_clerk == october
        [total] = [r for r in table if r[0] == "Tổng cộng"]
        assert int(total[-1]) == 15
    finally:
        try:
            if kiosk is not None:
                exit_code = kiosk.terminate()
        finally:
            if server is not None:
                server.stop()
            close_app(app)
    assert exit_code == 0, "".join(kiosk.lines)[-3000:]  # SIGTERM: a clean stop
