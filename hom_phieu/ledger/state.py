"""What the verifier keeps as it walks a ledger: the open box's tally, recomputed from
its records, and the state a writer needs to go on appending.

The state has one JSON form (:meth:`LedgerState.to_json` / :meth:`LedgerState.from_json`),
which the server keeps beside each device's head so that no server process has to replay
a device's records to go on checking them: records as their signed bytes (base64, decoded
again on load), tallies as plain counts.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hom_phieu.ledger.records import GENESIS_PREV, Kind, Record, RecordFormatError, decode

STATE_FORMAT = 1  # the "v" of a state's JSON form


class StateFormatError(ValueError):
    """The text is not a verifier state this version wrote, or does not hold together."""


@dataclass(slots=True)
class BoxTally:
    """Counts of one box recomputed from its records (never from stored counters)."""

    box: str
    open_seq: int
    votes: int = 0
    refused: int = 0
    counts: dict[str, Counter[str]] = field(default_factory=dict)  # clerk -> level -> n
    buttons: Counter[str] = field(default_factory=Counter)

    def add_vote(self, record: Record) -> None:
        body = record.body
        self.votes += 1
        if "level" in body:  # format 1: the opinion in clear (a sealed one is nobody's yet)
            self.counts.setdefault(body["clerk"], Counter())[body["level"]] += 1
            self.buttons[body["button"]] += 1

    def seal(self, version: int = 1) -> dict[str, Any]:
        """The counts a CLOSE record of format ``version`` carries for this box, in
        canonical shape: from format 2 on, no levels and no buttons."""
        if version >= 2:
            return {"votes": self.votes, "refused": self.refused}
        return {
            "votes": self.votes,
            "refused": self.refused,
            "counts": {clerk: dict(sorted(c.items())) for clerk, c in sorted(self.counts.items())},
            "buttons": dict(sorted(self.buttons.items())),
        }


@dataclass(slots=True)
class LedgerState:
    """What a verified ledger leaves behind: enough to go on appending to it."""

    head_seq: int = 0
    head_hash: str = GENESIS_PREV
    last_wall_ms: int = 0
    boot: int = 0
    open_box: BoxTally | None = None
    closed_boxes: list[str] = field(default_factory=list)
    last_record: Record | None = None
    last_boot: Record | None = None
    clerk_on_duty: str | None = None  # from the last ``clerk_on_duty`` EVENT
    results_slips: set[str] = field(default_factory=set)  # boxes of ``results_slip`` EVENTs

    def to_json(self) -> str:
        """The state as JSON text: records as their signed bytes, tallies as counts."""
        box = self.open_box
        document = {
            "v": STATE_FORMAT,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "last_wall_ms": self.last_wall_ms,
            "boot": self.boot,
            "open_box": None if box is None else {
                "box": box.box,
                "open_seq": box.open_seq,
                "votes": box.votes,
                "refused": box.refused,
                "counts": {clerk: dict(levels) for clerk, levels in box.counts.items()},
                "buttons": dict(box.buttons),
            },
            "closed_boxes": list(self.closed_boxes),
            "last_record": _record_text(self.last_record),
            "last_boot": _record_text(self.last_boot),
            "clerk_on_duty": self.clerk_on_duty,
            "results_slips": sorted(self.results_slips),
        }  # fmt: skip
        return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> LedgerState:
        """The state :meth:`to_json` wrote; raises :class:`StateFormatError` for anything
        else (a wrong type, a record that does not decode, a head its last record does not
        match): a state that does not hold together is never used."""
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise StateFormatError(f"not JSON: {str(exc)[:200]}") from None
        if not isinstance(doc, dict):
            raise StateFormatError("not a JSON object")
        if doc.get("v") != STATE_FORMAT:
            raise StateFormatError(f"unknown state format {str(doc.get('v'))[:20]!r}")
        raw_box = doc.get("open_box")
        open_box = None if raw_box is None else _tally(_object(raw_box, "open_box"))
        state = cls(
            head_seq=_whole(doc.get("head_seq"), "head_seq"),
            head_hash=_text(doc.get("head_hash"), "head_hash"),
            last_wall_ms=_whole(doc.get("last_wall_ms"), "last_wall_ms"),
            boot=_whole(doc.get("boot"), "boot"),
            open_box=open_box,
            closed_boxes=_texts(doc.get("closed_boxes"), "closed_boxes"),
            last_record=_record(doc.get("last_record"), "last_record"),
            last_boot=_record(doc.get("last_boot"), "last_boot"),
            clerk_on_duty=_optional_text(doc.get("clerk_on_duty"), "clerk_on_duty"),
            results_slips=set(_texts(doc.get("results_slips"), "results_slips")),
        )
        _check_together(state)
        return state


def _check_together(state: LedgerState) -> None:
    """The head is the last record's; the last BOOT is a BOOT of the current boot."""
    last = state.last_record
    if last is None:
        if state.head_seq != 0 or state.head_hash != GENESIS_PREV:
            raise StateFormatError("a head without its last record")
    elif (last.seq, last.hash, last.wall_ms) != (
        state.head_seq,
        state.head_hash,
        state.last_wall_ms,
    ):
        raise StateFormatError("the last record is not the head")
    boot = state.last_boot
    if boot is not None and (boot.kind is not Kind.BOOT or boot.boot != state.boot):
        raise StateFormatError("last_boot is not a BOOT of the current boot")
    if state.open_box is not None and state.open_box.open_seq > state.head_seq:
        raise StateFormatError("the open box opens after the head")


def _record_text(record: Record | None) -> str | None:
    return None if record is None else base64.b64encode(record.data).decode("ascii")


def _record(value: Any, name: str) -> Record | None:
    if value is None:
        return None
    try:
        return decode(base64.b64decode(_text(value, name), validate=True))
    except (binascii.Error, RecordFormatError) as exc:
        raise StateFormatError(f"{name}: not a record ({str(exc)[:200]})") from None


def _tally(doc: dict[str, Any]) -> BoxTally:
    counts = {
        clerk: Counter(_counts(levels, f"open_box.counts.{clerk}"))
        for clerk, levels in _object(doc.get("counts"), "open_box.counts").items()
    }
    return BoxTally(
        box=_text(doc.get("box"), "open_box.box"),
        open_seq=_whole(doc.get("open_seq"), "open_box.open_seq"),
        votes=_whole(doc.get("votes"), "open_box.votes"),
        refused=_whole(doc.get("refused"), "open_box.refused"),
        counts=counts,
        buttons=Counter(_counts(doc.get("buttons"), "open_box.buttons")),
    )


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise StateFormatError(f"{name} is not an object")
    return value


def _counts(value: Any, name: str) -> dict[str, int]:
    return {key: _whole(n, f"{name}.{key}") for key, n in _object(value, name).items()}


def _whole(value: Any, name: str) -> int:
    if type(value) is not int or value < 0:  # exact: a boolean is no count
        raise StateFormatError(f"{name} is not a whole number")
    return value


def _text(value: Any, name: str) -> str:
    if type(value) is not str:
        raise StateFormatError(f"{name} is not a string")
    return value


def _optional_text(value: Any, name: str) -> str | None:
    return None if value is None else _text(value, name)


def _texts(value: Any, name: str) -> list[str]:
    if not isinstance(value, list):
        raise StateFormatError(f"{name} is not a list")
    return [_text(item, f"{name}[{n}]") for n, item in enumerate(value)]
