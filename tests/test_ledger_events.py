"""EVENT types and REFUSED reasons: one list in the ledger core, used by every writer,
worded for people in both languages, and documented from the code."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from hom_phieu import i18n
from hom_phieu.ledger.events import (
    EVENT_DOCS,
    EVENT_LABELS,
    REFUSAL_DOCS,
    REFUSAL_LABELS,
    EventType,
    RefusalReason,
)
from hom_phieu.ledger.grammar import MAX_CODE
from tools import ledger_docs
from web.labels import label

ROOT = Path(__file__).resolve().parents[1]
WRITERS = [*(ROOT / "kiosk").glob("*.py"), *(ROOT / "hom_phieu" / "ledger").glob("*.py"),
           *(ROOT / "web").glob("*.py")]  # fmt: skip


@pytest.mark.parametrize(
    "enum, labels, docs",
    [(EventType, EVENT_LABELS, EVENT_DOCS), (RefusalReason, REFUSAL_LABELS, REFUSAL_DOCS)],
)
def test_every_value_is_a_word_with_a_label_and_a_doc(enum, labels, docs) -> None:
    for member in enum:
        assert re.fullmatch(r"[a-z0-9_]+", member.value) and len(member.value) <= MAX_CODE
        assert labels[member].strip() and docs[member].strip(), member
    assert set(labels) == set(docs) == set(enum)


@pytest.mark.parametrize("table", [EVENT_LABELS, REFUSAL_LABELS])
def test_every_label_is_translated_into_vietnamese(table) -> None:
    before = i18n.current_language()
    i18n.set_language("vi")
    try:
        for member, words in table.items():
            shown = label(table, member.value)  # as the server's pages look it up
            assert shown != words and shown != member.value, member
    finally:
        i18n.set_language(before)


def test_no_writer_spells_a_type_or_a_reason_by_hand() -> None:
    """Writers name them through the enums: a literal would escape the list and the docs."""
    words = "|".join(m.value for m in [*EventType, *RefusalReason])
    literal = re.compile(
        rf"""(?:event|refuse|_record_event|reason=|"type":|"reason":)\(?\s*["']({words})["']"""
    )
    returned = re.compile(rf"""return\s+["']({words})["']""")
    argument = re.compile(rf"""(?:_refuse|Decision)\([^)\n]*["']({words})["']""")
    for path in WRITERS:
        if path.name == "events.py":
            continue
        text = path.read_text(encoding="utf-8")
        assert not any(p.search(text) for p in (literal, returned, argument)), path.name


def test_the_ledger_format_lists_them_from_the_code() -> None:
    text = (ROOT / "docs" / "ledger-format.md").read_text(encoding="utf-8")
    assert ledger_docs.updated(text) == text, "run: python tools/ledger_docs.py"
    assert ledger_docs.main(["--check"]) == 0
    for member in [*EventType, *RefusalReason]:
        assert f"| `{member.value}` |" in text
    assert "`debounce`" not in text  # no code writes it


def test_a_stale_list_is_named_and_rewritten(monkeypatch, tmp_path, capsys) -> None:
    doc = tmp_path / "ledger-format.md"
    doc.write_text(f"# x\n\n{ledger_docs.BEGIN}\n| `debounce` |\n{ledger_docs.END}\n", "utf-8")
    monkeypatch.setattr(ledger_docs, "DOC", doc)
    monkeypatch.setattr(ledger_docs, "ROOT", tmp_path)
    assert ledger_docs.main(["--check"]) == 1 and "stale" in capsys.readouterr().out
    assert ledger_docs.main([]) == 0 and ledger_docs.main(["--check"]) == 0
    assert "debounce" not in doc.read_text("utf-8")
    doc.write_text("# no markers\n", "utf-8")
    with pytest.raises(ValueError, match="markers"):
        ledger_docs.main(["--check"])


def test_the_tool_runs_as_a_script() -> None:
    result = subprocess.run([sys.executable, "tools/ledger_docs.py", "--check"], cwd=ROOT,
                            capture_output=True, text=True, encoding="utf-8")  # fmt: skip
    assert result.returncode == 0 and result.stdout == ""
