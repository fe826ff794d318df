"""Every POST form and every page of the admin site fuzzed, as an administrator, on SQLite
and PostgreSQL (pages: every GET route with each path argument made hostile in turn).

The forms are found as a person finds them: every page of the site (every GET route, its
ids taken from the seeded database) is fetched and its ``<form method="post">`` read for
its action and fields; every POST route no page links a form to is fuzzed too, with the
fields of its page if it has one. Each field gets what the page offers (its value, one of
its options) or hostile text: NUL, bytes that are not UTF-8, texts past every limit, markup
and formulas. With the session's CSRF token, no answer may be a 5xx; the administrator is
still logged in afterwards (the fuzz never targets the administrator's own account).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from werkzeug.routing import IntegerConverter

from tests.api_helpers import register
from tests.fuzz_helpers import NASTY, bounded
from tests.web_helpers import csrf_token, login
from web import db
from web.models import Clerk, CommitteeMember, Counter, Device, Holiday, Office, Unit, User

NOT_FUZZED = {"auth.logout"}  # ends the session the fuzz runs in; tested in test_web_auth


@dataclass
class FoundForm:
    action: str
    fields: dict[str, list[str]] = field(default_factory=dict)  # name -> values the page offers


class FormReader(HTMLParser):
    """The POST forms of a page: their action and their fields' names and offered values."""

    def __init__(self, page_path: str) -> None:
        super().__init__()
        self.page_path, self.forms, self.current = page_path, [], None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form" and attributes.get("method", "get").lower() == "post":
            action = urllib.parse.urljoin(self.page_path, attributes.get("action") or "")
            self.current = FoundForm(urllib.parse.urlsplit(action).path)
            self.forms.append(self.current)
        elif self.current is not None and tag == "option" and self.select is not None:
            self.current.fields[self.select].append(attributes.get("value", ""))
        elif self.current is not None and tag in ("input", "select", "textarea"):
            name = attributes.get("name")
            if not name or name == "csrf_token":
                return
            offered = self.current.fields.setdefault(name, [])
            if tag == "select":
                self.select = name
            elif tag == "input":
                offered.append(attributes.get("value", "on"))

    select: str | None = None  # the <select> whose <option>s are being read

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.current = None
        elif tag == "select":
            self.select = None


def seeded_arguments(app) -> dict[str, object]:
    """A value for each URL argument the site's routes take, from the seeded database: the
    Đông Thanh office and what belongs to it, and a user who is not the administrator."""
    office_id = app.config["OFFICE_ID"]
    with app.app_context():
        session = db.session()

        def first(model, *where) -> int:
            return session.scalar(select(model.id).where(*where).order_by(model.id).limit(1)) or 1

        return {
            "office_id": office_id,
            "unit_id": session.get(Office, office_id).unit_id,
            "clerk_id": first(Clerk, Clerk.office_id == office_id),
            "counter_id": first(Counter, Counter.office_id == office_id),
            "member_id": first(CommitteeMember, CommitteeMember.office_id == office_id),
            "user_id": first(User, User.username == "xem-hac"),
            "device_pk": first(Device),
            "holiday_id": first(Holiday),
            "box": "2026-11",
            "office_code": "demo",
            "clerk_code": "lan",
            "kind": "csv",
            "parent_id": first(Unit),
        }


def route_paths(app, arguments: dict[str, object], method: str) -> dict[str, str]:
    """endpoint -> its path with seeded arguments, for every route taking ``method``
    (the device API and static files aside)."""
    found = {}
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if method not in rule.methods or rule.endpoint in NOT_FUZZED:
                continue
            if rule.rule.startswith(("/api/", "/static/")) or rule.endpoint == "static":
                continue
            values = {name: arguments.get(name, 1) for name in rule.arguments}
            found[rule.endpoint] = app.url_for(rule.endpoint, **values)
    return found


def crawl(client, paths: Iterable[str]) -> dict[str, FoundForm]:
    forms: dict[str, FoundForm] = {}
    for path in paths:
        page = client.get(path)
        assert page.status_code < 500, (path, page.status_code)
        if page.status_code != 200 or not page.mimetype.startswith("text/html"):
            continue
        reader = FormReader(path)
        reader.feed(page.get_data(as_text=True))
        for form in reader.forms:
            known = forms.setdefault(form.action, FoundForm(form.action))
            for name, values in form.fields.items():
                known.fields.setdefault(name, []).extend(values)
    return forms


def one_per_route(app, forms: Iterable[FoundForm]) -> list[FoundForm]:
    """One form of each POST route (the users page has a deactivate form per user), the
    one with the most fields."""
    adapter = app.url_map.bind("localhost")
    chosen: dict[str, FoundForm] = {}
    for form in forms:
        endpoint, _arguments = adapter.match(form.action, method="POST")
        if endpoint not in chosen or len(form.fields) > len(chosen[endpoint].fields):
            chosen[endpoint] = form
    return list(chosen.values())


hostile = st.one_of(
    # (a form sends bytes: a lone surrogate cannot be sent, its UTF-8 bytes are below)
    st.sampled_from([n for n in NASTY if not re.search("[\ud800-\udfff]", n)]).map(str.encode),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=40).map(str.encode),
    st.binary(max_size=30),  # not UTF-8: the server reads it with replacement characters
    st.sampled_from([201, 1001, 70_000]).map(lambda size: b"9" * size),
)


@pytest.fixture
def admin(ceremony_app):
    register(ceremony_app)  # a device for the revoke form
    client = ceremony_app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    assert login(client, "admin").status_code == 302
    return ceremony_app, client


def test_no_form_of_the_admin_site_answers_a_5xx(admin) -> None:
    app, client = admin
    arguments = seeded_arguments(app)
    pages = route_paths(app, arguments, "GET")
    forms = crawl(client, pages.values())
    for endpoint, path in route_paths(app, arguments, "POST").items():
        form = forms.setdefault(path, FoundForm(path))
        if endpoint in pages and not form.fields:  # its own page holds its form
            form.fields = crawl(client, [pages[endpoint]]).get(path, form).fields
    token = csrf_token(client.get(pages["pages.index"]).get_data(as_text=True))
    assert len(one_per_route(app, forms.values())) > 20, sorted(forms)  # the crawl found them
    with app.app_context():
        own = db.session().scalar(select(User.id).where(User.username == "admin"))
    for form in one_per_route(app, forms.values()):
        if form.action == "/logout" or form.action.startswith(f"/manage/users/{own}/"):
            continue  # ending the fuzz's own session or account is not an input
        fuzz(client, form, token)
        assert client.get(pages["pages.index"]).status_code == 200, form.action  # still in


# Not left to chance: each field of each form, the others as the page offers them.
EACH_FIELD = (b"Nguy\xe1\xbb\x85n\x00", b"9" * 30)  # a NUL; a number no database holds


HOSTILE_ARGUMENTS = {int: (2**31, 10**20), str: ("a\x00", "é" * 300, "..", "%", "2026-13")}
QUERIES = (
    "?lang=%00",
    "?lang=xx&code=%ff&t=" + "%C3%A9" * 50 + "&parent=" + "9" * 30 + "&verify=1",
)


def test_no_page_of_the_admin_site_answers_a_5xx(admin) -> None:
    """Every GET route with each argument made hostile in turn (ids past the database's
    integers, NUL, long or odd texts) and a query it does not expect."""
    app, client = admin
    arguments = seeded_arguments(app)
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith(("/api/", "/static/")):
            continue
        good = {name: arguments.get(name, 1) for name in rule.arguments}
        tried = [_path(rule, good) + query for query in QUERIES]
        for name, converter in rule._converters.items():  # (defaults are not in the path)
            kind = int if isinstance(converter, IntegerConverter) else str
            tried += [_path(rule, {**good, name: bad}) for bad in HOSTILE_ARGUMENTS[kind]]
        for path in tried:
            answer = client.get(path)
            assert answer.status_code < 500, (path, answer.status_code)


def _path(rule, values: dict) -> str:
    """``rule``'s path with ``values``, quoted, built by hand: url_for refuses what the
    route's converters would not match (and a client can send it all the same)."""
    path = rule.rule
    for name, value in values.items():
        quoted = urllib.parse.quote(str(value).encode("utf-8"), safe="")
        path = re.sub(rf"<(?:[^:<>]+:)?{name}>", quoted, path)
    return path


def fuzz(client, form: FoundForm, token: str) -> None:
    names = sorted(form.fields)
    offered = {name: [v.encode() for v in values] for name, values in form.fields.items()}
    as_offered = {name: values[-1] if values else b"" for name, values in offered.items()}

    def post(fields: list[tuple[str, bytes]]) -> None:
        response = client.post(
            form.action,
            data=urllib.parse.urlencode([*fields, ("csrf_token", token)]),
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code < 500, (form.action, fields, response.status_code)

    for name in names:
        for bad in EACH_FIELD:
            post(list({**as_offered, name: bad}.items()))

    def value(name: str) -> st.SearchStrategy[bytes]:
        return st.sampled_from(offered[name]) | hostile if offered[name] else hostile

    @bounded(5)
    @given(
        values=st.fixed_dictionaries({name: value(name) for name in names}),
        extra=st.dictionaries(st.text(max_size=10), hostile, max_size=2),
    )
    def posted(values: dict[str, bytes], extra: dict[str, bytes]) -> None:
        post([*values.items(), *extra.items()])

    posted()
