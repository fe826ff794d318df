"""The seal's side of the server tests: box keys dealt to an office's committee, the key
ring its kiosks seal to, and a box key rebuilt from k of the members' cards for an opening
(``web.box_keys``, the server's own code)."""

from __future__ import annotations

from collections.abc import Sequence

from hom_phieu.ledger.box_key import BoxPrivateKey
from hom_phieu.ledger.opinion import KeyRing
from web import db as web_db
from web.box_keys import DealtKey, Holder, deal_box_keys, office_keyring, rebuild
from web.models import Office
from web.models_seal import BoxKey
from web.opening import active_members

THRESHOLD = 3  # of the five members a committee's cards go to


def deal(
    app, office_id: int, boxes: Sequence[str], threshold: int = THRESHOLD
) -> dict[str, DealtKey]:
    """Keys for ``boxes`` of the office, dealt to its first five active members; by box."""
    with app.app_context():
        session = web_db.session()
        holders = [Holder(member.user_id, member.user.display_name, member.committee_role)
                   for member in active_members(session, office_id)[:5]]  # fmt: skip
        office = session.get(Office, office_id)
        dealt = deal_box_keys(session, office, boxes, threshold, holders, None)
        session.commit()
    return {one.key.box or "": one for one in dealt}


def keyring(app, office_id: int) -> KeyRing:
    """The public keys the office's devices seal to (what their configuration carries)."""
    with app.app_context():
        session = web_db.session()
        return office_keyring(session, session.get(Office, office_id))


def opening_keys(
    app, dealt: DealtKey, cards: Sequence[int] = (0, 2, 4)
) -> dict[str, BoxPrivateKey]:
    """The box key rebuilt in memory from the cards of members ``cards`` (as typed at the
    opening), by fingerprint: what ``web.opening.open_box`` takes."""
    with app.app_context():
        key = web_db.session().get(BoxKey, dealt.key.id)
        rebuilt = rebuild(key, [dealt.cards[index].mnemonic for index in cards])
        return {key.fingerprint: rebuilt.private}
