"""The ceremony's seal: which keys a box was sealed to, and opening it with the shares the
committee (or the province's escrow holders) typed.

Shares are typed on the secretary's screen in the request that opens the box; they are read
here, rebuild the key in memory (:func:`web.box_keys.rebuild`), and are gone with the
request: never stored, never logged, never written back to a page. Fewer shares than the
key's threshold open nothing, whoever asks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from hom_phieu.i18n import _, ngettext
from hom_phieu.ledger.box_key import BoxPrivateKey
from hom_phieu.ledger.key_shares import MAX_MEMBERS, ShareError
from hom_phieu.ledger.records import RecordFormatError, decode
from web.box_count import BoxCount, body_key
from web.box_keys import (
    Rebuilt,
    card_of,
    current_key,
    escrow_key_for,
    publish,
    rebuild,
    rebuild_from_escrow,
)
from web.checklist import SealKeys
from web.minutes_seal import Seal, ShareGiver
from web.models import Device, LedgerRecord, Office, Opening
from web.models_seal import BoxKey, KeyShare

MAX_SHARE = 1000  # characters of one typed share (20 words)


@dataclass(frozen=True, slots=True)
class BoxSeal:
    """The keys of an office's box: its own (None: sealed without one, as in wave 1) and the
    province's escrow key (None: the province has none)."""

    key: BoxKey | None
    escrow: BoxKey | None

    @property
    def keyed(self) -> bool:
        return self.key is not None or self.escrow is not None


def box_seal(session: Session, office: Office, box: str) -> BoxSeal:
    return BoxSeal(current_key(session, office.id, box), escrow_key_for(session, office.unit_id))


def _published(office_id: int, box: str) -> Select[tuple[BoxKey]]:
    """The keys of the office's boxes opened before (published at their opening)."""
    return select(BoxKey).where(
        BoxKey.office_id == office_id, BoxKey.box != box, BoxKey.published_master.is_not(None)
    )


def earlier_keys(session: Session, office_id: int, box: str) -> dict[str, BoxPrivateKey]:
    """The keys of the office's boxes opened before: the late ballots of those boxes are
    counted in this opening's supplements."""
    return {
        key.fingerprint: BoxPrivateKey.from_master(key.published_master)
        for key in session.scalars(_published(office_id, box))
        if key.published_master is not None
    }


def named_keys(session: Session, office_id: int, box: str) -> dict[str, Counter[str]]:
    """Device id -> the key fingerprint each of its ballots of the box names ("" in clear)
    -> ballots, as the records held say (before the opening: nothing is read)."""
    rows = session.execute(
        select(Device.device_id, LedgerRecord.data)
        .join(Device, LedgerRecord.device_pk == Device.id)
        .where(
            LedgerRecord.office_id == office_id,
            LedgerRecord.box == box,
            LedgerRecord.kind == "VOTE",
        )
        .execution_options(yield_per=2000)
    )
    named: dict[str, Counter[str]] = {}
    for device_id, data in rows:
        try:
            key = body_key(decode(bytes(data)))
        except (RecordFormatError, ValueError, TypeError):
            continue  # a damaged record: the chain's check names it
        named.setdefault(device_id or "?", Counter())[key] += 1
    return named


def seal_keys(session: Session, opening: Opening, preview: bool) -> SealKeys:
    """What the checklist compares the ballots with (``preview``: before the opening, with
    the keys each device's records name)."""
    seal = box_seal(session, opening.office, opening.box)
    named = named_keys(session, opening.office_id, opening.box) if preview and seal.keyed else None
    return SealKeys(
        box=seal.key.fingerprint if seal.key is not None else None,
        escrow=seal.escrow.fingerprint if seal.escrow is not None else None,
        earlier=frozenset(  # fingerprints only: no key derived for the preview
            key.fingerprint for key in session.scalars(_published(opening.office_id, opening.box))
        ),
        named=named,
    )


@dataclass(slots=True)
class Unsealed:
    """The keys rebuilt for one opening, and what the minutes say of them."""

    keys: dict[str, BoxPrivateKey] = field(default_factory=dict)
    box_key: BoxKey | None = None
    rebuilt: Rebuilt | None = None  # the box key rebuilt (its master is published on opening)
    escrow: Rebuilt | None = None  # the escrow key rebuilt, when its holders typed shares
    seal: Seal | None = None


def _givers(shares: Sequence[KeyShare]) -> tuple[ShareGiver, ...]:
    return tuple(ShareGiver(share.holder_name, share.holder_role) for share in shares)


def _checked(key: BoxKey, typed: Sequence[str], label: str) -> list[str]:
    """The non-empty shares typed for ``key``, each read on its own so that a wrong one is
    named by its field (``label`` with its number)."""
    given = []
    for number, text in enumerate(typed, start=1):
        if not text.strip():
            continue
        try:
            card_of(key, text)
        except ShareError as error:
            raise ShareError(f"{label.format(n=number)}: {error}") from None
        given.append(text)
    if len(given) < key.threshold:
        raise ShareError(
            _("{needed} shares of key {key} are needed to open the box; {typed} were typed. "
              "The box stays sealed.").format(needed=key.threshold, key=key.fingerprint,
                                              typed=len(given))
        )  # fmt: skip
    return given


def unseal(
    session: Session,
    office: Office,
    box: str,
    typed: Sequence[str],
    escrow_typed: Sequence[str] = (),
) -> Unsealed:
    """The keys that open ``office``'s ``box``: its box key rebuilt from the committee's
    shares, or through the province's escrow from the escrow holders' shares (whose key
    also opens the ballots sealed to it), and the keys of boxes opened before. Raises
    :class:`ShareError` naming the field that is wrong, or saying how many shares are
    missing."""
    seal = box_seal(session, office, box)
    found = Unsealed(keys=earlier_keys(session, office.id, box), box_key=seal.key)
    escrow_given = [text for text in escrow_typed if text.strip()]
    if escrow_given:
        if seal.escrow is None:
            raise ShareError(_("the province has no escrow key"))
        shares = _checked(seal.escrow, escrow_typed, _("Escrow share {n}"))
        found.escrow = rebuild(seal.escrow, shares)
        found.keys[seal.escrow.fingerprint] = found.escrow.private
    via_escrow = False  # the box key itself recovered through the escrow
    if seal.key is not None:
        if found.escrow is not None and not any(text.strip() for text in typed):
            assert seal.escrow is not None
            found.rebuilt = rebuild_from_escrow(seal.key, seal.escrow, escrow_given)
            via_escrow = True
        else:
            found.rebuilt = rebuild(seal.key, _checked(seal.key, typed, _("Share {n}")))
        found.keys[seal.key.fingerprint] = found.rebuilt.private
    if seal.key is None and found.escrow is None:
        return found  # wave 1: ballots in clear, opened without shares
    escrow_used = found.escrow is not None
    found.seal = Seal(
        key=seal.key.fingerprint if seal.key is not None else None,
        threshold=seal.key.threshold if seal.key is not None else None,
        shares=() if found.rebuilt is None or via_escrow else _givers(found.rebuilt.shares),
        escrow=escrow_used,
        escrow_key=seal.escrow.fingerprint if escrow_used and seal.escrow is not None else None,
        escrow_shares=_givers(found.escrow.shares) if found.escrow is not None else (),
    )
    return found


def escrow_ballots(session: Session, office: Office, count: BoxCount, unsealed: Unsealed) -> str:
    """Why the box may not be opened yet: ballots sealed to the province's escrow key (a
    kiosk without a box key) that nobody gave the key for; "" when there are none. (Opened
    anyway, they would never be counted.)"""
    escrow = box_seal(session, office, count.box).escrow
    if escrow is None or escrow.fingerprint in unsealed.keys:
        return ""
    waiting = sum(1 for ballot in count.unreadable if ballot.key == escrow.fingerprint)
    if not waiting:
        return ""
    return ngettext(
        "{count} ballot is sealed to the province escrow key {key} (a kiosk without a box "
        "key): the escrow holders must type their shares too, or it is never counted",
        "{count} ballots are sealed to the province escrow key {key} (a kiosk without a box "
        "key): the escrow holders must type their shares too, or they are never counted",
        waiting,
    ).format(count=waiting, key=escrow.fingerprint)


def unseal_typed(session: Session, office: Office, box: str, form: Mapping[str, str]) -> Unsealed:
    """:func:`unseal` with the shares typed in the open form (``share-N``, ``escrow-N``)."""
    return unseal(session, office, box, typed_shares(form, "share"), typed_shares(form, "escrow"))


def publish_opened(unsealed: Unsealed) -> None:
    """The box is opened: its key's master is published (``web.box_keys.publish``); an
    escrow key, which seals other boxes too, never is."""
    if unsealed.box_key is not None and unsealed.rebuilt is not None:
        publish(unsealed.box_key, unsealed.rebuilt.master)


def typed_shares(form: Mapping[str, str], prefix: str) -> list[str]:
    """The shares typed in the open form's fields ``{prefix}-1``, ``{prefix}-2``, … (a field
    too long is cut, and reading it then names it)."""
    return [form.get(f"{prefix}-{n}", "")[: MAX_SHARE * 2] for n in range(1, MAX_MEMBERS + 1)]


def opened_detail(unsealed: Unsealed) -> dict[str, Any]:
    """What the audit log says of how a box was unsealed: names and fingerprints, never a
    share."""
    seal = unsealed.seal
    if seal is None:
        return {"seal_key": None}
    return {
        "seal_key": seal.key,
        "shares_by": [share.name for share in seal.shares],
        "escrow": seal.escrow,
        "escrow_key": seal.escrow_key,
        "escrow_shares_by": [share.name for share in seal.escrow_shares],
    }
