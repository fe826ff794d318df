"""The independent recount of a box whose office recovered a fork (``web.forks``): the bundle
carries the adopted branch (its signer, fork point and base) and the forked device's chain up
to the fork point, ``hom-phieu box verify`` recounts it to exactly the minutes' figures, and a
doctored branch is named; a branch held apart (its adoption not approved, or refused) is in
neither the count nor the bundle, and the recount still gives the opening's figures. Likewise
a record repaired on the server after its box was opened."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select

from tests.ceremony_helpers import box_url
from tests.test_box_bundle import entries, recounted, rewrite, verify
from tests.test_forks import (
    copied_card,
    damage,
    decide,
    device_pk_of,
    fork_alerts,
    fork_id_of,
    kiosk_at,
    open_box_at,
    recover,
    repair_upload,
    votes_by_clerk,
)
from tests.web_helpers import login
from web import db as web_db
from web.models import LedgerRecord
from web.models_forks import HeldRecord

BOX = "2026-11"


@pytest.fixture
def client(ceremony_app):
    client = ceremony_app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    return client


def download(app, client, path, box: str = BOX):
    assert login(client, "mttq").status_code == 302
    response = client.get(box_url(app, box, "bundle.zip"))
    assert response.status_code == 200 and response.mimetype == "application/zip"
    path.write_bytes(response.data)
    return path


def with_manifest(bundle, files: dict[str, bytes], manifest: dict, name: str):
    return rewrite(bundle, {**files, "manifest.json": json.dumps(manifest).encode()}, name)


def branch_of(manifest: dict) -> dict:
    (device,) = [d for d in manifest["devices"] if "branch" in d]
    return device


def test_a_box_with_an_adopted_branch_recounts_offline_and_a_doctored_branch_is_named(
    ceremony_app, client, tmp_path
):
    app = ceremony_app
    original, copy, seq, pk = copied_card(app, client, tmp_path)
    recover(app, pk, seq, copy, client)
    count = open_box_at(app, BOX, "2026-12-02T10:00:00")
    assert votes_by_clerk(count) == {"lan": 5, "binh": 4}
    bundle = download(app, client, tmp_path / "bundle.zip")

    files = entries(bundle)
    manifest = json.loads(files["manifest.json"])
    branch = branch_of(manifest)
    parent = original.key.device_id
    assert branch["device_id"] == f"{parent}/{seq}" and branch["branch"]["of"] == parent
    assert branch["branch"]["fork_seq"] == seq
    assert f"records/{parent}/{seq}.jsonl" in files

    result = verify(bundle)  # a process of its own, no database
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Khớp biên bản")
    assert "9 (Rất hài lòng 5, Hài lòng 4, Không hài lòng 0)" in result.stdout

    # The branch said to start after another record of the chain than the fork point's.
    parent_file = f"records/{parent}.jsonl"
    lines = [json.loads(line) for line in files[parent_file].splitlines()]
    other_hash = "ab" * 32
    moved = {**branch["branch"], "base_hash": other_hash}
    doctored = _with_branch(manifest, moved)
    matches, out = recounted(with_manifest(bundle, files, doctored, "base.zip"))
    assert not matches and f"băm {other_hash}" in out, out

    # … or from a state of the chain that is not its state at the fork point.
    state = json.loads(branch["branch"]["base_state"])
    state["open_box"]["votes"] += 1
    stated = {**branch["branch"], "base_state": json.dumps(state, sort_keys=True)}
    matches, out = recounted(
        with_manifest(bundle, files, _with_branch(manifest, stated), "state.zip")
    )
    assert not matches and "trạng thái" in out and parent in out, out

    # The forked device's records stopping before the fork point: the base cannot be checked.
    cut = b"".join(json.dumps(line).encode() + b"\n" for line in lines if line["seq"] < seq - 1)
    matches, out = recounted(rewrite(bundle, {**files, parent_file: cut}, "cut.zip"))
    assert not matches and f"{seq - 1}" in out and "không kiểm được" in out, out

    # A branch of records signed by another key (the manifest giving that key): named twice,
    # the key that is not the parent's, and the signatures the parent's key refuses.
    forger = Ed25519PrivateKey.generate()
    raw = forger.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    name = f"records/{parent}/{seq}.jsonl"
    forged = []
    for line in files[name].splitlines():
        row = json.loads(line)
        data = base64.b64decode(row["data"])
        forged.append({**row, "sig": base64.b64encode(forger.sign(data)).decode()})
    doctored = {
        **manifest,
        "devices": [
            {**d, "public_key": raw.hex()} if "branch" in d else d for d in manifest["devices"]
        ],
    }
    text = b"".join(json.dumps(row).encode() + b"\n" for row in forged)
    matches, out = recounted(
        rewrite(
            bundle,
            {**files, name: text, "manifest.json": json.dumps(doctored).encode()},
            "signer.zip",
        )
    )
    assert not matches and f"khóa của thiết bị {parent}" in out, out
    assert f"Thiết bị {parent}/{seq}, bản ghi số {seq}:" in out and "chữ ký" in out, out

    # The parent's own records passed off as a branch: the same ballots twice.
    same = b"".join(json.dumps(line).encode() + b"\n" for line in lines if line["seq"] >= seq)
    matches, out = recounted(rewrite(bundle, {**files, name: same}, "twice.zip"))
    assert not matches and "hai lần" in out, out


def test_a_branch_held_apart_or_refused_is_counted_nowhere_and_recounts_alike(
    ceremony_app, client, tmp_path, server_clock
):
    app = ceremony_app
    _original, copy, seq, pk = copied_card(app, client, tmp_path)
    recover(app, pk, seq, copy, client, approver=None)  # uploaded, waiting for approval
    november = open_box_at(app, BOX, "2026-12-02T10:00:00")
    assert votes_by_clerk(november) == {"lan": 5}
    bundle = download(app, client, tmp_path / "held.zip")
    manifest = json.loads(entries(bundle)["manifest.json"])
    assert not [d for d in manifest["devices"] if "branch" in d or "/" in d["device_id"]]
    matches, out = recounted(bundle)
    assert matches and "5 (Rất hài lòng 5, Hài lòng 0, Không hài lòng 0)" in out, out

    server_clock.advance_to("2026-12-03T09:00:00")
    answer = decide(app, "admin", pk, fork_id_of(app, pk), reason="Chữ ký lạ, không nhận")
    assert answer.status_code == 302
    # decided: the fork's alert is resolved by the sweep (no adoption to wait for)
    assert fork_alerts(app)["equivocation"][0] == "resolved"
    december = open_box_at(app, "2026-12", "2027-01-04T10:00:00")
    assert december.main.votes == 0 and not december.supplements.get(BOX)
    changes = json.loads(_minutes_of(app, "2026-12"))["changes"]
    (refused,) = [change for change in changes if change["kind"] == "branch_refused"]
    assert "Chữ ký lạ" in refused["after"]
    matches, out = recounted(download(app, client, tmp_path / "refused.zip", "2026-12"))
    assert matches, out
    with app.app_context():
        kept = web_db.session().scalars(select(HeldRecord.seq)).all()
    assert len(kept) == 5 and min(kept) == seq  # kept apart, never deleted


def _minutes_of(app, box: str) -> bytes:
    from web.models import Opening

    with app.app_context():
        return web_db.session().scalar(select(Opening.minutes).where(Opening.box == box))


def _with_branch(manifest: dict, branch: dict) -> dict:
    devices = [{**d, "branch": branch} if "branch" in d else d for d in manifest["devices"]]
    return {**manifest, "devices": devices}


def test_a_record_repaired_after_its_box_was_opened_recounts_as_the_opening_read_it(
    ceremony_app, client, tmp_path, server_clock
):
    app = ceremony_app
    kiosk = kiosk_at(app, client, tmp_path / "a", "2026-11-02T08:00:00")
    kiosk.vote("lan", "hai_long", 4)
    kiosk.sync(client)
    pk = device_pk_of(app, kiosk)
    with app.app_context():
        session = web_db.session()
        seq = list(session.scalars(select(LedgerRecord.seq).where(
            LedgerRecord.device_pk == pk, LedgerRecord.kind == "VOTE")))[1]  # fmt: skip
        damage(session, pk, seq)
    count = open_box_at(app, BOX, "2026-12-02T10:00:00")  # the fault at seq named, 1 counted
    assert count.main.votes == 1 and count.devices[0].problem.seq == seq
    server_clock.advance_to("2026-12-03T09:00:00")
    answer = repair_upload(app, pk, kiosk)
    assert answer.status_code == 302
    bundle = download(app, client, tmp_path / "bundle.zip")
    files = entries(bundle)
    manifest = json.loads(files["manifest.json"])
    (repair,) = manifest["repairs"]
    assert repair["seq"] == seq and b"not_satisfied" in base64.b64decode(repair["damaged_data"])

    matches, out = recounted(bundle)
    assert matches, out
    assert f"bản ghi số {seq}" in out and "sửa" in out, out

    # The copy that replaced it doctored: named.
    name = f"records/{kiosk.key.device_id}.jsonl"
    lines = [json.loads(line) for line in files[name].splitlines()]
    lines = [{**line, "sig": base64.b64encode(b"x" * 64).decode()} if line["seq"] == seq
             else line for line in lines]  # fmt: skip
    text = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    matches, out = recounted(rewrite(bundle, {**files, name: text}, "copy.zip"))
    assert not matches and f"bản ghi số {seq}" in out, out
