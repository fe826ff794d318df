"""A count of the minutes (the box's main count, or a supplement's) with its breakdowns:
per level, clerk, counter, procedure field, channel, phone criterion, and the phone comments.

Part of the minutes' model (:mod:`web.minutes`); pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from hom_phieu.ledger.records import Level
from web.minutes_json import Json, Reader, doc


@dataclass(frozen=True, slots=True)
class LevelCounts:
    """Ballots per statutory level (every level present, 0 included)."""

    very_satisfied: int = field(metadata=doc("ballots rated very satisfied (rất hài lòng)"))
    satisfied: int = field(metadata=doc("ballots rated satisfied (hài lòng)"))
    not_satisfied: int = field(metadata=doc("ballots rated not satisfied (không hài lòng)"))

    def __getitem__(self, level: str) -> int:
        """The count of a level by its code (``by_level["satisfied"]``, as templates read)."""
        if level not in _LEVEL_CODES:
            raise KeyError(level)
        value: int = getattr(self, level)
        return value

    @classmethod
    def of(cls, levels: Mapping[str, int]) -> LevelCounts:
        """From a tally (levels missing from it are 0)."""
        return cls(*(levels.get(level, 0) for level in _LEVEL_CODES))

    def to_json(self) -> Json:
        return {level: self[level] for level in _LEVEL_CODES}

    @classmethod
    def from_json(cls, data: object, where: str = "by_level") -> LevelCounts:
        r = Reader(data, where)
        made = cls(*(r.integer(level) for level in _LEVEL_CODES))
        r.done()
        return made


_LEVEL_CODES = tuple(level.value for level in Level)  # LevelCounts' fields, in this order


@dataclass(frozen=True, slots=True)
class CountRow:
    """A row of a breakdown: a counter, a procedure field, a channel or a criterion."""

    key: str = field(metadata=doc("what the row counts (the channel's code: button, phone)"))
    name: str = field(metadata=doc("its name as shown (the same as the key)"))
    by_level: LevelCounts = field(metadata=doc("the row's ballots per level"))
    votes: int = field(metadata=doc("the row's ballots"))

    def to_json(self) -> Json:
        return {
            "key": self.key,
            "name": self.name,
            "by_level": self.by_level.to_json(),
            "votes": self.votes,
        }

    @classmethod
    def from_json(cls, data: object, where: str = "row") -> CountRow:
        r = Reader(data, where)
        made = cls(r.text("key"), r.text("name"), r.obj("by_level", LevelCounts.from_json),
                   r.integer("votes"))  # fmt: skip
        r.done()
        return made


@dataclass(frozen=True, slots=True)
class ClerkRow:
    """A clerk's row: a code not (or no longer) in the office's list has an empty name."""

    key: str = field(metadata=doc("the clerk's code"))
    name: str = field(metadata=doc('the clerk\'s name at the opening ("" when not in the list)'))
    title: str = field(metadata=doc("the clerk's title"))
    by_level: LevelCounts = field(metadata=doc("the clerk's ballots per level"))
    votes: int = field(metadata=doc("the clerk's ballots"))

    def to_json(self) -> Json:
        return {
            "key": self.key,
            "name": self.name,
            "title": self.title,
            "by_level": self.by_level.to_json(),
            "votes": self.votes,
        }

    @classmethod
    def from_json(cls, data: object, where: str = "clerk") -> ClerkRow:
        r = Reader(data, where)
        made = cls(r.text("key"), r.text("name"), r.text("title"),
                   r.obj("by_level", LevelCounts.from_json), r.integer("votes"))  # fmt: skip
        r.done()
        return made


@dataclass(frozen=True, slots=True)
class ClerkChannelRow:
    """A clerk's ballots of one channel (see :mod:`web.ballot_channels`)."""

    key: str = field(metadata=doc("the clerk's code"))
    name: str = field(metadata=doc('the clerk\'s name at the opening ("" when not in the list)'))
    channel: str = field(
        metadata=doc(
            "the channel: button, phone_ticket (phone answer with a ticket), "
            "phone_screen (phone answer without one: unverified)"
        )
    )
    by_level: LevelCounts = field(metadata=doc("these ballots per level"))
    votes: int = field(metadata=doc("these ballots"))

    def to_json(self) -> Json:
        return {
            "key": self.key,
            "name": self.name,
            "channel": self.channel,
            "by_level": self.by_level.to_json(),
            "votes": self.votes,
        }

    @classmethod
    def from_json(cls, data: object, where: str = "clerk_channel") -> ClerkChannelRow:
        r = Reader(data, where)
        made = cls(r.text("key"), r.text("name"), r.text("channel"),
                   r.obj("by_level", LevelCounts.from_json), r.integer("votes"))  # fmt: skip
        r.done()
        return made


@dataclass(frozen=True, slots=True)
class Comment:
    """A citizen's comment from the phone survey, shown once the box is open."""

    clerk: str = field(metadata=doc("the code of the clerk it is about"))
    name: str = field(metadata=doc("that clerk's name (empty when not in the list)"))
    text: str = field(metadata=doc("the comment as typed (never a formula, never markup)"))

    def to_json(self) -> Json:
        return {"clerk": self.clerk, "name": self.name, "text": self.text}

    @classmethod
    def from_json(cls, data: object, where: str = "comment") -> Comment:
        r = Reader(data, where)
        made = cls(r.text("clerk"), r.text("name"), r.text("text"))
        r.done()
        return made


@dataclass(frozen=True, slots=True)
class Count:
    """A count of ballots (the box's main count or a supplement) with its breakdowns."""

    votes: int = field(metadata=doc("ballots counted"))
    by_level: LevelCounts = field(metadata=doc("ballots per level"))
    by_clerk: tuple[ClerkRow, ...] = field(metadata=doc("per clerk, by name then code"))
    by_counter: tuple[CountRow, ...] = field(
        metadata=doc("per counter the devices are registered to")
    )
    by_field: tuple[CountRow, ...] = field(
        metadata=doc('per procedure field of the clerk ("—" for none)')
    )
    by_channel: tuple[CountRow, ...] = field(
        metadata=doc("per channel (button, phone) that has ballots")
    )
    by_criterion: tuple[CountRow, ...] | None = field(
        metadata=doc(
            "phone survey: each detailed criterion's levels (absent in minutes before the survey)"
        )
    )
    comments: tuple[Comment, ...] | None = field(
        metadata=doc("phone survey: the comments (absent in minutes before the survey)")
    )
    by_clerk_channel: tuple[ClerkChannelRow, ...] | None = field(
        default=None,
        metadata=doc(
            "per clerk, each channel apart (absent in minutes before the channels were split)"
        ),
    )
    unverified: Count | None = field(
        default=None,
        metadata=doc(
            "phone answers without a verified ticket: unverified opinions, counted apart and "
            "never in the official result above (absent when there are none)"
        ),
    )

    def to_json(self) -> Json:
        data: Json = {
            "votes": self.votes,
            "by_level": self.by_level.to_json(),
            "by_clerk": [row.to_json() for row in self.by_clerk],
            "by_counter": [row.to_json() for row in self.by_counter],
            "by_field": [row.to_json() for row in self.by_field],
            "by_channel": [row.to_json() for row in self.by_channel],
        }
        if self.by_criterion is not None:
            data["by_criterion"] = [row.to_json() for row in self.by_criterion]
        if self.comments is not None:
            data["comments"] = [comment.to_json() for comment in self.comments]
        if self.by_clerk_channel is not None:
            data["by_clerk_channel"] = [row.to_json() for row in self.by_clerk_channel]
        if self.unverified is not None:
            data["unverified"] = self.unverified.to_json()
        return data

    @classmethod
    def from_json(cls, data: object, where: str = "count") -> Count:
        r = Reader(data, where)
        made = cls(
            votes=r.integer("votes"),
            by_level=r.obj("by_level", LevelCounts.from_json),
            by_clerk=r.items("by_clerk", ClerkRow.from_json),
            by_counter=r.items("by_counter", CountRow.from_json),
            by_field=r.items("by_field", CountRow.from_json),
            by_channel=r.items("by_channel", CountRow.from_json),
            by_criterion=r.opt_items("by_criterion", CountRow.from_json),
            comments=r.opt_items("comments", Comment.from_json),
            by_clerk_channel=r.opt_items("by_clerk_channel", ClerkChannelRow.from_json),
            unverified=r.absent_or_obj("unverified", Count.from_json),
        )
        r.done()
        return made


@dataclass(frozen=True, slots=True)
class Supplement:
    """Late ballots of a box opened before, counted by this opening."""

    box: str = field(metadata=doc("the earlier box, YYYY-MM"))
    count: Count = field(metadata=doc("its late ballots"))

    def to_json(self) -> Json:
        return {"box": self.box, "count": self.count.to_json()}

    @classmethod
    def from_json(cls, data: object, where: str = "supplement") -> Supplement:
        r = Reader(data, where)
        made = cls(r.text("box"), r.obj("count", Count.from_json))
        r.done()
        return made
