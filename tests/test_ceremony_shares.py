"""The ceremony opens a sealed box only with k shares typed by the committee (or the
province's escrow holders): a kiosk's ledger sealed to the office's dealt key, synced, then
opened through the secretary's screen with the real test client."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from hom_phieu.ledger.box_key import BoxPrivateKey, BoxPublicKey, new_master
from hom_phieu.ledger.key_shares import ShareError
from hom_phieu.ledger.opinion import KeyRing
from tests.ceremony_helpers import (
    as_secretary,
    box_url,
    confirm,
    enrolled_kiosk,
    give_code,
    minutes_of,
    post_form,
)
from tests.committee_helpers import (
    RESET_PASSWORD,
    add_member,
    as_admin,
    new_committee_account,
    reset_password,
    user_id,
)
from tests.seal_helpers import deal, keyring
from tests.web_helpers import login
from web import db as web_db
from web.box_keys import DealtKey, Holder, deal_box_keys, deal_escrow_key
from web.minutes import Minutes
from web.minutes_render import render
from web.models import AuditEntry, Office, Opening
from web.models_seal import BoxKey

BOX = "2026-10"
REASON = "Kiểm tra trước mặt tổ"


@pytest.fixture
def app(ceremony_app):
    return ceremony_app


@pytest.fixture
def client(app):
    return app.test_client()


def _office_id(app) -> int:
    return app.config["OFFICE_ID"]


def sealed_kiosk(app, client, tmp_path: Path, ring: KeyRing, rogue: BoxPrivateKey | None = None):
    """October's ballots sealed to ``ring`` (and, with ``rogue``, three more to a key the
    committee does not hold), November opened, everything synced."""
    kiosk = enrolled_kiosk(app, client, tmp_path / "k1", "2026-10-30T08:00:00")
    kiosk.box.use_keys(ring)
    kiosk.vote("lan", "rat_hai_long", 4)
    kiosk.vote("binh", "hai_long", 2)
    kiosk.vote("binh", "khong_hai_long", 1)
    if rogue is not None:
        kiosk.box.use_keys(KeyRing({BOX: rogue.public}))
        kiosk.vote("lan", "khong_hai_long", 3)
        kiosk.box.use_keys(ring)
    kiosk.clock.advance_to("2026-11-01T07:30:00")
    kiosk.vote("lan", "rat_hai_long", 1)  # November's box: closes October's
    kiosk.sync(client)
    return kiosk


def quorum(app, client) -> None:
    as_secretary(client)
    assert post_form(client, app, BOX, "start").status_code == 302
    for username in ("chu-tich", "mttq", "thu-ky"):
        assert confirm(client, app, BOX, username).status_code == 302


def shares(dealt: DealtKey, cards, prefix: str = "share") -> dict[str, str]:
    return {f"{prefix}-{n}": dealt.cards[i].mnemonic for n, i in enumerate(cards, start=1)}


def opening_status(app) -> str | None:
    with app.app_context():
        return web_db.session().scalar(select(Opening.status).where(Opening.box == BOX))


def october_votes(kiosk) -> int:
    return sum(n for (box, _clerk, _level), n in kiosk.pressed.items() if box == BOX)


def test_k_minus_one_shares_fail_and_k_shares_open_and_count_exactly(app, client, tmp_path):
    dealt = deal(app, _office_id(app), [BOX, "2026-11"])
    kiosk = sealed_kiosk(app, client, tmp_path, keyring(app, _office_id(app)))
    october = dealt[BOX]
    quorum(app, client)
    page = client.get(box_url(app, BOX) + "?verify=1")
    assert october.key.fingerprint in page.text and "zero report slip" in page.text
    assert "every ballot sealed to the box key" in page.text
    reviewed = post_form(client, app, BOX, "review", warnings_reason=REASON)
    assert reviewed.text.count('name="share-') == 3  # k fields, on the review's form
    refused = post_form(client, app, BOX, "open", warnings_reason=REASON, **shares(october, [0, 1]))
    assert refused.status_code == 400 and "3 shares of key" in refused.text
    assert october.cards[0].mnemonic not in refused.text  # never echoed back
    assert opening_status(app) != Opening.OPENED

    opened = post_form(client, app, BOX, "open", **shares(october, [1, 3, 4]))  # a lost share
    assert opened.status_code == 302, opened.text
    minutes = minutes_of(app, BOX)
    assert minutes["count"]["votes"] == october_votes(kiosk) == 7
    by_clerk = {row["key"]: row["by_level"] for row in minutes["count"]["by_clerk"]}
    assert by_clerk["lan"]["very_satisfied"] == 4 and by_clerk["binh"]["not_satisfied"] == 1
    seal = minutes["seal"]
    assert seal["key"] == october.key.fingerprint and seal["escrow"] is False
    assert [s["name"] for s in seal["shares"]] == [october.cards[i].holder.name for i in (1, 3, 4)]
    with app.app_context():
        key = web_db.session().get(BoxKey, october.key.id)
        assert key.published_master is not None  # the recount bundle opens it again
        audits = web_db.session().scalars(select(AuditEntry)).all()
        logged = " ".join(f"{a.action} {a.detail}" for a in audits)
        assert "box_opened" in logged and october.key.fingerprint in logged
        for card in october.cards:  # no share in the audit log
            assert card.mnemonic.split()[3] not in logged.split()
    stored = Minutes.from_json(minutes)
    for kind in ("pdf", "xlsx", "csv"):
        assert render(kind, stored, b"{}", "0" * 64) is not None
    csv = render("csv", stored, b"{}", "0" * 64)
    assert f"Box key,{october.key.fingerprint}" in csv.body
    html = client.get(box_url(app, BOX) + "/minutes")
    assert october.key.fingerprint in html.text and october.cards[1].holder.name in html.text


def test_a_typo_names_the_field_and_the_word_and_the_form_comes_back_empty(app, client, tmp_path):
    dealt = deal(app, _office_id(app), [BOX, "2026-11"])
    sealed_kiosk(app, client, tmp_path, keyring(app, _office_id(app)))
    quorum(app, client)
    typed = shares(dealt[BOX], [0, 1, 2])
    words = typed["share-2"].split()
    words[4] = "xyzzy"
    typed["share-2"] = " ".join(words)
    refused = post_form(client, app, BOX, "open", warnings_reason=REASON, **typed)
    assert refused.status_code == 400
    assert "Share 2: word 5 (xyzzy)" in refused.text
    assert typed["share-1"] not in refused.text and words[0] + " " + words[1] not in refused.text
    assert REASON in refused.text  # the other fields stay
    assert opening_status(app) != Opening.OPENED
    another = deal_elsewhere(app)
    typed["share-2"] = another.cards[0].mnemonic
    refused = post_form(client, app, BOX, "open", **typed)
    assert refused.status_code == 400 and "Share 2: this share is not one of the cards" in (
        refused.text)  # fmt: skip


def deal_elsewhere(app) -> DealtKey:
    """A key of Hạc Thành's office: real cards, of another box."""
    with app.app_context():
        session = web_db.session()
        office = session.scalar(select(Office).where(Office.id != _office_id(app)))
        dealt = deal_box_keys(session, office, [BOX], 1, [Holder(None, "Người khác", "x")], None)
        session.commit()
        return dealt[0]


def test_an_administrator_with_every_password_and_new_members_still_cannot_open(
    app, client, tmp_path
):
    dealt = deal(app, _office_id(app), [BOX, "2026-11"])
    sealed_kiosk(app, client, tmp_path, keyring(app, _office_id(app)))
    admin = app.test_client()
    as_admin(admin)
    new_committee_account(admin, app, "gia-1")
    assert add_member(admin, app, "gia-1", "union_rep").status_code == 302
    with app.app_context():  # worse than the pages allow: the new member even holds a code
        give_code(web_db.session(), _office_id(app), user_id(app, "gia-1"))
        web_db.session().commit()
    quorum(app, client)  # the committee met its quorum; then the administrator steps in
    for username in ("thu-ky", "chu-tich", "mttq"):
        assert reset_password(admin, app, username).status_code == 302
    screen = app.test_client()
    assert login(screen, "thu-ky", RESET_PASSWORD).status_code == 302
    screen.get("/?lang=en")
    for attempt in ({}, shares(deal_elsewhere(app), [0])):
        refused = post_form(screen, app, BOX, "open", warnings_reason="x", **attempt)
        assert refused.status_code == 400, refused.status_code
    assert opening_status(app) != Opening.OPENED
    with app.app_context(), pytest.raises(ShareError, match="month has begun"):
        session = web_db.session()  # nor can he deal the box a key of his own now
        deal_box_keys(session, session.get(Office, _office_id(app)), [BOX], 1,
                      [Holder(None, "Quản trị", "x")], None)  # fmt: skip
    assert dealt[BOX].key.fingerprint  # (the committee's cards still open it)
    opened = post_form(
        screen, app, BOX, "open", warnings_reason="x", **shares(dealt[BOX], [0, 2, 4])
    )
    assert opened.status_code == 302 and opening_status(app) == Opening.OPENED


def test_a_substituted_key_is_a_fault_and_its_ballots_are_not_counted(app, client, tmp_path):
    dealt = deal(app, _office_id(app), [BOX, "2026-11"])
    rogue = BoxPrivateKey.from_master(new_master())
    kiosk = sealed_kiosk(app, client, tmp_path, keyring(app, _office_id(app)), rogue)
    quorum(app, client)
    page = client.get(box_url(app, BOX) + "?verify=1")
    fingerprint = rogue.public.fingerprint
    assert f"3 ballots sealed to key {fingerprint}" in page.text and "substituted key" in page.text
    assert kiosk.key.device_id in page.text
    refused = post_form(client, app, BOX, "open", **shares(dealt[BOX], [0, 1, 2]))
    assert refused.status_code == 400 and "give the reason" in refused.text
    opened = post_form(client, app, BOX, "open", warnings_reason="Báo công an",
                       **shares(dealt[BOX], [0, 1, 2]))  # fmt: skip
    assert opened.status_code == 302
    minutes = minutes_of(app, BOX)
    assert minutes["count"]["votes"] == october_votes(kiosk) - 3 == 7
    faults = [c for c in minutes["checks"] if c["code"] == "seal_key"]
    assert len(faults) == 1 and faults[0]["severity"] == "fault"
    assert faults[0]["device_id"] == kiosk.key.device_id and fingerprint in faults[0]["message"]


def escrowed(app) -> tuple[DealtKey, dict[str, DealtKey]]:
    """The province's escrow key (2 of 3 holders), then the office's keys sealed to it."""
    with app.app_context():
        session = web_db.session()
        unit = session.get(Office, _office_id(app)).unit
        holders = [Holder(None, f"Cán bộ tỉnh {n}", "escrow") for n in (1, 2, 3)]
        escrow = deal_escrow_key(session, unit, 2, holders, None)
        session.commit()
    return escrow, deal(app, _office_id(app), [BOX, "2026-11"])


def test_the_escrow_opens_a_box_whose_committee_lost_too_many_cards(app, client, tmp_path):
    escrow, dealt = escrowed(app)
    kiosk = sealed_kiosk(app, client, tmp_path, keyring(app, _office_id(app)))
    quorum(app, client)
    page = post_form(client, app, BOX, "review", warnings_reason=REASON)
    assert "Open with the province&#39;s escrow key" in page.text or "escrow key" in page.text
    lost = post_form(client, app, BOX, "open", **shares(dealt[BOX], [0, 1]))  # two of five left
    assert lost.status_code == 400 and opening_status(app) != Opening.OPENED
    opened = post_form(client, app, BOX, "open", **shares(escrow, [0, 2], prefix="escrow"))
    assert opened.status_code == 302, opened.text
    minutes = minutes_of(app, BOX)
    assert minutes["count"]["votes"] == october_votes(kiosk)
    seal = minutes["seal"]
    assert seal["escrow"] is True and seal["escrow_key"] == escrow.key.fingerprint
    assert [s["name"] for s in seal["escrow_shares"]] == ["Cán bộ tỉnh 1", "Cán bộ tỉnh 3"]
    with app.app_context():
        actions = web_db.session().scalars(select(AuditEntry.action)).all()
        assert "escrow_key_used" in actions


def test_ballots_of_a_kiosk_without_a_box_key_need_the_escrow_holders_too(app, client, tmp_path):
    escrow, dealt = escrowed(app)
    with app.app_context():  # the kiosk's configuration had no box key: the escrow key only
        public = BoxPublicKey(web_db.session().get(BoxKey, escrow.key.id).public_key)
    kiosk = sealed_kiosk(app, client, tmp_path, KeyRing(escrow=public))
    quorum(app, client)
    page = client.get(box_url(app, BOX) + "?verify=1")
    assert "7 ballots sealed to the province escrow key" in page.text
    committee = shares(dealt[BOX], [0, 1, 2])
    refused = post_form(client, app, BOX, "open", warnings_reason=REASON, **committee)
    assert refused.status_code == 400 and "escrow holders must type their shares" in refused.text
    assert opening_status(app) != Opening.OPENED
    opened = post_form(client, app, BOX, "open", warnings_reason=REASON, **committee,
                       **shares(escrow, [1, 2], "escrow"))  # fmt: skip
    assert opened.status_code == 302, opened.text
    minutes = minutes_of(app, BOX)
    assert minutes["count"]["votes"] == october_votes(kiosk)
    assert minutes["seal"]["escrow"] is True and len(minutes["seal"]["shares"]) == 3
    assert any(c["code"] == "seal_escrow" for c in minutes["checks"])


def test_an_office_without_a_box_key_opens_without_shares_and_says_so(app, client, tmp_path):
    kiosk = sealed_kiosk(app, client, tmp_path, KeyRing())
    quorum(app, client)
    page = post_form(client, app, BOX, "review", warnings_reason=REASON)
    assert "no box key for this month" in page.text and 'name="share-' not in page.text
    opened = post_form(client, app, BOX, "open", warnings_reason=REASON)
    assert opened.status_code == 302
    minutes = minutes_of(app, BOX)
    assert "seal" not in minutes and minutes["count"]["votes"] == october_votes(kiosk)
    said = [c["message"] for c in minutes["checks"] if c["code"] == "seal"]  # in Vietnamese
    assert said and "không có khóa hòm phiếu" in said[0]
