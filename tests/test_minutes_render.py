"""The minutes of an opening as PDF, XLSX and CSV: every number of the content, readable
Vietnamese, the content hash on every page, and the same bytes for the same minutes."""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pypdf
import pytest
from openpyxl import load_workbook

from hom_phieu.i18n import language, set_language
from hom_phieu.ledger.records import canonical_bytes
from web.box_count import BoxCount, DeviceCheck, DeviceRef, Tally
from web.ceremony_calendar import month_end
from web.checklist import checklist
from web.minutes import Attendee, Minutes, OfficeHeader, QuorumSize
from web.minutes_build import Ceremony, ClerkInfo, build_minutes
from web.minutes_csv import minutes_csv
from web.minutes_pdf import minutes_pdf
from web.minutes_xlsx import minutes_xlsx

ROOT = Path(__file__).resolve().parent.parent
LEVELS = ("very_satisfied", "satisfied", "not_satisfied")
DEVICE_1 = "hp-7f3a9c21d0e4b5a6"
DEVICE_2 = "hp-0b1c2d3e4f5a6b7c"
HEAD_1 = "ab12cd34ef56ab78" + "9" * 48
HEAD_2 = "0f1e2d3c4b5a6978" + "8" * 48
OFFICE = OfficeHeader("DT-MC", "Bộ phận một cửa xã Đông Thanh", "Xã Đông Thanh", "Tỉnh Thanh Hóa")
CLERKS = {
    "NV01": ClerkInfo("Lê Thị Bích Ngọc", "Công chức tư pháp", "Hộ tịch"),
    "NV02": ClerkInfo("Phạm Văn Đức", "Công chức địa chính", "Đất đai"),
}  # NV09 is a code no longer in the office's list


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def levels(very: int, satisfied: int, not_satisfied: int) -> Counter[str]:
    return Counter({"very_satisfied": very, "satisfied": satisfied, "not_satisfied": not_satisfied})


def tally_of(clerks: dict[str, Counter[str]], devices: tuple[int, ...] = (1, 2)) -> Tally:
    """A tally of button ballots whose totals, devices and channels agree with its clerks;
    the devices share each level half and half."""
    tally = Tally()
    first: Counter[str] = Counter()  # each level's ballots left for the first device
    for by_level in clerks.values():
        first.update(by_level)
    first = Counter({level: n // 2 for level, n in first.items()})
    for code, by_level in clerks.items():
        for level, n in by_level.items():
            taken = min(first[level], n)
            first[level] -= taken
            tally.by_cell[code, devices[0], "button"][level] += taken
            tally.by_cell[code, devices[-1], "button"][level] += n - taken
    tally.votes = sum(tally.by_level.values())
    return tally


def device_check(pk: int, device_id: str, counter: str | None, first: int, last: int,
                 head: str | None, last_seen: str = "2026-12-01T00:00:05+07:00",
                 **state: object) -> DeviceCheck:  # fmt: skip
    """A device whose chain verified from ``first`` to ``last`` (the box's OPEN to its
    CLOSE), seen after the month ended (no warning), and whose OPEN of December is held."""
    ref = DeviceRef(pk, device_id, b"", counter or device_id, counter, at(last_seen))
    found = DeviceCheck(ref, records=last - first + 1, first_seq=first, last_seq=last,
                        chain_head=head, open_seq=first, close_seq=last, votes=1000,
                        refused=Counter({"min_gap": 12}))  # fmt: skip
    found.next_open = (last + 1, int(at(f"2026-11-30T16:{9 + pk}:00+07:00").timestamp() * 1000))
    for name, value in state.items():
        setattr(found, name, value)
    return found


def attendee(name: str, role: str, minute: int) -> Attendee:
    return Attendee(name, role, at(f"2026-11-30T15:{minute:02d}:10+07:00"))


def make_minutes(clerk_count: int = 0, *, empty: bool = False, clerks=None, criteria=None,
                 comments=(), **ceremony: object) -> Minutes:  # fmt: skip
    """Minutes written by the real builder (:func:`web.minutes_build.build_minutes`) from a
    count and its real checklist: 2 000 ballots, 1 267 of them very satisfied (63,35%);
    Quầy 2 has not synced since the month ended and had a burst of presses (warnings). With
    ``clerk_count``, that many more clerks (to make the tables long); ``empty``: no ballot,
    no late ones, Quầy 2 without records or counter."""
    names = dict(CLERKS if clerks is None else clerks)
    by_clerk = {"NV01": levels(700, 250, 10), "NV02": levels(500, 400, 20),
                "NV09": levels(67, 50, 3)}  # fmt: skip
    for n in range(clerk_count):
        names[f"NV{100 + n}"] = ClerkInfo(f"Công chức số {n:02d}", "Công chức", "Hộ tịch")
        by_clerk[f"NV{100 + n}"] = levels(n, 1, 0)
    count = BoxCount("2026-11", main=tally_of({} if empty else by_clerk))
    for criterion, by_level in (criteria or {}).items():
        count.main.by_criterion[criterion].update(by_level)
    count.main.comments.extend(comments)
    if not empty:
        count.supplements["2026-10"] = tally_of({"NV01": levels(3, 1, 0)}, (1,))
    first = device_check(1, DEVICE_1, "Quầy 1", 120, 1131, HEAD_1)
    offline = "2026-11-12T08:00:00+07:00"  # Quầy 2 has not synced since: a warning
    second = (
        device_check(2, DEVICE_2, None, 0, 0, None, offline, records=0, first_seq=None,
                     last_seq=None, open_seq=None, close_seq=None, votes=0,
                     refused=Counter(), next_open=None)
        if empty
        else device_check(2, DEVICE_2, "Quầy 2", 88, 1096, HEAD_2, offline,
                          refused=Counter({"min_gap": 12, "burst": 3}))
    )  # fmt: skip
    count.devices += [first, second]
    if empty:
        first.next_open = None
    with language("vi"):  # the minutes are written in Vietnamese
        checks = checklist(count, month_end("2026-11"))
    facts = Ceremony(
        office=OFFICE,
        box="2026-11",
        started_at=at("2026-11-30T15:45:00+07:00"),
        opened_at=at("2026-11-30T16:05:12+07:00"),
        place="Xã Đông Thanh",
        early_reason=None,
        warnings_reason="Quầy 2 mất điện ngày 12/11; Hội đồng thống nhất vẫn mở hòm phiếu.",
        dossiers_returned=0 if empty else 2359,
        quorum=QuorumSize(3, 5),
        attendees=(
            attendee("Nguyễn Văn Ễnh", "ubnd_leader", 46),
            attendee("Trần Thị Hằng", "secretary", 47),
            attendee("Lê Văn Dũng", "mttq_chair", 48),
            attendee("Hoàng Thị Phượng", "union_rep", 50),
            attendee("Đặng Quốc Việt", "one_stop_clerk", 51),
        )[: 1 if empty else 5],
    )
    return build_minutes(replace(facts, **ceremony), count, checks, names)


def content_hash(minutes: Minutes) -> str:
    return hashlib.sha256(canonical_bytes(minutes.to_json())).hexdigest()


def warning_of(minutes: Minutes, device_id: str, code: str) -> str:
    [check] = [c for c in minutes.checks if c.device_id == device_id and c.code == code]
    assert check.severity == "warning"
    return check.message


@pytest.fixture
def minutes() -> Minutes:
    return make_minutes()


@pytest.fixture
def vietnamese() -> Iterator[None]:
    set_language("vi")
    yield
    set_language("en")


def pdf_pages(data: bytes) -> list[str]:
    """The text of each page, its lines joined: a paragraph wraps where the page width says."""
    pages = pypdf.PdfReader(io.BytesIO(data)).pages
    return [" ".join(page.extract_text().split()) for page in pages]


# --- PDF --------------------------------------------------------------------------------------


def test_pdf_holds_the_header_names_numbers_and_hash(minutes: Minutes) -> None:
    digest = content_hash(minutes)
    pages = pdf_pages(minutes_pdf(minutes, digest))
    text = "\n".join(pages)
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text
    assert "Độc lập – Tự do – Hạnh phúc" in text
    assert "UBND XÃ ĐÔNG THANH BỘ PHẬN MỘT CỬA" in text  # the issuing body on two lines
    assert "No.: ……/BB-BPMC" in text
    assert "Bộ phận một cửa xã Đông Thanh" in text
    for name in ("Nguyễn Văn Ễnh", "Trần Thị Hằng", "Lê Văn Dũng", "Hoàng Thị Phượng"):
        assert name in text
    assert "Đông Thanh, 30/11/2026" in text and "Xã Đông Thanh, 30" not in text
    assert "MINUTES" in text
    assert "Opening of the satisfaction ballot box of 11/2026" in text
    assert "1267 (63,35%)" in text  # the very satisfied of the whole box
    assert "63,35%" in text
    assert "participation rate: 84,78%" in text  # 2 000 of 2 359 dossiers
    assert "At 15:45 on 30/11/2026" in text  # the ceremony started …
    assert "At 16:05 on 30/11/2026" in text  # … and the box was opened
    assert "15:46 on 30/11/2026" in text  # the first confirmation
    assert "5 of the 5 members of the committee are present (quorum: 3)" in text
    assert f"Quầy 2: Warning: {warning_of(minutes, DEVICE_2, 'sync')}" in text
    chain_ok = [c.message for c in minutes.checks if c.code == "chain" and c.severity == "ok"]
    assert chain_ok and not any(message in text for message in chain_ok)  # ok: not listed
    assert HEAD_1[:16] in text
    assert minutes.warnings_reason and minutes.warnings_reason in text
    assert "Box 10/2026: 4 ballots" in text  # the supplement
    assert "is the cut-off of the box of 11/2026" in text  # opened on its due day
    assert "The ballot box of 12/2026 opens on 01/12/2026, when the month begins." in text
    assert "has been sealed and is receiving ballots" not in text
    assert "NV09 (not in the list)" in text
    assert "SECRETARY" in text and "CHAIR" in text and "(Signature and full name)" in text
    assert "The meeting ended at 16:05 on 30/11/2026." in text
    assert "made in 03 copies" in text
    for role in ("FATHERLAND FRONT CHAIR", "TRADE UNION REPRESENTATIVE", "ONE-STOP CLERK"):
        assert role in text  # a signature block for every member present
    for number, page in enumerate(pages, start=1):
        assert f"Content check code (SHA-256): {digest}" in page
        assert f"Page {number}/{len(pages)}" in page


def test_pdf_in_vietnamese_keeps_diacritics_and_dates(minutes: Minutes, vietnamese: None) -> None:
    text = "\n".join(pdf_pages(minutes_pdf(minutes, content_hash(minutes))))
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text
    for name in ("Nguyễn Văn Ễnh", "Trần Thị Hằng", "Lê Văn Dũng", "Đặng Quốc Việt"):
        assert name in text
    assert "Rất hài lòng" in text  # a level name the catalog already translates
    assert "Thư ký" in text
    assert "63,35%" in text
    assert "30/11/2026" in text
    assert "Quầy 2 mất điện ngày 12/11" in text


def test_a_long_table_repeats_its_header_on_the_next_page() -> None:
    minutes = make_minutes(clerk_count=60)
    pages = pdf_pages(minutes_pdf(minutes, content_hash(minutes)))
    first = next(n for n, page in enumerate(pages) if "Công chức số 00" in page)
    last = next(n for n, page in enumerate(pages) if "Công chức số 59" in page)
    assert last > first
    for page in pages[first + 1 : last + 1]:
        assert "Results by clerk" not in page  # the table goes on …
        assert page.index("Very satisfied") < page.index("Công chức số")  # … under its header


def test_pdf_embeds_liberation_serif_subsets(minutes: Minutes) -> None:
    reader = pypdf.PdfReader(io.BytesIO(minutes_pdf(minutes, content_hash(minutes))))
    fonts = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            fonts.add(str(font["/BaseFont"]))
            descendant = font["/DescendantFonts"][0].get_object()
            assert "/FontFile2" in descendant["/FontDescriptor"]  # embedded, not referenced
    assert fonts and all("LiberationSerif" in font for font in fonts)
    assert any("Bold" in font for font in fonts) and any("Italic" in font for font in fonts)


def test_the_same_minutes_give_the_same_pdf(minutes: Minutes) -> None:
    digest = content_hash(minutes)
    first = minutes_pdf(minutes, digest)
    assert minutes_pdf(copy.deepcopy(minutes), digest) == first
    other = make_minutes(clerks={**CLERKS, "NV01": replace(CLERKS["NV01"], name="Lê Thị Bích")})
    assert minutes_pdf(other, content_hash(other)) != first


def test_another_process_renders_the_same_bytes(minutes: Minutes) -> None:
    """No set or dict order leaks into the PDF (string hashing differs between processes)."""
    script = (
        "import json, sys; from hom_phieu.i18n import set_language; set_language('en'); "
        "from web.minutes import Minutes; from web.minutes_pdf import minutes_pdf; "
        "minutes = Minutes.from_json(json.load(sys.stdin)); "
        "sys.stdout.buffer.write(minutes_pdf(minutes, sys.argv[1]))"
    )
    digest = content_hash(minutes)
    done = subprocess.run(
        [sys.executable, "-c", script, digest],
        input=json.dumps(minutes.to_json()).encode(),
        capture_output=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    )
    assert done.stdout == minutes_pdf(minutes, digest)


def test_decomposed_names_are_composed(minutes: Minutes) -> None:
    decomposed = replace(minutes.attendees[0], name=unicodedata.normalize("NFD", "Nguyễn Văn Ễnh"))
    minutes = replace(minutes, attendees=(decomposed, *minutes.attendees[1:]))
    text = "\n".join(pdf_pages(minutes_pdf(minutes, content_hash(minutes))))
    assert "Nguyễn Văn Ễnh" in text


def test_the_deputy_chairs_without_the_leader_and_early_reasons_are_told(
    minutes: Minutes,
) -> None:
    deputy = replace(minutes.attendees[0], committee_role="ubnd_deputy")
    minutes = make_minutes(
        attendees=(deputy, *minutes.attendees[1:]),
        early_reason="Nghỉ lễ từ ngày 01/12.",
        opened_at=at("2026-03-05T09:00:00+07:00"),  # dd/mm/yyyy in English
    )
    text = "\n".join(pdf_pages(minutes_pdf(minutes, content_hash(minutes))))
    assert "Đông Thanh, 05/03/2026" in text
    assert "because: Nghỉ lễ từ ngày 01/12." in text
    signatures = text[text.index("CHAIR") :]
    assert signatures.index("Nguyễn Văn Ễnh") < signatures.index("FATHERLAND FRONT CHAIR")


def test_an_empty_box_renders_everywhere() -> None:
    """No ballots, no late ones, a device without records, no secretary: nothing divides by 0."""
    minutes = make_minutes(empty=True)
    assert minutes.count.votes == 0 and not minutes.supplements
    assert minutes.devices[1].counter is None and minutes.devices[1].chain_head is None
    assert not minutes.next_box.devices and minutes.dossiers_returned == 0
    text = "\n".join(pdf_pages(minutes_pdf(minutes, content_hash(minutes))))
    assert "0 (0,00%)" in text and "Late ballots" not in text
    assert "4. The next ballot box" in text
    assert "The ballot box of 12/2026 opens on 01/12/2026" in text  # the due day: no device yet
    assert "No device has reported the opening of this box yet." not in text
    workbook = load_workbook(io.BytesIO(minutes_xlsx(minutes, content_hash(minutes))))
    assert "Checks" in workbook.sheetnames and len(workbook.sheetnames) == 7
    rows = list(csv.reader(io.StringIO(minutes_csv(minutes).removeprefix("\ufeff"))))
    assert rows[-1] == ["Total", "", "", "0", "0", "0", "0"]


# --- XLSX -------------------------------------------------------------------------------------


def sheet_rows(sheet) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


def test_xlsx_numbers_are_the_minutes_numbers(minutes: Minutes) -> None:
    digest = content_hash(minutes)
    workbook = load_workbook(io.BytesIO(minutes_xlsx(minutes, digest)))
    assert workbook.sheetnames == [
        "Summary", "By clerk", "By counter", "By procedure field", "By channel",
        "By clerk and channel", "Checks", "Late ballots 2026-10",
    ]  # fmt: skip
    summary = {row[0]: row[1:] for row in sheet_rows(workbook["Summary"]) if row and row[0]}
    assert summary["Content check code (SHA-256)"][0] == digest
    assert summary["Ballots"][0] == 2000
    assert summary["Very satisfied"][:2] == (1267, pytest.approx(0.6335))
    assert summary["Not satisfied"][0] == 33
    assert summary["Participation rate"][0] == pytest.approx(2000 / 2359)
    assert workbook["Summary"]["B1"].font.b is False and workbook["Summary"]["A1"].font.b
    shares = [row[2] for row in workbook["Summary"].iter_rows() if row[0].value == "Very satisfied"]
    assert shares[0].number_format == "0.00%"

    clerks = workbook["By clerk"]
    header, *rows, total = sheet_rows(clerks)
    assert header[:4] == ("Code", "Full name", "Title", "Very satisfied")
    assert all(cell.font.b for cell in clerks[1])
    for clerk, got in zip(minutes.count.by_clerk, rows, strict=True):
        assert got[0] == clerk.key and (got[1] or "") == clerk.name
        for index, level in enumerate(LEVELS):
            value, share = got[3 + 2 * index], got[4 + 2 * index]
            assert value == clerk.by_level[level] and isinstance(value, int)
            assert share == pytest.approx(clerk.by_level[level] / clerk.votes)
        assert got[-1] == clerk.votes
    assert total[0] == "Total" and total[-1] == 2000 and total[3] == 1267
    assert clerks.cell(2, 5).number_format == "0.00%"
    assert clerks.column_dimensions["B"].width > 10

    counters = sheet_rows(workbook["By counter"])
    assert [row[0] for row in counters] == ["Counter", "Quầy 1", "Quầy 2", "Total"]
    assert counters[1][-1] + counters[2][-1] == 2000
    assert sheet_rows(workbook["By channel"])[1][0] == "buttons at the counter"

    checks = sheet_rows(workbook["Checks"])
    assert checks[1][:5] == ("Quầy 1", "Quầy 1", "ok", HEAD_1, 1012)
    assert checks[2][2] == "warning"
    assert ("Quầy 2", "synchronisation", "warning", warning_of(minutes, DEVICE_2, "sync")) in [
        row[:4] for row in checks
    ]

    late = sheet_rows(workbook["Late ballots 2026-10"])
    assert late[1][:2] == ("Very satisfied", 3)
    assert late[4][:2] == ("Total", 4)


def test_xlsx_in_vietnamese_keeps_names(minutes: Minutes, vietnamese: None) -> None:
    workbook = load_workbook(io.BytesIO(minutes_xlsx(minutes, content_hash(minutes))))
    values = {cell for sheet in workbook for row in sheet_rows(sheet) for cell in row}
    assert {"Nguyễn Văn Ễnh", "Lê Thị Bích Ngọc", "Bộ phận một cửa xã Đông Thanh"} <= values
    assert "Rất hài lòng" in values


# --- CSV --------------------------------------------------------------------------------------


def test_csv_numbers_are_the_minutes_numbers(minutes: Minutes) -> None:
    text = minutes_csv(minutes)
    assert text.startswith("\ufeff") and "\r\n" in text
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    words = ("Very satisfied", "Satisfied", "Not satisfied")
    assert list(rows[0]) == ["Section", "Code", "Name", *words, "Total"]  # words, not codes
    clerks = [row for row in rows if row["Section"] == "By clerk"]
    assert [row["Name"] for row in clerks] == [c.name for c in minutes.count.by_clerk]
    for row, clerk in zip(clerks, minutes.count.by_clerk, strict=True):
        assert row["Code"] == clerk.key
        assert [int(row[word]) for word in words] == [clerk.by_level[lv] for lv in LEVELS]
        assert int(row["Total"]) == clerk.votes
    (total,) = [row for row in rows if row["Section"] == "Total"]
    assert (int(total["Very satisfied"]), int(total["Total"])) == (1267, 2000)
    sections = {row["Section"] for row in rows}
    late_clerks = "Late ballots 10/2026 – By clerk"
    assert {"By counter", "By procedure field", "By channel", late_clerks} <= sections
    (late,) = [row for row in rows if row["Section"] == late_clerks]
    assert (late["Name"], late["Total"]) == ("Lê Thị Bích Ngọc", "4")


def test_csv_bytes_read_back_as_utf8_with_bom(minutes: Minutes) -> None:
    data = minutes_csv(minutes).encode("utf-8")
    assert data.startswith(b"\xef\xbb\xbf")
    assert "Phạm Văn Đức" in data.decode("utf-8-sig")


def test_phone_comments_stay_text_in_the_workbook() -> None:
    formula = '=HYPERLINK("http://example.invalid","bấm vào đây")'
    minutes = make_minutes(comments=[("NV01", formula)], criteria={"Thái độ": levels(1, 1, 0)})
    assert minutes.count.comments and minutes.count.comments[0].name == "Lê Thị Bích Ngọc"
    assert minutes.count.by_criterion and minutes.count.by_criterion[0].votes == 2
    workbook = load_workbook(io.BytesIO(minutes_xlsx(minutes, "ab" * 32)))
    cells = [cell for sheet in workbook.worksheets for row in sheet.iter_rows() for cell in row]
    found = [cell for cell in cells if cell.value == formula]
    assert found and all(cell.data_type == "s" for cell in found)
    assert any(cell.value == "Thái độ" for cell in cells)
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(
        io.BytesIO(minutes_pdf(minutes, "ab" * 32))).pages)  # fmt: skip
    assert "bấm vào đây" in " ".join(text.split())


def test_csv_cells_never_become_formulas() -> None:
    """Names typed by an administrator (or an attacker with that role) stay text in a
    spreadsheet: a cell that starts like a formula gets a leading apostrophe."""
    formula = '=HYPERLINK("http://example.invalid","bấm vào đây")'
    clerks = {**dict(CLERKS), "NV01": ClerkInfo(formula, "Công chức", "Hộ tịch")}
    minutes = make_minutes(clerks=clerks, criteria={"+1 thái độ": levels(1, 0, 0)})
    rows = list(csv.reader(io.StringIO(minutes_csv(minutes).removeprefix("\ufeff"))))
    cells = [cell for row in rows for cell in row]
    assert "'" + formula in cells and formula not in cells
    assert "'+1 thái độ" in cells
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "@")]
