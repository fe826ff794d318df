"""What the tools that generate parts of docs/ share: the JSON type of a field in words,
the block between two marker comments, and the ``--check`` command line.

Each generator (ledger_docs, minutes_docs, config_docs, protocol_docs) says what its part
holds; this module rewrites the document, or with ``--check`` exits 1 when it is stale
(the test suite runs every check, so a reference can never drift from the code).
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import Enum
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def json_type(hint: object) -> str:
    """A field's type as the JSON holds it, in words; a dataclass links to its own table."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        named = [json_type(arg) for arg in args if arg is not type(None)]
        return " or ".join(named) + (" or null" if type(None) in args else "")
    if origin is tuple:
        return f"list of {json_type(args[0])}"
    if origin is not None and issubclass(origin, Mapping):
        return f"object of {json_type(args[0])} → {json_type(args[1])}"
    if isinstance(hint, type):
        if issubclass(hint, Enum):
            return " \\| ".join(f"`{member.value}`" for member in hint)
        if dataclasses.is_dataclass(hint):
            return f"[{hint.__name__}](#{hint.__name__.lower()})"
        words = {str: "text", int: "whole number", bool: "true or false",
                 bytes: "base64 text", datetime: "time"}  # fmt: skip
        if hint in words:
            return words[hint]
    raise TypeError(f"no JSON type for {hint!r}")


def between_markers(text: str, begin: str, end: str, block: str, name: str) -> str:
    """``text`` with what stands from ``begin`` to ``end`` (both kept) replaced by ``block``
    (which starts with ``begin`` and ends with ``end``)."""
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < start:
        raise ValueError(f"{name} lacks the markers {begin!r} … {end!r}")
    return text[:start] + block + text[stop + len(end) :]


def main(doc: Path, fresh: Callable[[str], str], tool: str, argv: list[str] | None) -> int:
    """Rewrite ``doc`` as ``fresh(its text)`` says, or with --check say whether it is stale."""
    shown = doc.relative_to(ROOT) if doc.is_relative_to(ROOT) else doc
    parser = argparse.ArgumentParser(description=f"Keep {shown} current.")
    parser.add_argument("--check", action="store_true", help="only say whether it is stale")
    check = parser.parse_args(argv).check
    text = doc.read_text(encoding="utf-8") if doc.exists() else ""
    new = fresh(text)
    if check:
        if new != text:
            print(f"{shown} is stale: run python {tool}")
            return 1
        return 0
    if new != text:
        doc.write_text(new, encoding="utf-8")
    return 0
