"""The minutes as a document a secretary signs as printed (Nghị định 30/2020/NĐ-CP): the
header (the issuing body on two lines in capitals, the national name and motto, "Số: …/BB-…",
the place and date, the title), the numbered sections made of paragraphs, sub-headings and
tables, the closing lines (when the meeting ended, how many copies) and a signature block for
every member present.

The PDF (:mod:`web.minutes_pdf`) draws this document and the printable page
(``templates/ceremony/minutes.html``) shows it: both read the same blocks, so they say the
same things. Every text is translated in the current language when the document is built;
names, places and messages are as the minutes hold them. Pure: a function of the
:class:`web.minutes.Minutes`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from hom_phieu.i18n import _
from web.labels import COMMITTEE_ROLE_LABELS, label, place_and_date
from web.minutes import Attendee, Minutes, OfficeHeader
from web.minutes_pdf_layout import MOTTO, NATION  # always Vietnamese
from web.minutes_sections import Paragraph, Section, Table, sections
from web.minutes_text import chair, clock_time, day, month, name_of, secretary

GOVERNING_BODY = "UBND"  # the unit's People's Committee, as Decree 30 abbreviates it
COPIES = 3  # kept by the office, sent to the People's Committee and to the Fatherland Front
UNIT_KINDS = ("xã", "phường", "thị trấn", "đặc khu")  # dropped from the place line


@dataclass(frozen=True, slots=True)
class Signer:
    title: str  # above the signature, in capitals
    name: str  # below it (empty: nobody holds the role)


@dataclass(frozen=True, slots=True)
class Header:
    governing_body: str  # "UBND XÃ ĐÔNG THANH"
    issuing_body: str  # "BỘ PHẬN MỘT CỬA"
    number: str  # "Số: ……/BB-BPMC" (the number is written in by hand from the register)
    nation: str
    motto: str
    place_and_date: str  # "Đông Thanh, ngày 30 tháng 11 năm 2026"
    title: str  # "BIÊN BẢN"
    subtitle: str


@dataclass(frozen=True, slots=True)
class Document:
    header: Header
    sections: tuple[Section, ...]
    closing: tuple[Paragraph, ...]
    signatures: tuple[tuple[Signer, ...], ...]  # rows: secretary and chair, then three a row
    signature_hint: str  # "(Signature and full name)"

    def texts(self) -> list[str]:
        """Every text of the document but the tables' cells, in order (for the tests that
        check that the page and the PDF say the same things)."""
        h = self.header
        found = [h.governing_body, h.issuing_body, h.number, h.nation, h.motto]
        found += [h.place_and_date, h.title, h.subtitle]
        for section in self.sections:
            found.append(section.title)
            found += [b.text for b in section.blocks if not isinstance(b, Table)]
        found += [paragraph.text for paragraph in self.closing]
        for row in self.signatures:
            found += [text for signer in row for text in (signer.title, signer.name) if text]
        return found


# --- the header ------------------------------------------------------------------------------


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


def issuing_body(office: OfficeHeader) -> tuple[str, str]:
    """The two lines of the issuing body: the unit's People's Committee (``UBND XÃ ĐÔNG
    THANH``) and the office without the unit's name it repeats (``BỘ PHẬN MỘT CỬA``)."""
    unit = unicodedata.normalize("NFC", office.unit).strip()
    upper = unit.upper()
    governing = (
        upper if upper.startswith(("UBND", "ỦY BAN", "UỶ BAN")) else f"{GOVERNING_BODY} {upper}"
    )
    name = unicodedata.normalize("NFC", office.name).strip()
    if _fold(name).endswith(_fold(unit)) and len(name) > len(unit):
        name = name[: len(name) - len(unit)].rstrip(" -–,")
    return governing, name.upper()


def abbreviation(body: str) -> str:
    """``BỘ PHẬN MỘT CỬA`` → ``BPMC``: the initials of the issuing body, for the number."""
    return "".join(word[0] for word in re.findall(r"\w+", body) if word[0].isalpha()).upper()


def place_name(place: str) -> str:
    """The place of the date line as Decree 30 writes it: the unit's name without its kind
    (``Xã Đông Thanh`` → ``Đông Thanh``), but a unit named by a number keeps it
    (``Phường 1``)."""
    stripped = place.strip()
    for kind in UNIT_KINDS:
        rest = stripped[len(kind) :].strip()
        if _fold(stripped).startswith(kind + " ") and rest and not rest[0].isdigit():
            return rest
    return stripped


def header(minutes: Minutes) -> Header:
    governing, issuing = issuing_body(minutes.office)
    return Header(
        governing_body=governing,
        issuing_body=issuing,
        number=_("No.: ……/BB-{body}").format(body=abbreviation(issuing)),
        nation=NATION,
        motto=MOTTO,
        place_and_date=place_and_date(place_name(minutes.place), minutes.opened_at.isoformat()),
        title=_("Minutes").upper(),
        subtitle=_("Opening of the satisfaction ballot box of {month}").format(
            month=month(minutes.box)
        ),
    )


# --- the closing lines and the signatures ----------------------------------------------------


def closing(minutes: Minutes) -> tuple[Paragraph, ...]:
    """Read and agreed; when the meeting ended (when the minutes were frozen: nothing is
    counted after); how many copies are made, and for whom."""
    ended = minutes.opened_at
    return (
        Paragraph(_("The minutes were read to the members present, who agreed with them.")),
        Paragraph(
            _("The meeting ended at {time} on {date}.").format(
                time=clock_time(ended), date=day(ended)
            )
        ),
        Paragraph(
            _(
                "The minutes are made in {copies} copies of equal validity: one kept by "
                "{office}, one sent to the People's Committee and one to the Fatherland Front "
                "committee."
            ).format(copies=f"{COPIES:02d}", office=minutes.office.name)
        ),
    )


def signatures(attendees: Sequence[Attendee]) -> tuple[tuple[Signer, ...], ...]:
    """The secretary on the left and the chair on the right (Decree 30), then every other
    member present, three to a row, each under their role."""
    the_secretary, the_chair = secretary(attendees), chair(attendees)
    main = (
        Signer(_("Secretary").upper(), name_of(the_secretary)),
        Signer(_("Chair").upper(), name_of(the_chair)),
    )
    others = [
        Signer(label(COMMITTEE_ROLE_LABELS, a.committee_role).upper(), a.name)
        for a in attendees
        if a is not the_secretary and a is not the_chair
    ]
    return (main, *(tuple(others[i : i + 3]) for i in range(0, len(others), 3)))


def minutes_document(minutes: Minutes) -> Document:
    """The minutes as the document both the PDF and the printable page show."""
    return Document(
        header=header(minutes),
        sections=sections(minutes),
        closing=closing(minutes),
        signatures=signatures(minutes.attendees),
        signature_hint=_("(Signature and full name)"),
    )
