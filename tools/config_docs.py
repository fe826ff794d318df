"""Write docs/kiosk-config.md from the kiosk configuration's schema (``kiosk.config_schema``).

python tools/config_docs.py          # rewrite docs/kiosk-config.md
python tools/config_docs.py --check  # exit 1 (saying so) when it is stale
"""

from __future__ import annotations

import sys
import types
from dataclasses import MISSING, Field, fields
from enum import Enum
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from kiosk.config_schema import COLOURS, FORMS, KioskConfig, Printer, show  # noqa: E402
from tools import generated_docs  # noqa: E402

DOC = ROOT / "docs" / "kiosk-config.md"


def render_docs() -> str:
    """The Markdown reference of every section and key, from the schema (always English)."""
    out = [
        "# Kiosk configuration (`kiosk.toml`)\n",
        "<!-- Made by `python tools/config_docs.py` (kiosk/config_schema.py); do not edit. -->\n",
        "The kiosk reads TOML from `/etc/hom-phieu/kiosk.toml` (or `--config FILE`); every key",
        "is optional, and an empty file gives the defaults below, on which a simulated kiosk",
        "runs. `kiosk.example.toml` is a commented example.",
        "`hom-phieu kiosk check-config [--config FILE]` lists every problem with its key",
        "(`buttons[2].pin` is in the second `[[buttons]]`, counted from 1) and the fix, and",
        "exits with 2 (0 when valid). `<state>` is `$HOM_PHIEU_HOME`, else `$STATE_DIRECTORY`,",
        "else `~/.local/share/hom-phieu`. Pins are BCM GPIO numbers, each used at most once.",
    ]
    hints = get_type_hints(KioskConfig)
    for spec in fields(KioskConfig):
        array = get_origin(hints[spec.name]) is tuple
        cls = get_args(hints[spec.name])[0] if array else hints[spec.name]
        doc = spec.metadata["doc"]
        if array:
            low, high = spec.metadata["low"], spec.metadata["high"]
            doc += f" From {low} to {high} entries; *required* keys must be given."
        if cls is Printer:
            needs = "; ".join(f"`{k}` needs {', '.join(v)}" for k, v in Printer.NEEDS.items())
            doc += f" Each `kind` needs its connection keys: {needs}."
        title = f"## `[[{spec.name}]]`" if array else f"## `[{spec.name}]`"
        out += ["", title, "", doc, "", "| Key | Type | Default | Meaning |", "|---|---|---|---|"]
        item_hints = get_type_hints(cls)
        for f in fields(cls):
            kind = _doc_type(item_hints[f.name], f.metadata)
            out.append(f"| `{f.name}` | {kind} | {_doc_default(f)} | {f.metadata['doc']} |")
        if array:
            out += ["", "Default:", "", "```toml"]
            for item in spec.default_factory():
                values = [(f.name, getattr(item, f.name)) for f in fields(item)]
                out.append(f"[[{spec.name}]]")
                out += [f"{k} = {show(v)}" for k, v in values if v is not None] + [""]
            out[-1] = "```"
    return "\n".join(out) + "\n"


def _doc_type(hint: Any, rules: Any) -> str:
    if isinstance(hint, types.UnionType):
        hint = next(t for t in get_args(hint) if t is not type(None))
    text = {bool: "boolean", int: "integer", Path: "path"}.get(hint, "text")
    if choices := rules.get("choices") or (tuple(hint) if issubclass(hint, Enum) else ()):
        return text + ": " + " / ".join(f"`{show(c)}`" for c in choices)
    if "high" in rules:
        return f"{text}, {rules.get('low', 0)}–{rules['high']}"
    if "form" in rules:
        return f"{text}; {FORMS[rules['form']][2].format(names=', '.join(COLOURS))}"
    return text


def _doc_default(spec: Field[Any]) -> str:
    if "shown" in spec.metadata:
        return str(spec.metadata["shown"])
    if spec.default is MISSING:
        return "*required*"
    return "unset" if spec.default is None else f"`{show(spec.default)}`"


def main(argv: list[str] | None = None) -> int:
    return generated_docs.main(DOC, lambda _text: render_docs(), "tools/config_docs.py", argv)


if __name__ == "__main__":
    sys.exit(main())
