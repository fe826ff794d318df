"""The key ceremonies through the admin pages: an office's box keys dealt among its
committee, the share cards printed once (and kept nowhere), read back, replaced before
their month; the province's escrow key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from hom_phieu.ledger import key_shares
from tests.ceremony_helpers import as_secretary
from tests.web_helpers import csrf_token, login
from web import db as web_db
from web.models import AuditEntry, User
from web.models_seal import BoxKey, KeyShare

HOLDERS = ("Nguyễn Văn Ễnh", "Trần Thị Hằng", "Đỗ Thị Thư")  # chu-tich, mttq, thu-ky
CARD = re.compile(r'<section class="card">(.*?)</section>', re.S)
WORDS = re.compile(r'<ol class="words">(.*?)</ol>', re.S)


@pytest.fixture
def app(ceremony_app):
    """Xã Đông Thanh's committee with three active members (the others deactivated)."""
    with ceremony_app.app_context():
        session = web_db.session()
        for user in session.scalars(
            select(User).where(User.username.in_(["cong-doan", "mot-cua", "pho-chu-tich"]))
        ):
            user.active = False
        session.commit()
    return ceremony_app


@pytest.fixture
def client(app):
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    return client


def keys_url(app, tail: str = "") -> str:
    return f"/offices/{app.config['OFFICE_ID']}/keys{tail}"


def deal(client, app, first: str, months: int = 2, threshold: int = 2, replace: bool = False,
         cards: tuple[str, ...] = ()):  # fmt: skip
    """The dealing form sent; ``cards``: those typed for the keys being replaced."""
    page = client.get(keys_url(app))
    data = {"first": first, "months": str(months), "threshold": str(threshold),
            "csrf_token": csrf_token(page.text)}  # fmt: skip
    if replace:
        data["replace"] = "y"
    data.update({f"card-{n}": card for n, card in enumerate(cards, start=1)})
    return client.post(keys_url(app, "/deal"), data=data)


def cards_of(page: str) -> list[list[str]]:
    """Each holder's mnemonics, in the page's order."""
    return [
        [" ".join(re.findall(r"<li>([a-z]+)</li>", words)) for words in WORDS.findall(card)]
        for card in CARD.findall(page)
    ]


def current_keys(app) -> list[BoxKey]:
    with app.app_context():
        session = web_db.session()
        keys = list(session.scalars(select(BoxKey).where(BoxKey.retired_at.is_(None),
                                                         BoxKey.purpose == "box")
                                    .order_by(BoxKey.box)))  # fmt: skip
        session.expunge_all()
        return keys


def stored_text(app) -> str:
    """All the database holds: the SQLite file's bytes, or on PostgreSQL every row of the
    keys, shares and audit tables as text."""
    url = make_url(app.config["DATABASE_URL"])
    if url.get_backend_name() == "sqlite":
        path = Path(url.database)
        files = [path, *path.parent.glob(path.name + "-*")]
        return b"".join(f.read_bytes() for f in files if f.exists()).decode("latin-1")
    with app.app_context():
        session = web_db.session()
        return "\n".join(
            row
            for table in ("box_keys", "key_shares", "audit_log")
            for (row,) in session.execute(text(f"SELECT t::text FROM {table} t"))
        )


def leaked(words: set[str], stored: str, before: str) -> set[str]:
    """Words of the cards found in ``stored`` as words (and not there before the dealing)."""
    found = set(re.findall(r"\w+", stored)) - set(re.findall(r"\w+", before))
    return words & found


def test_the_secretary_deals_two_months_and_the_cards_are_kept_nowhere(app, client):
    as_secretary(client)
    before = stored_text(app)
    answer = deal(client, app, "2026-12")
    assert answer.status_code == 200, answer.text
    assert "no-store" in answer.headers["Cache-Control"]
    cards = cards_of(answer.text)
    assert len(cards) == 3 and all(len(months) == 2 for months in cards)
    for name in HOLDERS:
        assert name in answer.text
    assert "Thư ký" in answer.text and "Cần 2 trong 3 thành viên" in answer.text
    assert "12/2026" in answer.text and "01/2027" in answer.text
    keys = current_keys(app)
    assert [k.box for k in keys] == ["2026-12", "2027-01"]
    for key in keys:
        assert key.fingerprint in answer.text and (key.threshold, key.holders) == (2, 3)
    mnemonics = [m for months in cards for m in months]
    assert all(len(m.split()) == 20 for m in mnemonics) and len(set(mnemonics)) == 6
    infos = [key_shares.read(cards[0][0]), key_shares.read(cards[2][0])]
    assert infos[0].identifier == infos[1].identifier  # two cards of December's key
    # Nowhere again: not on the keys page, not by GET, not in the database.
    page = client.get(keys_url(app))
    assert page.status_code == 200 and keys[0].fingerprint in page.text
    assert not any(m.split()[0] + " " + m.split()[1] in page.text for m in mnemonics)
    assert client.get(keys_url(app, "/deal")).status_code == 405
    words = {w for m in mnemonics for w in m.split()}
    stored = stored_text(app)
    assert not any(m in stored for m in mnemonics)
    assert leaked(words, stored, before) == set()
    with app.app_context():
        entry = web_db.session().scalar(
            select(AuditEntry).where(AuditEntry.action == "box_keys_dealt")
        )
        assert entry.detail["boxes"] == ["2026-12", "2027-01"] and entry.detail["threshold"] == 2


def test_who_sees_the_keys_page_and_only_the_secretary_deals(app, client):
    seen = {"mttq": 200, "kt-dong": 200, "admin": 200, "ngoai": 403, "xem-hac": 403,
            "hac-mttq": 404}  # fmt: skip
    for username, status in seen.items():
        assert login(client, username).status_code == 302
        page = client.get(keys_url(app))
        assert page.status_code == status, username
        if status == 200:
            assert 'action="' + keys_url(app, "/deal") not in page.text
            refused = client.post(keys_url(app, "/deal"), data={
                "first": "2026-12", "months": "1", "threshold": "2",
                "csrf_token": csrf_token(page.text)})  # fmt: skip
            assert refused.status_code == 403, username
        client.post("/logout", data={"csrf_token": csrf_token(client.get("/").text)})
    assert current_keys(app) == []


def test_a_holder_reads_their_card_back(app, client):
    as_secretary(client)
    cards = cards_of(deal(client, app, "2026-12").text)
    december = current_keys(app)[0]
    url = keys_url(app, f"/{december.id}/read-back")
    page = client.get(url)
    assert page.status_code == 200 and december.fingerprint in page.text
    typed = cards[1][0].replace(" ", "\n", 3).upper()  # line breaks and case do not matter
    done = client.post(url, data={"card": typed, "csrf_token": csrf_token(page.text)},
                       follow_redirects=True)  # fmt: skip
    assert done.status_code == 200
    assert "The card of Trần Thị Hằng for 12/2026 is read back" in done.text
    words = cards[0][0].split()
    wrong = " ".join([*words[:2], "zzzz", *words[3:]])
    refused = client.post(url, data={"card": wrong, "csrf_token": csrf_token(page.text)})
    assert refused.status_code == 400 and "word 3 (zzzz)" in refused.text
    assert words[0] + " " + words[1] not in refused.text  # the typed words are not sent back
    other = client.post(url, data={"card": cards[0][1], "csrf_token": csrf_token(page.text)})
    assert other.status_code == 400 and "not one of the cards" in other.text
    with app.app_context():
        session = web_db.session()
        shares = session.scalars(select(KeyShare).where(KeyShare.box_key_id == december.id)
                                 .order_by(KeyShare.member_index)).all()  # fmt: skip
        assert [s.read_back_at is not None for s in shares] == [False, True, False]
        actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert actions.count("key_share_read_back") == 1
        assert actions.count("key_share_read_back_refused") == 2
    assert not any(w in stored_text(app) for w in ("zzzz", cards[1][0]))


def test_a_begun_month_keeps_its_key_and_a_future_one_is_replaced(app, client):
    as_secretary(client)
    assert deal(client, app, "2026-11", months=1).status_code == 200  # begun, had no key yet
    refused = deal(client, app, "2026-11", months=2)
    assert refused.status_code == 400
    assert "already has a key and its month has begun" in refused.text
    first = cards_of(deal(client, app, "2026-12", months=1).text)
    again = deal(client, app, "2026-12", months=1)
    assert again.status_code == 400 and "tick" in again.text  # not replaced by a reload
    old = current_keys(app)[1]
    replaced = deal(client, app, "2026-12", months=1, replace=True,
                    cards=(first[0][0], first[1][0]))  # two of its holders agree  # fmt: skip
    assert replaced.status_code == 200 and cards_of(replaced.text) != first
    keys = current_keys(app)
    assert [k.box for k in keys] == ["2026-11", "2026-12"] and keys[1].id != old.id
    with app.app_context():
        session = web_db.session()
        assert session.get(BoxKey, old.id).retired_at is not None
        retired = session.scalar(select(AuditEntry).where(AuditEntry.action == "box_key_retired"))
        assert retired.detail == {"box": "2026-12", "fingerprint": old.fingerprint,
                                  "cards_by": list(HOLDERS[:2]), "own_cards": True}  # fmt: skip
    page = client.get(keys_url(app))
    assert old.fingerprint in page.text  # listed as retired
    too_many = deal(client, app, "2027-03", months=1, threshold=4)
    assert too_many.status_code == 400 and "3 active members" in too_many.text


def test_the_province_deals_its_escrow_key(app, client):
    assert login(client, "kt-tinh").status_code == 302
    client.get("/?lang=en")  # (the pages in English; the cards are in Vietnamese)
    with app.app_context():
        session = web_db.session()
        ids = {u.username: u.id for u in session.scalars(select(User))}
        province = session.scalar(select(User.unit_id).where(User.username == "kt-tinh"))
    url = f"/units/{province}/escrow"
    assert client.get(url).status_code == 403  # a technician does not deal it
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/").text)})
    assert login(client, "admin").status_code == 302
    page = client.get(url)
    assert page.status_code == 200 and "no escrow key" in page.text
    holders = [ids["admin"], ids["kt-tinh"], ids["chu-tich"]]
    answer = client.post(url, data={"holders": holders, "threshold": "2",
                                    "csrf_token": csrf_token(page.text)})  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert "no-store" in answer.headers["Cache-Control"]
    cards = cards_of(answer.text)
    assert len(cards) == 3 and all(len(c) == 1 and len(c[0].split()) == 20 for c in cards)
    assert "Cần 2 trong 3 thành viên" in answer.text and "Kỹ thuật tỉnh" in answer.text
    page = client.get(url)
    with app.app_context():
        escrow = web_db.session().scalar(select(BoxKey).where(BoxKey.purpose == "escrow"))
        assert escrow.unit_id == province and escrow.threshold == 2
        fingerprint = escrow.fingerprint
    assert fingerprint in page.text and cards[0][0] not in page.text
    again = client.post(url, data={"holders": holders, "threshold": "2",
                                   "csrf_token": csrf_token(page.text)})  # fmt: skip
    assert again.status_code == 400 and "escrow key already" in again.text
    assert cards[1][0] not in stored_text(app)
    # A holder reads their card back; the office's new keys carry an escrow copy.
    client.post("/logout", data={"csrf_token": csrf_token(page.text)})
    assert login(client, "kt-tinh").status_code == 302
    back = client.get(url + "/read-back")
    done = client.post(url + "/read-back", data={"card": cards[1][0],
                       "csrf_token": csrf_token(back.text)}, follow_redirects=True)  # fmt: skip
    assert "The card of Kỹ thuật tỉnh for the escrow key is read back" in done.text
    as_secretary(client)
    assert deal(client, app, "2026-12", months=1).status_code == 200
    assert current_keys(app)[0].escrow_key_id is not None
    page = client.get(keys_url(app))
    assert fingerprint in page.text
