"""Who the kiosk says it is: office, counter, the clerks' roster and the buttons' meaning.

From the device configuration at first; once the kiosk is enrolled, from the admin
server's signed configuration, which wins where it speaks: names, the roster, and each
button's label and level (matched by button name; pins and colours stay the device's).
The server's configuration also carries the office totals of its latest opened box
(:class:`OfficeResults`), for the results slip.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hom_phieu.ledger.records import Level
from hom_phieu.render.views import ButtonLegend, ClerkCard


@dataclass(frozen=True, slots=True)
class OfficeResults:
    """The office totals of an opened box, as the server's ``results`` has them (public once
    the committee opened the box; never by clerk)."""

    box: str  # "2026-10"
    opened_at: str  # ISO-8601 with its offset: "2026-11-05T09:30:00+07:00"
    votes: int
    by_level: Mapping[str, int]  # every level's code: its count
    minutes_hash: str  # SHA-256 of the minutes' content, hex

    @classmethod
    def parse(cls, value: Any) -> OfficeResults | None:
        """``results`` of a server configuration; None when absent or not well formed (a
        slip is printed from whole, checked data or not at all)."""
        if not isinstance(value, Mapping):
            return None
        box, opened_at, votes = value.get("box"), value.get("opened_at"), value.get("votes")
        by_level, minutes_hash = value.get("by_level"), value.get("minutes_hash")
        if not (isinstance(box, str) and re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", box)):
            return None
        if not isinstance(minutes_hash, str) or not re.fullmatch(r"[0-9a-f]{16,128}", minutes_hash):
            return None
        if not isinstance(opened_at, str) or _aware(opened_at) is None:
            return None
        if not isinstance(by_level, Mapping):
            return None
        counts = {level.value: by_level.get(level.value) for level in Level}
        if not all(_count(n) for n in [votes, *counts.values()]):
            return None
        return cls(box, opened_at, votes, counts, minutes_hash)


def _count(value: Any) -> bool:
    return type(value) is int and value >= 0


def _aware(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


@dataclass(frozen=True, slots=True)
class Identity:
    office: str
    counter: str
    roster: tuple[ClerkCard, ...]
    legend: tuple[ButtonLegend, ...]
    levels: Mapping[str, Level]
    version: str = "local"
    results: OfficeResults | None = None  # the latest opened box's, from the server

    @classmethod
    def from_config(cls, config: Any) -> Identity:
        return cls(
            office=config.device.office,
            counter=config.device.counter,
            roster=tuple(ClerkCard(c.id, c.name, c.title, c.survey_url) for c in config.clerks),
            legend=tuple(ButtonLegend(b.name, b.label, b.colour) for b in config.buttons),
            levels={b.name: b.level for b in config.buttons},
        )

    def with_server(self, server: Mapping[str, Any]) -> Identity:
        """This identity as the server's configuration (already verified) has it."""
        scale = {b["name"]: b for b in server.get("buttons", [])}
        legend = tuple(
            ButtonLegend(b.name, scale[b.name]["label"], b.colour) if b.name in scale else b
            for b in self.legend
        )
        levels = {
            name: Level(scale[name]["level"]) if name in scale else level
            for name, level in self.levels.items()
        }
        roster = tuple(
            ClerkCard(c["id"], c["name"], c.get("title", ""), c.get("survey_url"))
            for c in server.get("clerks", [])
        )
        return Identity(
            office=server.get("office", {}).get("name") or self.office,
            counter=server.get("counter") or self.counter,
            roster=roster or self.roster,  # a kiosk always needs somebody to vote for
            legend=legend,
            levels=levels,
            version=server.get("version", self.version),
            results=OfficeResults.parse(server.get("results")),
        )

    def clerk(self, clerk_id: str) -> ClerkCard:
        return next((c for c in self.roster if c.id == clerk_id), self.roster[0])
