"""Issue 10, "Accounts and sessions": each attack a stranger or a colleague could try on the
accounts, on SQLite and PostgreSQL. Time is the server's fake clock: no test sleeps."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from tests.ceremony_helpers import as_secretary, confirm, october_kiosk, post_form
from tests.web_helpers import PASSWORD, csrf_token, login
from web import credentials, db, login_throttle, passwords
from web.login_throttle import MAX_DELAY
from web.models import Confirmation, Opening, User
from web.models_accounts import LoginFailure

WRONG = "không-phải-mật-khẩu-này"


def browser(app, address: str):
    """A browser of its own (its own cookies) at ``address``, over HTTPS."""
    client = app.test_client()
    client.environ_base.update({"REMOTE_ADDR": address, "wsgi.url_scheme": "https"})
    return client


def wait_out(clock, answer) -> None:
    """Let the server's clock run past the wait a 429 asked for."""
    clock.advance(int(answer.headers["Retry-After"]) * 1000)


def hammer(app, clock, username: str, failures: int = 12) -> None:
    """A stranger with many addresses sends ``failures`` wrong passwords for ``username``
    (more than the account's free ones), waiting out whatever the throttle asks."""
    sent, address = 0, 0
    while sent < failures:
        address += 1
        stranger = browser(app, f"198.51.100.{address}")
        for _ in range(2):  # within one address's free failures
            answer = login(stranger, username, WRONG)
            if answer.status_code == 429:
                wait_out(clock, answer)
                answer = login(stranger, username, WRONG)
            assert answer.status_code == 401
            sent += 1


def test_a_stranger_cannot_lock_a_member_out_of_their_own_browser(site, server_clock) -> None:
    app, _, _ = site
    own = browser(app, "10.0.0.5")
    assert login(own, "admin").status_code == 302  # the member's own browser, once
    own.post("/logout", data={"csrf_token": csrf_token(own.get("/").text)})
    hammer(app, server_clock, "admin")
    # Guessing is slowed for every browser the account has not logged in from …
    fresh = login(browser(app, "10.0.0.77"), "admin")
    assert fresh.status_code == 429 and int(fresh.headers["Retry-After"]) >= 1
    # … but the member's own browser goes straight in, right after the storm.
    assert login(own, "admin").status_code == 302
    assert own.get("/").status_code == 200


def test_one_address_trying_one_account_waits_longer_and_longer(site, server_clock) -> None:
    app, _, _ = site
    guesser = browser(app, "203.0.113.9")
    for _ in range(3):  # a few typing mistakes cost nothing
        assert login(guesser, "kt-dong", WRONG).status_code == 401
    waits = []
    for _ in range(4):
        refused = login(guesser, "kt-dong", PASSWORD)  # even the right one is not looked at
        assert refused.status_code == 429 and "thử lại sau" in refused.text
        waits.append(int(refused.headers["Retry-After"]))
        wait_out(server_clock, refused)
        assert login(guesser, "kt-dong", WRONG).status_code == 401
    assert waits == [1, 2, 4, 8]
    # The member at another address is not slowed by one address's guesses …
    assert login(browser(app, "10.0.0.5"), "kt-dong").status_code == 302
    # … and after the wait, the right password works here too and forgets the failures.
    wait_out(server_clock, login(guesser, "kt-dong", PASSWORD))
    assert login(guesser, "kt-dong", PASSWORD).status_code == 302


def test_the_wait_is_capped_and_the_failures_forgotten(site, server_clock) -> None:
    app, _, _ = site
    guesser = browser(app, "203.0.113.9")
    waits: list[int] = []
    while MAX_DELAY.total_seconds() not in waits:
        answer = login(guesser, "xem-hac", WRONG)
        if answer.status_code == 429:
            waits.append(int(answer.headers["Retry-After"]))
            wait_out(server_clock, answer)
        assert len(waits) < 14  # doubling from 1 s reaches 15 minutes by the 11th wait
    assert max(waits) == MAX_DELAY.total_seconds()
    server_clock.advance(25 * 3600 * 1000)  # a day later nothing is held against anyone
    assert login(guesser, "xem-hac").status_code == 302


def test_one_address_trying_many_accounts_slows_that_address_only(site, monkeypatch) -> None:
    app, _, _ = site
    # (The dummy hash checked for unknown names made cheap: not what this test measures.)
    monkeypatch.setattr(
        passwords, "_dummy_hash", lambda: generate_password_hash("x", "pbkdf2:sha256:1")
    )
    guesser = browser(app, "203.0.113.9")
    names = [f"ten-{n}" for n in range(20)]  # 20 different names, one guess each
    for name in names:
        assert login(guesser, name, WRONG).status_code == 401
    assert login(guesser, "admin").status_code == 429  # now this address waits
    assert login(browser(app, "203.0.113.10"), "admin").status_code == 302  # no other


def test_a_burst_of_parallel_guesses_counts_the_ones_still_being_checked(site) -> None:
    """Attempts are stored before their hash is checked: three still in flight count."""
    app, _, _ = site
    with app.test_request_context(environ_base={"REMOTE_ADDR": "203.0.113.9"}):
        who = credentials.browser_client("admin")
        for _ in range(3):
            login_throttle.begin(db.session(), "admin", who)
        verdict = credentials.check(db.session(), "admin", PASSWORD, who)
    assert verdict.user is None and verdict.wait is not None


def counted(function, calls: list[str]):
    def call(*args, **kwargs):
        calls.append(function.__name__)
        return function(*args, **kwargs)

    return call


def test_unknown_and_known_accounts_cost_one_password_hash_each(site, monkeypatch) -> None:
    """The login answers in the same time whether the account exists: an unknown name
    (or a deactivated account) is checked against a dummy hash of the same kind."""
    app, client, _ = site
    computed: list[str] = []
    for name in ["scrypt", "pbkdf2_hmac"]:  # werkzeug's two ways to hash a password
        real = getattr(hashlib, name)
        monkeypatch.setattr(hashlib, name, counted(real, computed))
    login(client, "no-such-account", WRONG)  # the dummy hash is made on first use: not counted
    with app.app_context():
        db.session().scalar(select(User).where(User.username == "xem-hac")).active = False
        db.session().commit()
    costs = {}
    for name in ["admin", "no-such-account", "ten-khac", "xem-hac"]:
        computed.clear()
        assert login(browser(app, "10.0.0.5"), name, WRONG).status_code == 401
        costs[name] = len(computed)
    assert costs == {"admin": 1, "no-such-account": 1, "ten-khac": 1, "xem-hac": 1}


@pytest.mark.parametrize(
    "target",
    [
        "/%09/evil.example",
        "/%0a/evil.example",
        "/%0d%0a/evil.example",
        "//evil.example",
        "/\\evil.example",
        "/%5Cevil.example",
        "/%2F/evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "/\u3000/evil.example",
        "/\u200b/evil.example",
        "evil.example",
    ],
)
def test_after_login_the_browser_goes_to_local_paths_only(site, target: str) -> None:
    _app, client, _ = site
    page = client.get("/login")
    answer = client.post(
        "/login",
        query_string={"next": target},
        data={"username": "admin", "password": PASSWORD, "csrf_token": csrf_token(page.text)},
    )
    assert answer.status_code == 302 and answer.headers["Location"] == "/"


def test_a_local_next_page_is_kept(site) -> None:
    _app, client, _ = site
    page = client.get("/login")
    answer = client.post(
        "/login?next=%2Fdevices%3Fx%3D1",
        data={"username": "admin", "password": PASSWORD, "csrf_token": csrf_token(page.text)},
    )
    assert answer.headers["Location"] == "/devices?x=1"


@pytest.fixture
def ceremony(ceremony_app, tmp_path):
    """October's box of Xã Đông Thanh, its ceremony started by the secretary."""
    client = ceremony_app.test_client()
    october_kiosk(ceremony_app, client, tmp_path)
    as_secretary(client)
    assert post_form(client, ceremony_app, "2026-10", "start").status_code == 302
    return ceremony_app, client


def test_a_stranger_cannot_keep_the_chairman_from_confirming(ceremony, server_clock) -> None:
    app, secretary = ceremony
    at_the_office = browser(app, "127.0.0.1")  # the secretary's screen's address
    for _ in range(4):
        login(at_the_office, "chu-tich", WRONG)
    hammer(app, server_clock, "chu-tich")  # … and from everywhere else
    assert login(browser(app, "127.0.0.1"), "chu-tich").status_code == 429
    assert confirm(secretary, app, "2026-10", "chu-tich").status_code == 302
    with app.app_context():
        session = db.session()
        confirmed = session.scalars(select(Confirmation.user_id)).all()
        chairman = session.scalar(select(User.id).where(User.username == "chu-tich"))
        assert session.scalar(select(Opening.status)) == "started"
    assert confirmed == [chairman]


def test_guessing_on_the_ceremony_screen_is_throttled_too(ceremony, server_clock) -> None:
    app, secretary = ceremony
    for _ in range(3):
        assert confirm(secretary, app, "2026-10", "mttq", WRONG).status_code == 401
    refused = confirm(secretary, app, "2026-10", "mttq")
    assert refused.status_code == 429
    server_clock.advance(1000)
    assert confirm(secretary, app, "2026-10", "mttq").status_code == 302
    with app.app_context():  # the right password forgot this screen's failures for mttq
        failures = select(func.count()).where(LoginFailure.username == "mttq")
        assert db.session().scalar(failures) == 0
