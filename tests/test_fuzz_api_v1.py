"""The device API fuzzed from its description, docs/api-v1.openapi.yaml, on SQLite and on
PostgreSQL: the description names every route and no other, what it calls valid the
protocol's models read, and no body (valid, with a hostile field, any JSON, not JSON;
signed by the enrolled device, unsigned or forged) gets an answer the description does
not declare: never a 500, and every JSON answer as described.

hypothesis rather than schemathesis: every request is signed over its exact body bytes
with the enrolled device's key, which is simplest with our own client, and the bodies come
from the description's schemas (tests/fuzz_helpers.from_schema: hypothesis-jsonschema no
longer runs on current hypothesis; schemathesis would bring a dozen packages).
"""

from __future__ import annotations

import json
import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.records import Kind, TimeQuality
from hom_phieu.protocol.models import EnrollRequest, ErrorCode, HealthReport, PushRequest
from tests.api_helpers import b64, enroll, make_app, register, seed, signed
from tests.fuzz_helpers import (
    NASTY,
    Operation,
    any_json,
    any_scalar,
    any_text,
    assert_conforms,
    bodies,
    bounded,
    from_schema,
    json_bytes,
    load_openapi,
    operations,
)
from web.services import close_app

SPEC = load_openapi("api-v1.openapi.yaml")
PREFIX = SPEC["servers"][0]["url"]
OPERATIONS = {operation.path: operation for operation in operations(SPEC, prefix=PREFIX)}
PENDING_CODE = "PQRS-TUVW-XYZ2"  # a second registered device, for enrollment to succeed


def test_the_description_names_every_route_and_no_other(sqlite_database, server_clock) -> None:
    app = make_app(sqlite_database, server_clock, migrate=False)
    try:
        served = {
            (rule.rule, method)
            for rule in app.url_map.iter_rules()
            if rule.rule.startswith(PREFIX) and rule.endpoint != "api_v1.unknown"
            for method in rule.methods - {"HEAD", "OPTIONS"}
        }
    finally:
        close_app(app)
    assert served == {(operation.path, operation.method) for operation in OPERATIONS.values()}


def test_the_description_is_json_schema_and_its_error_codes_are_the_servers() -> None:
    for schema in SPEC["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    error = SPEC["components"]["schemas"]["ErrorAnswer"]["properties"]["error"]
    assert error["anyOf"][0]["enum"] == [code.value for code in ErrorCode]


@pytest.mark.parametrize(
    ("path", "reader"),
    [
        ("/api/v1/enroll", EnrollRequest.from_json),
        ("/api/v1/records", PushRequest.from_json),
        ("/api/v1/health", HealthReport.from_json),
    ],
)
def test_what_the_description_calls_valid_the_models_read(path: str, reader) -> None:
    """A kiosk written from the description alone is never refused as malformed."""

    @bounded(25)
    @given(from_schema(OPERATIONS[path].request_schema))
    def reads(document) -> None:
        reader(json.loads(json_bytes(document)))

    reads()


# --- the fuzz ------------------------------------------------------------------------------
@pytest.fixture
def device_api(server_app, key: DeviceKey):
    """An office with an enrolled kiosk (``key``) and a second device waiting to enroll."""
    seed(server_app)
    register(server_app)
    client = server_app.test_client()
    assert enroll(client, key).status_code == 200
    register(server_app, code=PENDING_CODE)
    return client


def record_bytes(key: DeviceKey) -> st.SearchStrategy[bytes]:
    """A ledger record's bytes as a (hostile) device would sign them: the right header
    fields, with values and bodies anywhere from right to absurd."""
    header = st.fixed_dictionaries(
        {
            "v": st.just(1) | any_scalar,
            "device": st.just(key.device_id) | any_text,
            "seq": st.just(1) | st.integers(),
            "prev": st.just("0" * 64) | any_text,
            "kind": st.sampled_from([kind.value for kind in Kind]) | any_text,
            "box": st.sampled_from(["", "2026-11", "2100-01"]) | any_text,
            "wall_ms": st.integers(min_value=0, max_value=2**63),
            "tq": st.sampled_from([quality.value for quality in TimeQuality]) | any_text,
            "boot": st.integers(min_value=0, max_value=3),
            "mono_ns": st.integers(min_value=0, max_value=2**63),
            "body": st.dictionaries(any_text, any_json, max_size=6),
        }
    )
    return st.builds(
        lambda fields, ascii_only: json.dumps(
            fields, sort_keys=True, separators=(",", ":"), ensure_ascii=ascii_only
        ).encode("utf-8", "surrogatepass"),
        header,
        st.booleans(),
    )


def signed_records(key: DeviceKey) -> st.SearchStrategy[bytes]:
    """A push of one such record at seq 1, signed by the enrolled key: the ingest's every
    check, not only the envelope's, sees it."""
    return record_bytes(key).map(
        lambda data: json_bytes(
            {"nonce": "n", "records": [{"seq": 1, "data": b64(data), "sig": b64(key.sign(data))}]}
        )
    )


def send(
    client,
    operation: Operation,
    body: bytes,
    signer: DeviceKey | None,
    address: str,
    device: str | None = None,
):
    """``body`` to ``operation``, signed by ``signer`` (None: unsigned), naming ``device``
    (None: the signer's own id) from ``address``."""
    headers = {"Content-Type": "application/json", "Accept-Language": "en"}
    if signer is not None:
        headers.update(signed(signer, operation.method, operation.path, body))
    if device is not None:
        raw = device.encode("utf-8", "surrogatepass").decode("latin-1")  # as a header carries it
        headers["X-HomPhieu-Device"] = raw.replace("\r", "").replace("\n", "")
    return client.open(
        operation.path,
        method=operation.method,
        data=body,
        headers=headers,
        environ_base={"REMOTE_ADDR": address},
    )


addresses = st.ip_addresses(v=4).map(str)


SIGNED_PATHS = ("/api/v1/records", "/api/v1/health", "/api/v1/config")


@pytest.mark.parametrize("path", SIGNED_PATHS)
def test_signed_requests_never_get_an_undeclared_answer(device_api, key: DeviceKey, path) -> None:
    operation = OPERATIONS[path]
    payloads = bodies(operation.request_schema)
    if path == "/api/v1/records":
        payloads = payloads | signed_records(key)

    @bounded(30)
    @given(body=payloads, address=addresses)
    def signed_by_the_device(body: bytes, address: str) -> None:
        response = send(device_api, operation, body, key, address)
        assert_conforms(operation, response.status_code, response.data)

    signed_by_the_device()


@pytest.mark.parametrize("path", SIGNED_PATHS)
def test_unsigned_and_forged_requests_are_refused(device_api, key, tmp_path, path) -> None:
    operation = OPERATIONS[path]
    stranger = DeviceKey.load_or_create(tmp_path / "stranger.pem")

    @bounded(15)
    @given(
        body=bodies(operation.request_schema),
        signer=st.sampled_from([None, stranger]),
        device=st.sampled_from(["", key.device_id, stranger.device_id]) | any_text,
    )
    def refused(body: bytes, signer: DeviceKey | None, device: str) -> None:
        response = send(device_api, operation, body, signer, "10.0.0.1", device=device)
        assert_conforms(operation, response.status_code, response.data)
        assert response.status_code in (401, 413), response.data[:300]

    refused()


HOSTILE_VALUES = (*NASTY, None, True, 1.5, -1, 2**70, [], {}, ["synced"], {"a": "\x00"})


def every_field_made_hostile(document: dict) -> list[tuple[str, object]]:
    return [(name, value) for name in sorted(document) for value in HOSTILE_VALUES]


def valid_documents(key: DeviceKey) -> dict[str, dict]:
    """A kiosk's own requests, as its models write them (every field present)."""
    health = HealthReport(3, TimeQuality.SYNCED, "hết giấy", "ok", "0.1.0", "bảo trì")
    return {
        "/api/v1/records": PushRequest("n-1", ()).to_json(),
        "/api/v1/health": health.to_json(),
        "/api/v1/enroll": EnrollRequest("ABCD-EFGH-JKMN", key.public_raw, "0.1.0").to_json(),
    }


@pytest.mark.parametrize("path", ["/api/v1/records", "/api/v1/health", "/api/v1/enroll"])
def test_each_field_with_each_hostile_value(device_api, key: DeviceKey, path: str) -> None:
    """Not left to chance: every field of a kiosk's own request, one at a time, holds each
    hostile value (NUL, lone surrogates, huge numbers, the wrong JSON type). What the
    description calls invalid is refused; what it calls valid is taken (an enrollment's
    code aside: only the one made for the device is)."""
    operation, document = OPERATIONS[path], valid_documents(key)[path]
    schema = Draft202012Validator(operation.request_schema)
    for n, (name, value) in enumerate(every_field_made_hostile(document)):
        changed = {**document, name: value}
        response = send(
            device_api, operation, json_bytes(changed), key, f"10.1.{n // 250}.{n % 250}"
        )
        assert_conforms(operation, response.status_code, response.data)
        if not schema.is_valid(json.loads(json_bytes(changed))):
            assert 400 <= response.status_code < 500, (name, value, response.data)
        elif path != "/api/v1/enroll":
            assert response.status_code == 200, (name, value, response.data)


def test_enrollments_never_get_an_undeclared_answer(device_api, tmp_path) -> None:
    """Signed by the key in the body or by another, with the right code or not, from many
    addresses (the wrong-code throttle answers 429, as declared)."""
    operation = OPERATIONS["/api/v1/enroll"]
    kiosk = DeviceKey.load_or_create(tmp_path / "new-kiosk.pem")

    def own(body: bytes, code: bool) -> bytes:
        document = json.loads(body) if body[:1] == b"{" else None
        if not isinstance(document, dict):
            return body
        document["public_key"] = b64(kiosk.public_raw)
        if code:
            document["code"] = PENDING_CODE
        return json_bytes(document)

    @bounded(30)
    @given(
        body=bodies(operation.request_schema),
        own_key=st.booleans(),
        right_code=st.booleans(),
        address=addresses,
    )
    def enrolls(body: bytes, own_key: bool, right_code: bool, address: str) -> None:
        if own_key:
            body = own(body, right_code)
        response = send(device_api, operation, body, kiosk, address)
        assert_conforms(operation, response.status_code, response.data)

    enrolls()


def test_any_other_path_or_method_answers_json(sqlite_database, server_clock) -> None:
    app = make_app(sqlite_database, server_clock, migrate=False)
    client = app.test_client()

    @bounded(30)
    @given(
        rest=st.text(st.characters(exclude_categories=()), max_size=40) | st.sampled_from(NASTY),
        method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]),
    )
    def elsewhere(rest: str, method: str) -> None:
        path = PREFIX + "/" + urllib.parse.quote(rest.encode("utf-8", "surrogatepass"))
        response = client.open(path, method=method, data=b"{}")
        assert 400 <= response.status_code < 500, (path, response.status_code)
        assert response.get_json()["error"], response.data[:300]

    try:
        elsewhere()
    finally:
        close_app(app)
