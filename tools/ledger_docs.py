"""Keep docs/ledger-format.md's lists of EVENT types and REFUSED reasons in step with the code.

    python tools/ledger_docs.py          # rewrite the block between the marker comments
    python tools/ledger_docs.py --check  # exit 1 (saying so) when the block is stale

The lists come from ``hom_phieu.ledger.events`` (the enums every writer uses); the rest of
the page is written by hand.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from hom_phieu.ledger.events import (  # noqa: E402
    EVENT_DOCS,
    EVENT_LABELS,
    REFUSAL_DOCS,
    REFUSAL_LABELS,
    EventType,
    RefusalReason,
)
from tools import generated_docs  # noqa: E402
from tools.generated_docs import between_markers  # noqa: E402

DOC = ROOT / "docs" / "ledger-format.md"
BEGIN = "<!-- BEGIN event types and refusal reasons: made by tools/ledger_docs.py -->"
END = "<!-- END event types and refusal reasons -->"


def render_block() -> str:
    """The generated Markdown, markers included (always English)."""
    lines = [
        BEGIN,
        "",
        "EVENT `type`s this software writes (a reader accepts any word there):",
        "",
        "| `type` | words for people | when, and its further fields |",
        "|---|---|---|",
    ]
    lines += [f"| `{t.value}` | {EVENT_LABELS[t]} | {EVENT_DOCS[t]} |" for t in EventType]
    lines += [
        "",
        "REFUSED `reason`s this software writes (a reader accepts any word there):",
        "",
        "| `reason` | words for people | when, and its further fields |",
        "|---|---|---|",
    ]
    lines += [f"| `{r.value}` | {REFUSAL_LABELS[r]} | {REFUSAL_DOCS[r]} |" for r in RefusalReason]
    lines += ["", END]
    return "\n".join(lines)


def updated(text: str) -> str:
    return between_markers(text, BEGIN, END, render_block(), DOC.name)


def main(argv: list[str] | None = None) -> int:
    return generated_docs.main(DOC, updated, "tools/ledger_docs.py", argv)


if __name__ == "__main__":
    sys.exit(main())
