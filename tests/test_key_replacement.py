"""Replacing keys that exist needs their holders' cards (``web.key_replacement``): not the
secretary alone, nor an administrator with a secretary and members of his own making; k
holders' cards do, k − 1 do not, and a card of the wrong month is named."""

from __future__ import annotations

from sqlalchemy import select

from tests import test_key_ceremony
from tests.ceremony_helpers import as_secretary
from tests.committee_helpers import (
    RESET_PASSWORD,
    add_member,
    as_admin,
    change_role,
    new_committee_account,
    reset_password,
)
from tests.test_key_ceremony import HOLDERS, cards_of, current_keys, deal, keys_url, stored_text
from tests.web_helpers import login
from web import db as web_db
from web.models import AuditEntry

app, client = test_key_ceremony.app, test_key_ceremony.client  # the same fixtures
MISSING = "is replaced only with 2 of its holders"


def _audit(app, action: str) -> list[dict]:
    with app.app_context():
        entries = web_db.session().scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
        return [entry.detail for entry in entries]


def _dealt(app, client) -> list[list[str]]:
    """December and January dealt 2 of 3 by the secretary: each holder's two cards."""
    answer = deal(client, app, "2026-12", months=2)
    assert answer.status_code == 200, answer.text
    return cards_of(answer.text)


def test_the_secretary_alone_cannot_replace_and_two_holders_can(app, client):
    as_secretary(client)
    cards = _dealt(app, client)  # cards[holder][month]
    old = current_keys(app)
    page = client.get(keys_url(app))
    assert 'name="card-1"' in page.text and 'name="card-2"' in page.text
    alone = deal(client, app, "2026-12", replace=True)
    assert alone.status_code == 400 and MISSING in alone.text and "(0 typed)" in alone.text
    one = deal(client, app, "2026-12", replace=True, cards=(cards[2][0],))  # k − 1
    assert one.status_code == 400 and "(1 typed)" in one.text
    assert cards[2][0].split()[0] + " " + cards[2][0].split()[1] not in one.text  # not sent back
    twice = deal(client, app, "2026-12", replace=True, cards=(cards[2][0], cards[2][0]))
    assert twice.status_code == 400 and "Card 2: the card of Đỗ Thị Thư for 12/2026" in twice.text
    assert [k.id for k in current_keys(app)] == [k.id for k in old]
    assert len(_audit(app, "box_key_replacement_refused")) == 3
    # Two holders type their December cards: both months are replaced on their word.
    before = stored_text(app)
    replaced = deal(client, app, "2026-12", replace=True, cards=(cards[0][0], cards[2][0]))
    assert replaced.status_code == 200, replaced.text
    new = current_keys(app)
    assert [k.box for k in new] == ["2026-12", "2027-01"]
    assert not {k.id for k in new} & {k.id for k in old}
    retired = _audit(app, "box_key_retired")
    assert retired == [
        {"box": "2026-12", "fingerprint": old[0].fingerprint,
         "cards_by": [HOLDERS[0], HOLDERS[2]], "own_cards": True},
        {"box": "2027-01", "fingerprint": old[1].fingerprint,
         "cards_by": [HOLDERS[0], HOLDERS[2]], "own_cards": False},
    ]  # fmt: skip
    stored = stored_text(app)
    assert cards[0][0] not in stored and cards[2][0] not in stored
    assert not {w for w in cards[0][0].split() if w not in before} & set(stored.split())
    # The old cards are now a retired key's: named as such.
    again = deal(client, app, "2026-12", months=1, replace=True, cards=(cards[1][0],))
    assert again.status_code == 400
    assert "Card 1: it is a card of the retired key of 12/2026" in again.text


def test_a_card_of_the_wrong_month_or_with_a_wrong_word_is_named(app, client):
    as_secretary(client)
    december = cards_of(deal(client, app, "2026-12", months=1).text)
    february = cards_of(deal(client, app, "2027-02", months=1).text)
    wrong_month = deal(client, app, "2026-12", months=1, replace=True,
                       cards=(december[0][0], february[1][0]))  # fmt: skip
    assert wrong_month.status_code == 400
    assert "Card 2: it is a card of the key of 02/2027, which is not being replaced" in (
        wrong_month.text
    )
    words = december[1][0].split()
    typo = " ".join([*words[:4], "zzzz", *words[5:]])
    wrong_word = deal(client, app, "2026-12", months=1, replace=True,
                      cards=(december[0][0], typo))  # fmt: skip
    assert wrong_word.status_code == 400 and "Card 2: " in wrong_word.text
    assert "word 5 (zzzz)" in wrong_word.text
    # December and February are held by the same people: December's cards replace both.
    both = deal(client, app, "2026-12", months=3, replace=True,
                cards=(december[1][0], december[2][0]))  # fmt: skip
    assert both.status_code == 200, both.text
    assert [k.box for k in current_keys(app)] == ["2026-12", "2027-01", "2027-02"]
    assert [d["own_cards"] for d in _audit(app, "box_key_retired")] == [True, False]


def test_an_administrator_with_a_puppet_secretary_and_reset_passwords_cannot_replace(app, client):
    as_secretary(client)
    _dealt(app, client)
    old = [k.id for k in current_keys(app)]
    admin = app.test_client()
    as_admin(admin)
    assert reset_password(admin, app, "thu-ky").status_code == 302
    # As the real secretary (password reset), with no card: refused.
    screen = app.test_client()
    assert login(screen, "thu-ky", RESET_PASSWORD).status_code == 302
    screen.get("/?lang=en")
    refused = deal(screen, app, "2026-12", replace=True)
    assert refused.status_code == 400 and MISSING in refused.text
    # A puppet account made secretary, a puppet member added, the holders' passwords reset:
    # still no card of the old keys.
    for username in ("bu-nhin", "bu-nhin-2"):
        new_committee_account(admin, app, username)
    assert add_member(admin, app, "bu-nhin-2", "union_rep").status_code == 302
    moved = change_role(admin, app, "thu-ky", "one_stop_clerk")
    assert moved.status_code == 302, moved.text
    assert add_member(admin, app, "bu-nhin", "secretary").status_code == 302
    for username in ("chu-tich", "mttq"):
        assert reset_password(admin, app, username).status_code == 302
    puppet = app.test_client()
    assert login(puppet, "bu-nhin", RESET_PASSWORD).status_code == 302
    puppet.get("/?lang=en")
    assert deal(puppet, app, "2026-12", replace=True).status_code == 400
    assert [k.id for k in current_keys(app)] == old
    # A month with no key yet is dealt (the residual risk, docs/threat-model.md): its
    # holders, the puppets among them, are on the keys page for the committee to see.
    fresh = deal(puppet, app, "2027-03", months=1)
    assert fresh.status_code == 200, fresh.text
    page = admin.get(keys_url(app))
    assert "Tài khoản bu-nhin" in page.text and "2027" in page.text
