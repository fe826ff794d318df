"""What the fuzz tests share: the OpenAPI descriptions in docs/, strategies for hostile
input (NUL, lone surrogates, huge texts, any JSON), and bounded, reproducible settings.

Hypothesis runs derandomized (the same examples on every run and machine) with no example
database and no deadline; each test sets its own ``max_examples`` so that all the fuzz
tests together stay well under a minute.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parent.parent
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def bounded(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


# --- OpenAPI -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Operation:
    path: str  # as the server routes it: the servers' path prefix + the OpenAPI path
    method: str  # upper case
    request_schema: dict[str, Any] | None  # the JSON body's, every $ref resolved
    responses: dict[int, dict[str, Any] | None]  # status -> JSON schema (None: not JSON)


def load_openapi(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docs" / name).read_text(encoding="utf-8"))


def resolve(node: Any, spec: Mapping[str, Any]) -> Any:
    """``node`` with every local ``$ref`` replaced by what it points to (no cycles here)."""
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = spec
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return resolve(target, spec)
        return {key: resolve(value, spec) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(item, spec) for item in node]
    return node


def operations(spec: Mapping[str, Any], *, prefix: str = "") -> list[Operation]:
    found = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            operation = resolve(operation, spec)
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            responses = {
                int(status): answer.get("content", {}).get("application/json", {}).get("schema")
                for status, answer in operation["responses"].items()
            }
            found.append(
                Operation(prefix + path, method.upper(), body and body.get("schema"), responses)
            )
    return found


def assert_conforms(operation: Operation, status: int, body: bytes) -> None:
    """The answer is one the description declares, and its JSON is as described."""
    assert status in operation.responses, (operation.method, operation.path, status, body[:300])
    schema = operation.responses[status]
    if schema is not None:
        Draft202012Validator(schema).validate(json.loads(body))


# --- strategies ----------------------------------------------------------------------------
NASTY = (
    "",
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff",
    "x\ud83d",
    '=HYPERLINK("http://example.invalid")',
    "Nguyễn Thị Lan 😀",
    "\u202e",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "%00",
)
# Every code point, surrogates and NUL included (hypothesis leaves surrogates out by default),
# and texts past every limit (made from their length: a failure's report stays short).
any_text = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=60),
    st.sampled_from(NASTY),
    st.sampled_from([41, 201, 301, 1001, 70_000]).map(lambda size: "é" * size),
)
any_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    any_text,
)
any_json = st.recursive(
    any_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(any_text, inner, max_size=5)
    ),
    max_leaves=20,
)


def json_bytes(value: Any) -> bytes:
    """JSON as a client would send it (surrogates escaped, NaN as Python writes it)."""
    return json.dumps(value).encode()


def bodies(schema: dict[str, Any] | None) -> st.SearchStrategy[bytes]:
    """Request bodies: valid per ``schema``, valid with one field made hostile, any JSON,
    and bytes that are not JSON at all."""
    choices = [any_json.map(json_bytes), st.binary(max_size=200)]
    if schema is not None:
        valid = from_schema(schema)
        choices += [valid.map(json_bytes), mutated(valid)]
    return st.one_of(*choices)


def from_schema(schema: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    """Documents valid per ``schema``, for the subset of JSON Schema the descriptions in
    docs/ use (a keyword outside it fails here: extend this, never ignore it)."""
    unknown = set(schema) - SCHEMA_KEYWORDS
    assert not unknown, f"from_schema does not know {unknown}"
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for combined in ("oneOf", "anyOf"):
        if combined in schema:
            rest = {k: v for k, v in schema.items() if k != combined}
            return st.one_of(*(from_schema({**rest, **part}) for part in schema[combined]))
    kinds = schema.get("type")
    if isinstance(kinds, list):
        return st.one_of(*(from_schema({**schema, "type": kind}) for kind in kinds))
    return _BUILDERS[kinds](schema)


def _string(schema: Mapping[str, Any]) -> st.SearchStrategy[str]:
    low, high = schema.get("minLength", 0), schema.get("maxLength", 80)
    if schema.get("format") == "date-time":
        return st.datetimes(timezones=st.timezones()).map(lambda moment: moment.isoformat())
    if "pattern" in schema:
        texts = st.from_regex(schema["pattern"], fullmatch=True)
        return texts.filter(lambda text: low <= len(text) <= high)
    return st.text(min_size=low, max_size=min(high, 80))


def _object(schema: Mapping[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    properties = schema.get("properties", {})
    required = set(schema.get("required", ()))
    return st.fixed_dictionaries(
        {name: from_schema(sub) for name, sub in properties.items() if name in required},
        optional={
            name: from_schema(sub) for name, sub in properties.items() if name not in required
        },
    )


_BUILDERS = {
    "string": _string,
    "integer": lambda s: st.integers(min_value=s.get("minimum"), max_value=s.get("maximum")),
    "boolean": lambda _s: st.booleans(),
    "null": lambda _s: st.none(),
    "object": _object,
    "array": lambda s: st.lists(from_schema(s["items"]), max_size=min(s.get("maxItems", 3), 3)),
}
SCHEMA_KEYWORDS = {
    "type", "enum", "const", "oneOf", "anyOf", "pattern", "minLength", "maxLength", "format",
    "minimum", "maximum", "properties", "required", "items", "maxItems", "description",
    "default",
}  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn, valid: st.SearchStrategy[Any]) -> bytes:
    """A valid document with one of its fields made hostile (a text more often than not)."""
    document = draw(valid)
    if isinstance(document, dict) and document:
        key = draw(st.sampled_from(sorted(document)))
        document = {**document, key: draw(any_text | any_json)}
    return json_bytes(document)
