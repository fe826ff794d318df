"""Vietnamese first: every message is translated, compiled, and keeps its placeholders."""

from __future__ import annotations

import re
import string
import unicodedata

from babel.messages.pofile import read_po

from hom_phieu.i18n import _, set_language
from hom_phieu.ledger.faults import Fault, Problem
from tools import catalogs


def test_every_message_has_a_current_vietnamese_translation() -> None:
    assert catalogs.problems(catalogs.extract(), "vi") == []


def test_translations_keep_placeholders_and_are_nfc() -> None:
    with catalogs.po_path("vi").open("rb") as handle:
        catalog = read_po(handle, locale="vi")
    fields = string.Formatter()
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = {name for text in ids for _, name, _, _ in fields.parse(text) if name}
        for text in strings:
            got = {name for _, name, _, _ in fields.parse(text) if name is not None}
            assert got <= wanted and (got or not wanted), message.id
            assert unicodedata.is_normalized("NFC", text), message.id


def test_problems_read_in_vietnamese() -> None:
    problem = Problem(4, 4, Fault.REMOVED, "x")
    set_language("vi")
    text = str(problem)
    assert text.startswith("bản ghi 4: bị xóa")
    set_language("en")
    assert str(problem).startswith("record 4: removed")
    assert re.search(r"[ạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹđ]", text)
    assert _("unreadable") == "unreadable"


def test_a_catalog_compiled_by_another_babel_is_not_stale() -> None:
    """The check compares messages: a fresh install's Babel writes another header."""
    catalog = catalogs.load_po("vi")
    catalog.version = "another"  # the header changes (as "Generated-By" does) …
    other = catalogs.mo_bytes(catalog)
    assert other != catalogs.mo_bytes(catalogs.load_po("vi"))
    assert catalogs.mo_messages(other) == catalogs.mo_messages(
        catalogs.mo_bytes(catalogs.load_po("vi"))
    )
    catalog.get("unreadable").string = "khác"  # … a changed translation still counts
    assert catalogs.mo_messages(catalogs.mo_bytes(catalog)) != catalogs.mo_messages(other)
