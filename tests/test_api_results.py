"""The results read API (``/api/results/v1``) and its tokens, on SQLite and PostgreSQL:
a year of real openings read by a province system equals the signed minutes (months with
their supplements, clerks, communes); a commune's token sees only its commune; revoked,
missing and garbage tokens are refused; sealed boxes never appear; bad parameters are
400s naming them; every answer is as docs/results-api.openapi.yaml describes. And the
administrator's pages that issue and revoke the tokens.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from sqlalchemy import func, select

from tests.ceremony_helpers import enrolled_kiosk
from tests.fuzz_helpers import (
    Operation,
    assert_conforms,
    bounded,
    load_openapi,
    operations,
    resolve,
)
from tests.report_helpers import MONTHS, minutes_by_box, opened_year, server_time
from tests.web_helpers import create_account, csrf_token, login
from web import db as web_db
from web.api_results_auth import new_token, token_hash
from web.minutes import Minutes
from web.models import AuditEntry, LedgerRecord, Unit
from web.models_results import ReadToken
from web.report_stats import Rate
from web.services import services

SPEC = load_openapi("results-api.openapi.yaml")
PREFIX = SPEC["servers"][0]["url"]
OPERATIONS = {operation.path: operation for operation in operations(SPEC, prefix=PREFIX)}
LEVELS = ("very_satisfied", "satisfied", "not_satisfied")
YEAR = {"from": "2026-01", "to": "2026-12"}


@pytest.fixture
def app(ceremony_app):
    return ceremony_app


@pytest.fixture
def client(app):
    return app.test_client()


def issue(app, unit_id: int, label: str = "Sở Nội vụ") -> str:
    """A token issued for ``unit_id`` straight in the database (the pages have their test)."""
    secret = new_token()
    with app.app_context():
        session = web_db.session()
        session.add(ReadToken(unit_id=unit_id, label=label, token_hash=token_hash(secret)))
        session.commit()
    return secret


ERROR = resolve(SPEC["components"]["schemas"]["Error"], SPEC)


def operation_of(path: str):
    """The described operation a concrete path is (ids put back as parameters); any other
    path's answers are errors."""
    pattern = re.sub(r"/\d+/", "/{id}/", PREFIX + path.split("?")[0])
    for described, operation in OPERATIONS.items():
        if re.sub(r"\{[^}]+\}", "{id}", described) == pattern:
            return operation
    return Operation(PREFIX + path, "GET", None, {401: ERROR, 404: ERROR, 405: ERROR})


def get(client, token: str | None, path: str, status: int = 200, **params) -> dict:
    """GET an API path; the answer must have ``status``, be described, set no cookie."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    response = client.get(PREFIX + path, headers=headers, query_string=params)
    assert response.status_code == status, (path, params, response.status_code, response.text)
    assert response.mimetype == "application/json"
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
    assert_conforms(operation_of(path), response.status_code, response.data)
    body = response.get_json()
    if status >= 400:
        assert body["message"] and body["message_en"] and body["message"] != body["message_en"]
    return body


# --- the minutes, summed by hand -----------------------------------------------------------
def month_sums(minutes: dict[str, Minutes], channel: str = "official") -> dict[str, dict]:
    """Per month: its own count and the supplements later openings counted for it."""
    sums: dict[str, dict] = defaultdict(lambda: {"levels": [0, 0, 0], "late": 0})

    def count_of(count):
        if channel == "official":
            return count
        return count.unverified

    for box, document in minutes.items():
        counts = [(box, count_of(document.count), False)]
        counts += [(s.box, count_of(s.count), True) for s in document.supplements]
        for month, count, late in counts:
            entry = sums[month]
            if count is None:
                continue
            for i, level in enumerate(LEVELS):
                entry["levels"][i] += count.by_level[level]
            if late:
                entry["late"] += count.votes
    return sums


def clerk_sums(minutes: dict[str, Minutes]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for document in minutes.values():
        for count in [document.count, *(s.count for s in document.supplements)]:
            for row in count.by_clerk:
                for i, level in enumerate(LEVELS):
                    found[row.key][i] += row.by_level[level]
    return found


def assert_figures(row: dict, levels: list[int]) -> None:
    ballots = sum(levels)
    assert row["by_level"] == dict(zip(LEVELS, levels, strict=True))
    assert row["ballots"] == ballots
    rate = Rate(levels[0] + levels[1], ballots)
    assert row["rate"]["part"] == rate.part and row["rate"]["whole"] == ballots
    assert row["rate"]["value"] == pytest.approx(rate.value)
    low, high = rate.wilson()
    assert row["rate"]["interval_95"] == {"low": pytest.approx(low), "high": pytest.approx(high)}
    for level, count in zip(LEVELS, levels, strict=True):
        assert row["shares"][level] == pytest.approx(count / ballots)


# --- a year of openings --------------------------------------------------------------------
def test_a_province_system_reads_what_the_minutes_say_and_nothing_else(app, client, tmp_path):
    rig = opened_year(app, client, tmp_path)
    province, hac = issue(app, rig.province), issue(app, rig.hac_unit, "Phường Hạc Thành")
    dong_minutes, hac_minutes = minutes_by_box(app, rig.dong), minutes_by_box(app, rig.hac)
    assert any(m.supplements for m in dong_minutes.values())  # the rig has supplements

    # Ballots of a month nobody has opened yet: a sealed box, never read.
    sealed = enrolled_kiosk(app, client, tmp_path / "sealed", "2027-01-02T08:00:00",
                            code="SSSS-EFGH-JKMN")  # fmt: skip
    server_time(app, "2027-01-02T09:00:00")
    sealed.vote("lan", "khong_hai_long", 7)
    sealed.sync(client)
    with app.app_context():
        held = select(func.count()).where(
            LedgerRecord.box == "2027-01", LedgerRecord.kind == "VOTE"
        )
        assert web_db.session().scalar(held) == 7  # on the server, sealed

    listed = get(client, province, "/offices")
    assert listed["unit"]["id"] == rig.province
    assert {o["id"] for o in listed["offices"]} == {rig.dong, rig.hac}
    for office in listed["offices"]:
        assert (office["first_month"], office["last_month"]) == ("2026-01", "2026-12")

    for office_id, minutes in ((rig.dong, dong_minutes), (rig.hac, hac_minutes)):
        expected = month_sums(minutes)
        answer = get(client, province, f"/offices/{office_id}/months",
                     **{"from": "2025-11", "to": "2027-02"})  # fmt: skip
        assert [row["month"] for row in answer["months"]] == list(MONTHS)  # not 2027-01
        totals = [0, 0, 0]
        for row in answer["months"]:
            sums = expected[row["month"]]
            assert_figures(row, sums["levels"])
            assert row["late_ballots"] == sums["late"]
            totals = [a + b for a, b in zip(totals, sums["levels"], strict=True)]
            dossiers = minutes[row["month"]].dossiers_returned
            assert row["dossiers_returned"] == dossiers
            if dossiers is None:
                assert row["participation"] is None
            else:
                assert row["participation"]["whole"] == dossiers
                assert row["participation"]["part"] == row["ballots"]
        assert_figures(answer["total"], totals)
        assert answer["total"]["late_ballots"] == sum(e["late"] for e in expected.values())

        clerks = get(client, province, f"/offices/{office_id}/clerks", period="year", year="2026")
        by_code = clerk_sums(minutes)
        assert {row["code"] for row in clerks["clerks"]} == set(by_code)
        for row in clerks["clerks"]:
            assert row["id"] == rig.clerks[row["code"]]
            assert_figures(row, by_code[row["code"]])
        assert_figures(clerks["total"], totals)

    may = get(client, province, f"/offices/{rig.dong}/months", period="month", month="2026-03")
    assert may["months"][0]["late_ballots"] > 0  # March grew with the kiosk synced in May
    unverified = get(client, province, f"/offices/{rig.dong}/months", channels="phone_screen",
                     **YEAR)  # fmt: skip
    phone = month_sums(dong_minutes, "phone_screen")
    assert [r["month"] for r in unverified["months"] if r["ballots"]] == ["2026-11"]
    assert_figures(unverified["months"][10], phone["2026-11"]["levels"])
    assert unverified["total"]["dossiers_returned"] is None

    summary = get(client, province, f"/units/{rig.province}/summary", **YEAR)
    rows = {row["unit"]["id"]: row for row in summary["units"]}
    assert set(rows) == {rig.dong_unit, rig.hac_unit}
    for unit_id, minutes in ((rig.dong_unit, dong_minutes), (rig.hac_unit, hac_minutes)):
        levels = [sum(e["levels"][i] for e in month_sums(minutes).values()) for i in range(3)]
        assert_figures(rows[unit_id], levels)
    dossiers = sum(m.dossiers_returned or 0 for m in dong_minutes.values())
    assert rows[rig.dong_unit]["dossiers_returned"] == dossiers
    assert rows[rig.hac_unit]["dossiers_returned"] is None
    both = [rows[rig.dong_unit]["by_level"][lv] + rows[rig.hac_unit]["by_level"][lv]
            for lv in LEVELS]  # fmt: skip
    assert_figures(summary["total"], both)
    assert get(client, province, f"/offices/{rig.dong}/clerks", period="month",
               month="2027-01")["clerks"] == []  # fmt: skip
    nothing = get(client, province, f"/units/{rig.province}/summary", period="year", year="2027")
    assert summary["units"] and all(row["ballots"] == 0 for row in nothing["units"])

    # Hạc Thành's token: its office only; Đông's is "not found", as one that does not exist.
    assert [o["id"] for o in get(client, hac, "/offices")["offices"]] == [rig.hac]
    missing = get(client, hac, "/offices/999999/months", 404, **YEAR)
    for path in (f"/offices/{rig.dong}/months", f"/offices/{rig.dong}/clerks"):
        assert get(client, hac, path, 404, **YEAR) == missing
    get(client, hac, f"/units/{rig.province}/summary", 404, **YEAR)
    get(client, hac, f"/units/{rig.dong_unit}/summary", 404, **YEAR)
    own = get(client, hac, f"/units/{rig.hac_unit}/summary", **YEAR)
    assert own["total"]["ballots"] == rows[rig.hac_unit]["ballots"]
    assert (
        get(client, hac, f"/offices/{rig.hac}/months", **YEAR)["total"]
        == get(client, province, f"/offices/{rig.hac}/months", **YEAR)["total"]
    )

    fuzz_parameters(client, province, rig.dong)
    refusals(app, client, province, rig)


def refusals(app, client, token: str, rig) -> None:
    """Tokens refused, parameters refused, last use stamped once a minute."""
    path = f"/offices/{rig.dong}/months"
    for header in (None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer " + "x" * 500,
                   "Bearer hpr_" + "A" * 43, "Bearer " + token + "x", "bearer\x00",
                   "Bearer " + token.upper(), "Token " + token):  # fmt: skip
        headers = {} if header is None else {"Authorization": header}
        response = client.get(PREFIX + path, headers=headers, query_string=YEAR)
        assert response.status_code == 401, header
        assert response.headers["WWW-Authenticate"].startswith("Bearer ")
        assert_conforms(operation_of(path), 401, response.data)
    get(client, None, "/no/such/path", 401)  # the token first, even for unknown paths

    assert get(client, token, "/offices", 400, lang="en")["error"] == "bad-parameter"
    for params, named in [
        ({"form": "2026-01", "to": "2026-02"}, "form"),
        ({}, "from=YYYY-MM"),
        ({"from": "2026-13", "to": "2026-12"}, "2026-13"),
        ({"from": "2026-05", "to": "2026-02"}, ""),
        ({"from": "2026-01"}, "to"),
        ({"period": "year", "year": "²"}, ""),
        ({"period": "quarter", "year": "2026", "quarter": "5"}, ""),
        ({"period": "decade"}, ""),
        ({"from": "1990-01", "to": "2026-01"}, "120"),
        ({"channels": "fax", **YEAR}, "official"),
    ]:
        answer = get(client, token, path, 400, **params)
        assert answer["error"] == "bad-parameter" and named in answer["message_en"], answer
    repeated = client.get(PREFIX + path + "?from=2026-01&from=2026-02&to=2026-03",
                          headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert repeated.status_code == 400 and "from" in repeated.json["message_en"]
    for method in ("post", "put", "delete", "patch"):
        answer = getattr(client, method)(
            PREFIX + path, headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 405 and answer.json["error"] == "method-not-allowed"
        assert answer.headers["Allow"] == "GET, HEAD"
    for unknown in ("/", "/offices/abc/months", "/offices/-1/months", f"/offices/{2**70}/months",
                    "/units/1", "/v2/offices"):  # fmt: skip
        answer = client.get(PREFIX + unknown, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 404 and answer.json["error"] == "not-found", unknown

    # Last use: written on a read, then not again within the minute.
    with app.app_context():

        def last_used():
            web_db.session().expire_all()
            row = web_db.session().scalar(
                select(ReadToken).where(ReadToken.token_hash == token_hash(token))
            )
            return row.last_used_at

        first = last_used()
        assert first is not None
        services(app).clock.advance(30_000)
        get(client, token, "/offices")
        assert last_used() == first
        services(app).clock.advance(31_000)
        get(client, token, "/offices")
        assert last_used() - first >= timedelta(seconds=61)

        # Revoked: refused at once.
        session = web_db.session()
        row = session.scalar(select(ReadToken).where(ReadToken.token_hash == token_hash(token)))
        row.revoked_at = row.last_used_at
        session.commit()
    revoked = get(client, token, "/offices", 401)
    assert revoked["error"] == "unauthenticated" and "revoked" in revoked["message_en"]


def fuzz_parameters(client, token: str, office_id: int) -> None:
    """Any query: a described answer (200 or 400), never a 500."""
    names = st.sampled_from(["period", "month", "year", "quarter", "from", "to", "channels",
                             "x", "lang"])  # fmt: skip
    values = st.one_of(
        st.sampled_from(["2026-01", "2026-12", "month", "year", "range", "quarter", "1", "2026",
                         "official", "phone_screen", "", "0000-01", "9999-12", "२०२६"]),
        st.text(st.characters(exclude_categories=("Cs",)),
                max_size=12),
    )  # fmt: skip

    @bounded(40)
    @given(st.dictionaries(names, values, max_size=5), st.sampled_from(["months", "clerks"]))
    def reads(params: dict[str, str], route: str) -> None:
        path = f"/offices/{office_id}/{route}"
        response = client.get(PREFIX + path, query_string=params,
                               headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        assert response.status_code in (200, 400), (params, response.status_code)
        assert_conforms(operation_of(path), response.status_code, response.data)
        assert "Set-Cookie" not in response.headers

    reads()


def test_the_description_names_every_route_and_is_json_schema(app) -> None:
    served = {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(PREFIX) and rule.endpoint != "api_results.unknown"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    described = {
        (re.sub(r"\{(\w+)\}", r"<int:\1>", operation.path), operation.method)
        for operation in OPERATIONS.values()
    }
    assert served == described
    for schema in SPEC["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


# --- the administrator's pages -------------------------------------------------------------
def test_an_administrator_issues_and_revokes_tokens_in_his_scope(app) -> None:
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    with app.app_context():
        session = web_db.session()
        units = {u.code: u.id for u in session.scalars(select(Unit))}
        create_account("qt-hac", "Quản trị Hạc Thành", "admin", units["38-ht"])
        session.commit()
    assert login(client, "admin").status_code == 302
    page = client.get("/manage/tokens")
    assert page.status_code == 200 and 'href="/manage/tokens"' in client.get("/manage/units").text

    # Issue one for the province: shown once, only its hash kept, audited.
    issued = client.post("/manage/tokens", data={"label": "Cổng dữ liệu tỉnh",
                         "unit": units["38"], "csrf_token": csrf_token(page.text)})  # fmt: skip
    assert issued.status_code == 200 and issued.headers["Cache-Control"] == "no-store"
    secret = re.search(r'id="issued-token"[^>]*value="(hpr_[A-Za-z0-9_-]+)"', issued.text)[1]
    assert secret not in client.get("/manage/tokens").text
    with app.app_context():
        row = web_db.session().scalar(select(ReadToken))
        assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert secret not in json.dumps([str(getattr(row, c.key)) for c in row.__table__.c])
        token_id = row.id
        entry = web_db.session().scalar(
            select(AuditEntry).where(AuditEntry.action == "read_token_issued")
        )
        assert entry.detail == {"label": "Cổng dữ liệu tỉnh", "unit": "38"}
        assert secret not in json.dumps(entry.detail)
    listed = get(client, secret, "/offices")
    assert len(listed["offices"]) == 2

    # Bad input is a 400 with the form, never a token.
    for label, unit in [("", units["38"]), ("x", "999999"), ("a\x00b", units["38"]),
                        ("é" * 201, units["38"]), ("x", "abc"), ("x", str(2**70))]:  # fmt: skip
        bad = client.post("/manage/tokens", data={"label": label, "unit": unit,
                          "csrf_token": csrf_token(page.text)})  # fmt: skip
        assert bad.status_code == 400 and "issued-token" not in bad.text, (label, unit)
    no_csrf = client.post("/manage/tokens", data={"label": "x", "unit": units["38"]})
    assert no_csrf.status_code == 400 and "issued-token" not in no_csrf.text

    # Revoke: a confirmation first; without the CSRF token nothing happens.
    confirm = client.get(f"/manage/tokens/{token_id}/revoke")
    assert confirm.status_code == 200 and "Cổng dữ liệu tỉnh" in confirm.text
    assert client.post(f"/manage/tokens/{token_id}/revoke").status_code == 400
    get(client, secret, "/offices")
    done = client.post(f"/manage/tokens/{token_id}/revoke",
                       data={"csrf_token": csrf_token(confirm.text)})  # fmt: skip
    assert done.status_code == 302
    get(client, secret, "/offices", 401)
    with app.app_context():
        row = web_db.session().get(ReadToken, token_id)
        assert row.revoked_at is not None and row.revoked_by is not None
        actions = web_db.session().scalars(select(AuditEntry.action)).all()
        assert "read_token_revoked" in actions
    assert "revoked on" in client.get("/manage/tokens?lang=en").text

    # Hạc Thành's administrator: Hạc's units only; the province's token is not found.
    hac_admin = app.test_client()
    hac_admin.environ_base["wsgi.url_scheme"] = "https"
    assert login(hac_admin, "qt-hac").status_code == 302
    own_page = hac_admin.get("/manage/tokens")
    assert "Cổng dữ liệu tỉnh" not in own_page.text
    assert hac_admin.get(f"/manage/tokens/{token_id}/revoke").status_code == 404
    outside = hac_admin.post("/manage/tokens", data={"label": "x", "unit": units["38-dt"],
                             "csrf_token": csrf_token(own_page.text)})  # fmt: skip
    assert outside.status_code == 400 and "issued-token" not in outside.text
    inside = hac_admin.post("/manage/tokens", data={"label": "Hạc", "unit": units["38-ht"],
                            "csrf_token": csrf_token(own_page.text)})  # fmt: skip
    hac_secret = re.search(r'value="(hpr_[A-Za-z0-9_-]+)"', inside.text)[1]
    assert get(client, hac_secret, "/offices")["unit"]["id"] == units["38-ht"]

    # Everyone else: 403.
    for username in ("kt-tinh", "xem-hac", "chu-tich"):
        other = app.test_client()
        other.environ_base["wsgi.url_scheme"] = "https"
        assert login(other, username).status_code == 302
        assert other.get("/manage/tokens").status_code == 403
        assert other.get(f"/manage/tokens/{token_id}/revoke").status_code == 403
        token = csrf_token(other.get("/account/password").text)
        assert other.post(f"/manage/tokens/{token_id}/revoke",
                          data={"csrf_token": token}).status_code == 403  # fmt: skip
