"""Keep the field reference of docs/minutes-format.md in step with the minutes' model.

    python tools/minutes_docs.py          # rewrite the block between the marker comments
    python tools/minutes_docs.py --check  # exit 1 (saying so) when the block is stale

The reference comes from the frozen dataclasses of ``web.minutes`` (their fields, their
types as JSON, each field's ``doc`` metadata and each class's docstring); the rest of the
page is written by hand.
"""

from __future__ import annotations

import dataclasses
import sys
import typing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from tools import generated_docs  # noqa: E402
from tools.generated_docs import between_markers, json_type  # noqa: E402
from web import minutes as model  # noqa: E402

DOC = ROOT / "docs" / "minutes-format.md"
BEGIN = "<!-- BEGIN field reference: made by tools/minutes_docs.py from web/minutes.py -->"
END = "<!-- END field reference -->"


def _summary(part: type) -> str:
    return " ".join((part.__doc__ or "").split("\n\n")[0].split())


def render_block() -> str:
    """The generated Markdown, markers included."""
    lines = [
        BEGIN,
        "",
        "Every object of the minutes, outermost first: its keys (each always present unless",
        "its line says otherwise; sorted by name in the canonical bytes), its JSON type and",
        "what it holds. A *time* is an ISO-8601 string with its offset, to the second.",
    ]
    for part in model.PARTS:
        hints = typing.get_type_hints(part)
        lines += ["", f"### {part.__name__}", "", _summary(part), ""]
        lines += ["| key | type | what it holds |", "|---|---|---|"]
        for field in dataclasses.fields(part):
            about = field.metadata.get("doc")
            if not about:
                raise ValueError(f"{part.__name__}.{field.name} has no doc in its metadata")
            lines.append(f"| `{field.name}` | {json_type(hints[field.name])} | {about} |")
    lines += ["", END]
    return "\n".join(lines)


def updated(text: str) -> str:
    return between_markers(text, BEGIN, END, render_block(), DOC.name)


def main(argv: list[str] | None = None) -> int:
    return generated_docs.main(DOC, updated, "tools/minutes_docs.py", argv)


if __name__ == "__main__":
    sys.exit(main())
