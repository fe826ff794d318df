"""The simulated kiosk's virtual panel fuzzed from its description,
docs/panel-api.openapi.yaml: the description names every route and no other, and a real
simulated kiosk process answers every body (valid, with a hostile field, any JSON, not
JSON, not even declared as JSON) and every ticket id with an answer the description
declares: never a 500."""

from __future__ import annotations

import re
import types
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from kiosk.panel import create_panel_app
from tests.fuzz_helpers import (
    NASTY,
    Operation,
    assert_conforms,
    bodies,
    bounded,
    load_openapi,
    operations,
)
from tests.kiosk_process import KioskProcess

SPEC = load_openapi("panel-api.openapi.yaml")
OPERATIONS = {(op.method, op.path): op for op in operations(SPEC)}
# A press holds the panel's answer for hold_ms: here at most 30 ms, to keep the run short.
QUICK_HOLD = {"type": "integer", "minimum": 0, "maximum": 30}


def test_the_description_names_every_route_and_no_other() -> None:
    app = create_panel_app(types.SimpleNamespace(kiosk=None))  # only its routes are read
    served = {
        (method, re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert served == set(OPERATIONS)


def this_kiosk(schema: dict | None, buttons: list[str]) -> dict | None:
    """``schema`` made for the kiosk under test: its own button names (so that valid
    presses are votes), every hold_ms at most 30 ms."""
    if schema is None:
        return None
    properties = dict(schema.get("properties", {}))
    if "hold_ms" in properties:
        properties["hold_ms"] = QUICK_HOLD
    if "button" in properties:
        properties["button"] = {"enum": buttons}
    return {**schema, "properties": properties}


def exchange(url: str, method: str, body: bytes | None, content_type: str) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": content_type}, method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_no_request_gets_an_undeclared_answer(isolated_home: Path) -> None:
    kiosk = KioskProcess(isolated_home)
    try:
        buttons = [button["name"] for button in kiosk.get("/api/state")["buttons"]]
        statuses: set[int] = set()
        for operation in OPERATIONS.values():
            if operation.method == "POST":
                fuzz_post(
                    kiosk.url, this_kiosk(operation.request_schema, buttons), operation, statuses
                )
        assert {200, 400, 415} <= statuses  # valid presses and clock settings were among them
        fuzz_ticket_ids(kiosk.url)
        assert kiosk.get("/api/state")["device_id"]  # still up, still answering
    finally:
        kiosk.terminate()


def fuzz_post(base: str, schema: dict | None, operation: Operation, statuses: set[int]) -> None:
    @bounded(20)
    @given(
        body=bodies(schema),
        content_type=st.sampled_from(["application/json"] * 4 + ["text/plain"]),
    )
    def posted(body: bytes, content_type: str) -> None:
        status, answer = exchange(base + operation.path.lstrip("/"), "POST", body, content_type)
        assert_conforms(operation, status, answer)
        statuses.add(status)

    posted()


def fuzz_ticket_ids(base: str) -> None:
    @bounded(20)
    @given(
        ticket=st.text(st.characters(exclude_categories=()), min_size=1, max_size=20)
        | st.sampled_from([n for n in NASTY if n]),
        kind=st.sampled_from(["bin", "png"]),
    )
    def fetched(ticket: str, kind: str) -> None:
        quoted = urllib.parse.quote(ticket.encode("utf-8", "surrogatepass"), safe="")
        status, answer = exchange(f"{base}api/tickets/{quoted}.{kind}", "GET", None, "text/plain")
        assert status in (200, 404), (ticket, status, answer[:300])

    fetched()
