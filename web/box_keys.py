"""Making, handing out and rebuilding the keys that seal the boxes.

Dealing (:func:`deal_box_keys`): a fresh master secret per office and month, its public
key and fingerprint stored, the secret split k of n (``hom_phieu.ledger.key_shares``) into
cards that exist only in the returned :class:`DealtKey` (print them, then let it go), and,
under a province with an escrow key, the secret sealed to that escrow key. Nothing on the
server can rebuild a box key: only k cards typed at the opening (:func:`rebuild`), or the
province's escrow holders (:func:`rebuild_from_escrow`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hom_phieu.clock import box_of
from hom_phieu.i18n import _
from hom_phieu.ledger import key_shares
from hom_phieu.ledger.box_key import BoxPrivateKey, BoxPublicKey, SealError, new_master
from hom_phieu.ledger.key_shares import ShareError
from hom_phieu.ledger.opinion import KeyRing
from web import clock
from web.ceremony_calendar import boxes_from
from web.models import Office, Unit
from web.models_seal import BoxKey, KeyShare
from web.unit_calendar import unit_chain

MONTHS_AHEAD = 12  # how far ahead a kiosk is given box keys (offline for weeks, still sealing)
ESCROW_ROLE = "escrow"


@dataclass(frozen=True, slots=True)
class Holder:
    """Who is handed a card: a committee member (or a province escrow holder)."""

    user_id: int | None
    name: str
    role: str


@dataclass(frozen=True, slots=True)
class Card:
    """One holder's share of one key: the words exist only here and on paper."""

    holder: Holder
    member_index: int
    mnemonic: str


@dataclass(frozen=True, slots=True)
class DealtKey:
    key: BoxKey
    cards: tuple[Card, ...]


@dataclass(frozen=True, slots=True)
class Rebuilt:
    """A box key rebuilt in memory, and whose shares rebuilt it."""

    private: BoxPrivateKey
    master: bytes
    shares: tuple[KeyShare, ...]


def _escrow_info(fingerprint: str) -> bytes:
    return f"hom-phieu escrow wrap\0{fingerprint}".encode()


def _deal(
    session: Session,
    key: BoxKey,
    master: bytes,
    threshold: int,
    holders: Sequence[Holder],
) -> DealtKey:
    mnemonics = key_shares.split(master, threshold, len(holders))
    session.add(key)
    session.flush()
    cards = []
    for index, (holder, mnemonic) in enumerate(zip(holders, mnemonics, strict=True)):
        session.add(
            KeyShare(
                box_key_id=key.id,
                member_index=index,
                user_id=holder.user_id,
                holder_name=holder.name,
                holder_role=holder.role,
                digest=key_shares.digest(mnemonic, key.fingerprint),
            )
        )
        cards.append(Card(holder, index, mnemonic))
    session.flush()
    return DealtKey(key, tuple(cards))


def deal_box_keys(
    session: Session,
    office: Office,
    boxes: Sequence[str],
    threshold: int,
    holders: Sequence[Holder],
    by: int | None,
) -> list[DealtKey]:
    """A new key for each of ``boxes`` of ``office``, shared among ``holders``.

    A box that already has a key keeps it unless its month has not begun: then the old
    key is retired (a new committee) and kiosks get the new one with their next
    configuration."""
    now_box = box_of(clock.now_ms())
    started = [box for box in boxes if box <= now_box and current_key(session, office.id, box)]
    if started:
        raise ShareError(
            _("the box of {box} already has a key and its month has begun: it keeps it").format(
                box=started[0]
            )
        )
    escrow = escrow_key_for(session, office.unit_id)
    dealt = []
    for box in boxes:
        old = current_key(session, office.id, box)
        if old is not None:
            old.retired_at, old.retired_by = clock.now(), by
        master = new_master()
        public = BoxPrivateKey.from_master(master).public
        key = BoxKey(
            purpose=BoxKey.BOX,
            office_id=office.id,
            box=box,
            public_key=public.raw,
            fingerprint=public.fingerprint,
            threshold=threshold,
            holders=len(holders),
            created_by=by,
        )
        if escrow is not None:
            key.escrow_key_id = escrow.id
            key.escrow_wrap = BoxPublicKey(escrow.public_key).seal(
                master, _escrow_info(public.fingerprint)
            )
        dealt.append(_deal(session, key, master, threshold, holders))
    return dealt


def deal_escrow_key(
    session: Session, unit: Unit, threshold: int, holders: Sequence[Holder], by: int | None
) -> DealtKey:
    """The province's escrow key, shared among its escrow holders."""
    if escrow_key_for(session, unit.id, exact=True) is not None:
        raise ShareError(_("this unit has an escrow key already"))
    master = new_master()
    public = BoxPrivateKey.from_master(master).public
    key = BoxKey(
        purpose=BoxKey.ESCROW,
        unit_id=unit.id,
        public_key=public.raw,
        fingerprint=public.fingerprint,
        threshold=threshold,
        holders=len(holders),
        created_by=by,
    )
    return _deal(session, key, master, threshold, holders)


def current_key(session: Session, office_id: int, box: str) -> BoxKey | None:
    return session.scalar(
        select(BoxKey).where(
            BoxKey.office_id == office_id, BoxKey.box == box, BoxKey.retired_at.is_(None)
        )
    )


def escrow_key_for(session: Session, unit_id: int, exact: bool = False) -> BoxKey | None:
    """The escrow key of ``unit_id`` or of the nearest unit above it that has one."""
    for unit in unit_chain(session, unit_id):
        key = session.scalar(
            select(BoxKey).where(BoxKey.purpose == BoxKey.ESCROW, BoxKey.unit_id == unit.id)
        )
        if key is not None or exact:
            return key
    return None


def office_keyring(session: Session, office: Office, at: datetime | None = None) -> KeyRing:
    """The public keys an office's devices seal to: each box's key from last month (a
    kiosk whose clock is behind) to :data:`MONTHS_AHEAD` months on, and the escrow key."""
    now_ms = int((at or clock.now()).timestamp() * 1000)
    boxes = boxes_from(box_of(now_ms - 31 * 86_400_000), MONTHS_AHEAD + 2)  # from last month
    keys = session.scalars(
        select(BoxKey).where(
            BoxKey.office_id == office.id, BoxKey.box.in_(boxes), BoxKey.retired_at.is_(None)
        )
    )
    escrow = escrow_key_for(session, office.unit_id)
    return KeyRing(
        {key.box: BoxPublicKey(key.public_key) for key in keys if key.box},
        BoxPublicKey(escrow.public_key) if escrow is not None else None,
    )


def share_of(key: BoxKey, mnemonic: str) -> KeyShare | None:
    """Which of ``key``'s cards a share's words are (None: not one of them)."""
    digest = key_shares.digest(mnemonic, key.fingerprint)
    return next((share for share in key.shares if share.digest == digest), None)


def card_of(key: BoxKey, text: str) -> tuple[key_shares.ShareInfo, KeyShare]:
    """One typed share read, and which of ``key``'s cards it is; raises :class:`ShareError`
    naming a wrong word, or saying it is a card of another key."""
    info = key_shares.read(text)
    row = share_of(key, info.mnemonic)
    if row is None:
        raise ShareError(_("this share is not one of the cards of key {key}").format(
            key=key.fingerprint))  # fmt: skip
    return info, row


def _shares_of(
    key: BoxKey, typed: Sequence[str]
) -> tuple[list[key_shares.ShareInfo], list[KeyShare]]:
    cards = [card_of(key, text) for text in typed]
    return [info for info, _row in cards], [row for _info, row in cards]


def rebuild(key: BoxKey, typed: Sequence[str]) -> Rebuilt:
    """The key rebuilt from shares typed by its holders; raises :class:`ShareError` naming
    what is wrong (a word, a card of another key, too few shares)."""
    infos, rows = _shares_of(key, typed)
    master = key_shares.combine(infos)
    private = BoxPrivateKey.from_master(master)
    if private.public.raw != key.public_key:
        raise ShareError(_("the shares rebuild another key than {key}").format(key=key.fingerprint))
    return Rebuilt(private, master, tuple(rows))


def rebuild_from_escrow(key: BoxKey, escrow: BoxKey, typed: Sequence[str]) -> Rebuilt:
    """A box key recovered through its province's escrow: the escrow key rebuilt from its
    holders' shares opens the box's sealed master. Every use is minuted and audited by the
    caller."""
    if key.escrow_wrap is None or key.escrow_key_id != escrow.id:
        raise ShareError(_("this box key was not sealed to that escrow key"))
    opened = rebuild(escrow, typed)
    try:
        master = opened.private.open(key.escrow_wrap, _escrow_info(key.fingerprint))
    except SealError:
        raise ShareError(_("the escrow copy of key {key} does not open").format(
            key=key.fingerprint)) from None  # fmt: skip
    private = BoxPrivateKey.from_master(master)
    if private.public.raw != key.public_key:
        raise ShareError(_("the escrow copy holds another key than {key}").format(
            key=key.fingerprint))  # fmt: skip
    return Rebuilt(private, master, opened.shares)


def read_back(key: BoxKey, typed: str) -> KeyShare:
    """A holder typed their card back: which share it is (marked read back)."""
    _infos, (row,) = _shares_of(key, [typed])
    if row.read_back_at is None:
        row.read_back_at = clock.now()
    return row


def publish(key: BoxKey, master: bytes) -> None:
    """The box is opened: its master secret is published (once; the database refuses a
    second write), so anyone with the recount bundle can open its ballots again."""
    if BoxPrivateKey.from_master(master).public.raw != key.public_key:
        raise ShareError(_("that secret is not the master of key {key}").format(
            key=key.fingerprint))  # fmt: skip
    key.published_master = master
