"""The independent recount: an opened box's bundle, downloaded over the pages, recounted by
``hom-phieu box verify`` in a real process to exactly the minutes' figures; a doctored
bundle has each of its faults named."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from hom_phieu.i18n import language
from hom_phieu.ledger.box_key import BoxPrivateKey, new_master
from hom_phieu.ledger.opinion import opened_body, seal_body
from hom_phieu.ledger.records import Kind, canonical_bytes, decode, record_hash
from tests.ceremony_helpers import (
    as_secretary,
    box_url,
    confirm,
    enrolled_kiosk,
    october_kiosk,
    post_form,
)
from tests.seal_helpers import deal, keyring
from tests.web_helpers import login
from web import db as web_db
from web.box_keys import publish, rebuild
from web.bundle_format import Bundle
from web.bundle_verify import recount, report
from web.minutes_seal import Seal
from web.models import Opening
from web.models_seal import BoxKey
from web.opening import open_box

BOX = "2026-10"
COMMAND = str(Path(sys.executable).with_name("hom-phieu"))


@pytest.fixture
def app(ceremony_app):
    return ceremony_app


@pytest.fixture
def client(app):
    return app.test_client()


def verify(path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """``hom-phieu box verify`` as anyone runs it: a process of its own, no database."""
    env = {**os.environ, "HOM_PHIEU_HOME": str(path.parent / "home")}
    env.pop("HOM_PHIEU_DATABASE_URL", None)
    return subprocess.run(
        [COMMAND, *options, "box", "verify", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def recounted(path: Path) -> tuple[bool, str]:
    """The same recount in this process (``web.bundle_verify``, what the command runs), in
    Vietnamese: whether it matches, and what the command would print."""
    with language("vi"), Bundle(str(path)) as bundle:
        result = recount(bundle)
        return result.matches, "\n".join(report(result))


def start_with_quorum(app, client) -> None:
    as_secretary(client)
    assert post_form(client, app, BOX, "start").status_code == 302
    for username in ("chu-tich", "mttq", "thu-ky"):
        assert confirm(client, app, BOX, username).status_code == 302


def open_directly(app, dealt=None) -> None:
    """The box opened with the key rebuilt from three members' cards, its master then
    published (what the ceremony's open button does)."""
    with app.app_context():
        session = web_db.session()
        opening = session.scalar(select(Opening).where(Opening.box == BOX))
        keys, seal, rebuilt, key = None, None, None, None
        if dealt is not None:
            key = session.get(BoxKey, dealt.key.id)
            rebuilt = rebuild(key, [dealt.cards[i].mnemonic for i in (0, 2, 4)])
            keys = {key.fingerprint: rebuilt.private}
            seal = Seal(
                key=key.fingerprint,
                threshold=3,
                shares=(),
                escrow=False,
                escrow_key=None,
                escrow_shares=(),
            )
        open_box(
            session,
            opening,
            opening.started_by,
            warnings_reason="Đã kiểm tra",
            keys=keys,
            seal=seal,
        )
        if rebuilt is not None:
            publish(key, rebuilt.master)
        session.commit()


def sealed_box(app, client, tmp_path: Path):
    """October's ballots sealed at the kiosk to the office's dealt key, synced, opened."""
    office_id = app.config["OFFICE_ID"]
    dealt = deal(app, office_id, [BOX, "2026-11"])
    kiosk = enrolled_kiosk(app, client, tmp_path / "k1", "2026-10-30T08:00:00")
    kiosk.box.use_keys(keyring(app, office_id))
    kiosk.vote("lan", "rat_hai_long", 5)
    kiosk.vote("lan", "hai_long", 3)
    kiosk.vote("binh", "hai_long", 2)
    kiosk.vote("binh", "khong_hai_long", 2)
    kiosk.clock.advance_to("2026-11-01T07:30:00")
    kiosk.vote("lan", "rat_hai_long", 1)  # November's box: closes October's
    kiosk.sync(client)
    start_with_quorum(app, client)
    return dealt


def download(app, client, path: Path, username: str = "mttq") -> Path:
    assert login(client, username).status_code == 302
    link = f'id="bundle" href="{box_url(app, BOX, "bundle.zip")}"'
    for page in ("", "minutes"):  # the box page and the minutes offer it
        assert link in client.get(box_url(app, BOX, page)).text, page
    response = client.get(box_url(app, BOX, "bundle.zip"))
    assert response.status_code == 200 and response.mimetype == "application/zip"
    path.write_bytes(response.data)
    return path


# --- doctoring a bundle ---------------------------------------------------------------------


def entries(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rewrite(path: Path, files: dict[str, bytes], name: str) -> Path:
    out = path.with_name(name)
    with zipfile.ZipFile(out, "w") as archive:
        for entry, data in files.items():
            archive.writestr(entry, data)
    return out


def record_lines(files: dict[str, bytes]) -> tuple[str, list[dict]]:
    (name,) = [n for n in files if n.startswith("records/")]
    return name, [json.loads(line) for line in files[name].splitlines()]


def votes(lines: list[dict]) -> list[int]:
    """Indexes of the lines that are October's VOTEs."""
    return [i for i, line in enumerate(lines) if line["kind"] == "VOTE" and line["box"] == BOX]


def with_lines(files: dict[str, bytes], name: str, lines: list[dict]) -> dict[str, bytes]:
    text = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    return {**files, name: text}


def resealed(line: dict, private: BoxPrivateKey, level: str) -> dict:
    """The record's sealed level changed and sealed again to the same box key, its old
    signature kept (what someone holding the published key could forge)."""
    record = decode(base64.b64decode(line["data"]))
    body = {**opened_body(record, {private.public.fingerprint: private}), "level": level}
    fields = {
        **record.fields,
        "body": seal_body(Kind.VOTE, body, private.public, record.device, record.seq),
    }
    return {**line, "data": base64.b64encode(canonical_bytes(fields)).decode()}


# --- the tests ------------------------------------------------------------------------------


def test_the_bundle_recounts_to_the_minutes_and_each_doctoring_is_named(app, client, tmp_path):
    dealt = sealed_box(app, client, tmp_path)
    # Before the opening: nothing to take away.
    assert login(client, "mttq").status_code == 302
    assert client.get(box_url(app, "2026-09", "bundle.zip")).status_code == 404
    assert client.get(box_url(app, BOX, "bundle.zip")).status_code == 409
    open_directly(app, dealt[BOX])
    # Only who may read the minutes, in their scope.
    for username, status in [("kt-dong", 403), ("xem-hac", 404), ("hac-mttq", 404)]:
        assert login(client, username).status_code == 302
        assert client.get(box_url(app, BOX, "bundle.zip")).status_code == status, username
    bundle = download(app, client, tmp_path / "bundle.zip")

    result = verify(bundle)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Khớp biên bản")
    assert "12 (Rất hài lòng 5, Hài lòng 5, Không hài lòng 2)" in result.stdout

    files = entries(bundle)
    manifest = json.loads(files["manifest.json"])
    master = bytes.fromhex(manifest["keys"][0]["master"])
    private = BoxPrivateKey.from_master(master)
    name, lines = record_lines(files)
    device = manifest["devices"][0]["device_id"]

    # A ballot's level changed and sealed again: its signature no longer holds.
    target = votes(lines)[5]  # one of lan's "satisfied"
    forged = list(lines)
    forged[target] = resealed(lines[target], private, "very_satisfied")
    out = verify(rewrite(bundle, with_lines(files, name, forged), "forged.zip"))
    seq = lines[target]["seq"]
    assert out.returncode == 1, out.stdout
    assert f"Thiết bị {device}, bản ghi số {seq}:" in out.stdout
    assert "chữ ký" in out.stdout.split(f"bản ghi số {seq}:")[1].splitlines()[0]

    # … or its bytes altered in place (the ciphertext's first characters changed).
    altered = list(lines)
    data = base64.b64decode(lines[target]["data"])
    at = data.index(b'"ct":"') + 6
    data = data[:at] + (b"AAAA" if data[at : at + 4] != b"AAAA" else b"BBBB") + data[at + 4 :]
    altered[target] = {**lines[target], "data": base64.b64encode(data).decode()}
    matches, out = recounted(rewrite(bundle, with_lines(files, name, altered), "altered.zip"))
    assert not matches and f"bản ghi số {seq}:" in out, out

    # A ballot removed.
    removed = [line for i, line in enumerate(lines) if i != votes(lines)[0]]
    matches, out = recounted(rewrite(bundle, with_lines(files, name, removed), "removed.zip"))
    assert not matches
    assert f"bản ghi số {lines[votes(lines)[0]]['seq'] + 1}:" in out  # where it breaks
    assert str(lines[votes(lines)[0]]["seq"]) in out  # the missing one named

    # A figure of the minutes changed (and the manifest's hash made to fit).
    minutes = json.loads(files["minutes.json"])
    lan = next(row for row in minutes["count"]["by_clerk"] if row["key"] == "lan")
    lan["by_level"]["satisfied"] += 1
    doctored = canonical_bytes(minutes)
    manifest_fit = {**manifest, "minutes_sha256": record_hash(doctored)}
    matches, out = recounted(
        rewrite(
            bundle,
            {**files, "minutes.json": doctored, "manifest.json": json.dumps(manifest_fit).encode()},
            "minutes.zip",
        )
    )
    assert not matches
    assert "Cán bộ Nguyễn Thị Lan, Hài lòng: biên bản 4, đếm lại 3" in out
    # … and without making the hash fit, that is named too.
    matches, out = recounted(rewrite(bundle, {**files, "minutes.json": doctored}, "hash.zip"))
    assert not matches and "SHA-256" in out

    # The key replaced by another: the ballots sealed to the real one are named.
    secret = new_master()
    other = BoxPrivateKey.from_master(secret)
    replaced = {
        **manifest["keys"][0],
        "fingerprint": other.public.fingerprint,
        "public_key": other.public.raw.hex(),
        "master": secret.hex(),
    }
    matches, out = recounted(
        rewrite(
            bundle,
            {**files, "manifest.json": json.dumps({**manifest, "keys": [replaced]}).encode()},
            "key.zip",
        )
    )
    assert not matches
    fingerprint = manifest["keys"][0]["fingerprint"]
    assert f"12 phiếu được niêm phong bằng khóa {fingerprint}" in out
    assert f"Biên bản ghi khóa của hòm là {fingerprint}" in out
    # Only its secret replaced: the key's entry names itself wrong.
    wrong = {**manifest["keys"][0], "master": secret.hex()}
    matches, out = recounted(
        rewrite(
            bundle,
            {**files, "manifest.json": json.dumps({**manifest, "keys": [wrong]}).encode()},
            "secret.zip",
        )
    )
    assert not matches and f"Khóa {fingerprint}" in out

    # Not a bundle at all.
    junk = tmp_path / "junk.zip"
    junk.write_text("not a zip")
    assert verify(junk).returncode == 2
    no_manifest = rewrite(bundle, {"minutes.json": files["minutes.json"]}, "partial.zip")
    assert verify(no_manifest).returncode == 2


def test_a_wave_one_box_in_clear_recounts_too(app, client, tmp_path):
    october_kiosk(app, client, tmp_path)  # no key: format 1, ballots in clear
    start_with_quorum(app, client)
    open_directly(app)
    bundle = download(app, client, tmp_path / "wave1.zip")
    manifest = json.loads(entries(bundle)["manifest.json"])
    assert manifest["keys"] == []
    result = verify(bundle, "--lang", "en")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Matches the minutes" in result.stdout and "15 (Very satisfied 7" in result.stdout
