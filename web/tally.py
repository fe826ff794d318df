"""Ballots counted: the cells every view of a count is summed from."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from web.ballot_channels import OFFICIAL, BallotChannel

Cell = tuple[str, int, str]  # (clerk, device pk, channel)


@dataclass(slots=True)
class Tally:
    """Official ballots counted, by level and by clerk, device and channel; the phone
    answers that are not official (:mod:`web.ballot_channels`) in ``unverified``, apart.

    Only the finest cells, (clerk, device, channel) -> levels, are counted ballot by
    ballot (an opening adds a million); every other view is summed from them when read
    (a box has a few hundred cells)."""

    votes: int = 0
    # (clerk, device, channel) -> levels: the cells the reports read (web.result_cells)
    by_cell: defaultdict[Cell, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    # Phone answers: each detailed criterion's levels, and the comments (clerk, text).
    by_criterion: defaultdict[str, Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter)
    )
    comments: list[tuple[str, str]] = field(default_factory=list)
    unverified: Tally | None = None

    def _summed(self, key: Callable[[Cell], Any]) -> defaultdict[Any, Counter[str]]:
        views: defaultdict[Any, Counter[str]] = defaultdict(Counter)
        for cell, levels in self.by_cell.items():
            views[key(cell)].update(levels)
        return views

    @property
    def by_level(self) -> Counter[str]:
        levels: Counter[str] = Counter()
        for cell_levels in self.by_cell.values():
            levels.update(cell_levels)
        return levels

    @property
    def by_clerk(self) -> defaultdict[str, Counter[str]]:
        return self._summed(lambda cell: cell[0])

    @property
    def by_device(self) -> defaultdict[int, Counter[str]]:
        return self._summed(lambda cell: cell[1])

    @property
    def by_channel(self) -> defaultdict[str, Counter[str]]:
        return self._summed(lambda cell: cell[2])

    @property
    def by_clerk_channel(self) -> defaultdict[tuple[str, str], Counter[str]]:
        """(clerk, channel) -> levels: each clerk's ballots channel by channel."""
        return self._summed(lambda cell: (cell[0], cell[2]))

    def add(self, device_pk: int, body: Mapping[str, Any], channel: BallotChannel) -> None:
        """Count a ballot whose body is in clear (format 1, or opened with the box key)."""
        if channel not in OFFICIAL:
            if self.unverified is None:
                self.unverified = Tally()
            self.unverified.add_ballot(device_pk, body, channel)
        else:
            self.add_ballot(device_pk, body, channel)

    def add_ballot(self, device_pk: int, body: Mapping[str, Any], channel: BallotChannel) -> None:
        self.votes += 1
        self.by_cell[body["clerk"], device_pk, channel.value][body["level"]] += 1
        criteria = body.get("criteria")
        if criteria is not None:  # (the grammar vouched: an object of levels)
            for criterion, answer in criteria.items():
                self.by_criterion[criterion][answer] += 1
        comment = body.get("comment")
        if comment:
            self.comments.append((body["clerk"], comment))

    def merge(self, part: Tally) -> None:
        """Add ``part`` (another process's count of other devices) to this tally."""
        self.votes += part.votes
        for cell, levels in part.by_cell.items():
            self.by_cell[cell].update(levels)
        for criterion, answers in part.by_criterion.items():
            self.by_criterion[criterion].update(answers)
        self.comments += part.comments
        if part.unverified is not None:
            if self.unverified is None:
                self.unverified = Tally()
            self.unverified.merge(part.unverified)
