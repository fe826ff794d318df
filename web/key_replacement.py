"""Replacing box keys that exist: not the secretary's decision alone, but that of the
people who hold them.

A key whose month has not begun is replaced only when ``k`` of its current holders (its
threshold) type their cards on the dealing page, and those cards rebuild it
(:func:`web.box_keys.rebuild`): an administrator who adds members, makes a secretary of
his own or resets passwords holds no card of a key already dealt, so he cannot re-deal a
month to people of his choosing. When several months are replaced at once, the rule is
(``docs/opening-ceremony.md``, "Replacing a member"):

- the cards typed must rebuild at least one of the keys being replaced (usually the
  earliest month's: ``k`` cards of distinct holders);
- every other key being replaced is replaced on the word of the same people when at least
  its threshold of its holders are among those whose cards rebuilt a key (months dealt
  together have the same holders); a month whose key other people hold needs their cards
  too (typed in the next fields).

The cards are read in the request and gone with it: never stored, never logged, never
written back to a page; the audit log names whose cards were typed, never a word.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from hom_phieu.i18n import _
from hom_phieu.ledger import key_shares
from hom_phieu.ledger.key_shares import MAX_MEMBERS, ShareError
from web.box_keys import rebuild, share_of
from web.ceremony_calendar import box_label
from web.ceremony_seal import typed_shares
from web.models_seal import BoxKey, KeyShare

PREFIX = "card"  # the dealing form's fields card-1, card-2, …


@dataclass(frozen=True, slots=True)
class Consent:
    """A key being replaced and the holders on whose word it is (``rebuilt``: its own
    cards were typed and rebuilt it; otherwise those people's cards rebuilt another key
    being replaced)."""

    key: BoxKey
    by: tuple[KeyShare, ...]
    rebuilt: bool


def field_count(keys: Sequence[BoxKey]) -> int:
    """How many card fields the dealing form shows for the replaceable ``keys``: the
    threshold of each group of keys held by different people, added up."""
    needed: dict[frozenset[int | None], int] = {}
    for key in keys:
        people = frozenset(share.user_id for share in key.shares)
        needed[people] = max(needed.get(people, 0), key.threshold)
    return min(MAX_MEMBERS, sum(needed.values()))


def _label(n: int) -> str:
    return _("Card {n}").format(n=n)


def _month(key: BoxKey) -> str:
    return box_label(key.box) if key.box else "?"


def _whose(session: Session, office_id: int, mnemonic: str) -> str:
    """Why a card matching no key being replaced is refused: whose key it is."""
    keys = session.scalars(
        select(BoxKey).where(BoxKey.office_id == office_id, BoxKey.purpose == BoxKey.BOX)
    )
    for key in keys:
        if share_of(key, mnemonic) is not None:
            month = _month(key)
            if key.retired_at is not None:
                return _("it is a card of the retired key of {month}").format(month=month)
            return _("it is a card of the key of {month}, which is not being replaced").format(
                month=month
            )
    return _("it is not a card of any key of this office")


def _cards(
    session: Session, office_id: int, replaced: Sequence[BoxKey], typed: Sequence[str]
) -> dict[int, list[tuple[str, KeyShare]]]:
    """Each typed card read and matched with its key (by the key's id); raises
    :class:`ShareError` naming the field that is wrong."""
    found: dict[int, list[tuple[str, KeyShare]]] = {}
    for n, text in enumerate(typed, start=1):
        if not text.strip():
            continue
        try:
            info = key_shares.read(text)
        except ShareError as error:
            raise ShareError(f"{_label(n)}: {error}") from None
        match = next(
            ((key, row) for key in replaced if (row := share_of(key, info.mnemonic)) is not None),
            None,
        )
        if match is None:
            raise ShareError(f"{_label(n)}: {_whose(session, office_id, info.mnemonic)}")
        key, row = match
        cards = found.setdefault(key.id, [])
        if any(other.id == row.id for _text, other in cards):
            raise ShareError(
                _("{field}: the card of {name} for {month} is typed twice").format(
                    field=_label(n), name=row.holder_name, month=_month(key)
                )
            )
        cards.append((text, row))
    return found


def consents(
    session: Session, office_id: int, replaced: Sequence[BoxKey], form: Mapping[str, str]
) -> list[Consent]:
    """The consent of each key of ``replaced`` from the cards typed in the dealing form
    (``card-N``); raises :class:`ShareError` naming what is missing or wrong. Nothing is
    kept of the cards."""
    if not replaced:
        return []
    found = _cards(session, office_id, replaced, typed_shares(form, PREFIX))
    own: dict[int, tuple[KeyShare, ...]] = {}
    for key in replaced:
        cards = found.get(key.id, [])
        if len(cards) >= key.threshold:
            rebuild(key, [text for text, _row in cards])  # raises when they rebuild another key
            own[key.id] = tuple(row for _text, row in cards)
    proved = {row.user_id for rows in own.values() for row in rows if row.user_id is not None}
    result = []
    for key in replaced:
        if key.id in own:
            result.append(Consent(key, own[key.id], True))
            continue
        holding = tuple(share for share in key.shares if share.user_id in proved)
        if len(holding) < key.threshold:
            raise ShareError(_missing(key, len(found.get(key.id, []))))
        result.append(Consent(key, holding, False))
    return result


def _missing(key: BoxKey, typed: int) -> str:
    return _(
        "The key of {month} ({key}) is replaced only with {needed} of its holders' cards "
        "({typed} typed): type the cards of that key, or the cards of another month being "
        "replaced held by {needed} of the same people. Nothing was replaced."
    ).format(month=_month(key), key=key.fingerprint, needed=key.threshold,
             typed=typed)  # fmt: skip


def audit_detail(consent: Consent) -> dict[str, object]:
    """What the audit log says of one replacement: whose cards, never a word."""
    return {
        "box": consent.key.box,
        "fingerprint": consent.key.fingerprint,
        "cards_by": [share.holder_name for share in consent.by],
        "own_cards": consent.rebuilt,
    }
