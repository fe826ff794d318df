"""The opinion sealed at the source (format 2): what the SD card holds reveals no level,
button, criterion or comment; the box key opens it; the ledger never goes back to clear."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from hom_phieu.clock import FakeClock
from hom_phieu.ledger import key_shares
from hom_phieu.ledger.ballot_box import BallotBox, BallotBoxError
from hom_phieu.ledger.box_key import BoxPrivateKey, new_master
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.events import RefusalReason
from hom_phieu.ledger.opinion import KeyRing, OpinionError, opened_body
from hom_phieu.ledger.records import Kind, Level, decode
from hom_phieu.ledger.verify import Row, verify_rows

SECRET_WORDS = ("very_satisfied", "not_satisfied", "satisfied", "red", "green", "Rất tệ")


def box_key() -> BoxPrivateKey:
    return BoxPrivateKey.from_master(new_master())


def rows(path: Path) -> list[Row]:
    with sqlite3.connect(path) as db:
        return [Row(*r) for r in db.execute("SELECT seq, data, sig FROM records ORDER BY seq")]


def test_votes_are_sealed_on_the_card_and_the_box_key_counts_them(
    ledger_path: Path, key: DeviceKey, clock: FakeClock
) -> None:
    november = box_key()
    ring = KeyRing({"2026-11": november.public})
    with BallotBox.open(ledger_path, key, clock, sealer=ring) as box:
        assert box.sealing_key is not None and not box.sealing_key.escrow
        for level, button in [(Level.SATISFIED, "green"), (Level.NOT_SATISFIED, "red")] * 3:
            clock.advance(30_000)
            box.cast_vote(clerk="c1", button=button, level=level)
        box.refuse(button="red", reason=RefusalReason.MIN_GAP, gap_ms=10)
        box.cast_vote(clerk="c2", button="green", level=Level.SATISFIED, channel="phone",
                      criteria={"Thái độ": "satisfied"}, comment="Rất tệ")  # fmt: skip

    raw = b"".join(p.read_bytes() for p in ledger_path.parent.glob(ledger_path.name + "*"))
    for word in SECRET_WORDS:  # plain sqlite3 (and the raw file) show no opinion
        assert word.encode() not in raw
    stored = rows(ledger_path)
    problem, _verifier = verify_rows(stored, key.public_raw, key.device_id)
    assert problem is None
    votes = [decode(r.data) for r in stored if decode(r.data).kind is Kind.VOTE]
    cts = [v.body["sealed"]["ct"] for v in votes]
    assert len(set(cts)) == len(cts)  # equal opinions, unlinkable ciphertexts
    assert len({len(ct) for ct in cts[:6]}) == 1  # nor told apart by their length
    keys = {november.public.fingerprint: november}
    levels = Counter(opened_body(v, keys)["level"] for v in votes)
    assert levels == {"satisfied": 4, "not_satisfied": 3}
    phone = opened_body(votes[-1], keys)
    assert phone["criteria"] == {"Thái độ": "satisfied"} and phone["comment"] == "Rất tệ"
    refused = next(decode(r.data) for r in stored if decode(r.data).kind is Kind.REFUSED)
    assert "button" not in refused.body and opened_body(refused, keys)["button"] == "red"


def test_another_key_or_an_altered_ciphertext_does_not_open(
    ledger_path: Path, key: DeviceKey, clock: FakeClock
) -> None:
    right, wrong = box_key(), box_key()
    with BallotBox.open(ledger_path, key, clock, sealer=KeyRing({"2026-11": right.public})) as b:
        b.cast_vote(clerk="c1", button="green", level=Level.SATISFIED)
    vote = next(decode(r.data) for r in rows(ledger_path) if decode(r.data).kind is Kind.VOTE)
    with pytest.raises(OpinionError, match="not given"):
        opened_body(vote, {wrong.public.fingerprint: wrong})
    with pytest.raises(OpinionError, match="altered"):  # a right key under a lying label
        opened_body(vote, {right.public.fingerprint: wrong})


def test_the_month_rolls_over_to_next_months_key_and_the_close_shows_no_levels(
    ledger_path: Path, key: DeviceKey, clock: FakeClock
) -> None:
    november, december = box_key(), box_key()
    ring = KeyRing({"2026-11": november.public, "2026-12": december.public})
    with BallotBox.open(ledger_path, key, clock, sealer=ring) as box:
        box.cast_vote(clerk="c1", button="green", level=Level.SATISFIED)
        clock.advance_to("2026-12-01T08:00:00")
        box.cast_vote(clerk="c1", button="red", level=Level.NOT_SATISFIED)
    records = [decode(r.data) for r in rows(ledger_path)]
    close = next(r for r in records if r.kind is Kind.CLOSE)
    assert close.body.keys() == {"votes", "refused", "open_seq", "last_hash"}
    december_vote = [r for r in records if r.kind is Kind.VOTE][-1]
    assert december_vote.box == "2026-12"
    assert december_vote.body["sealed"]["key"] == december.public.fingerprint


def test_a_box_without_its_key_seals_to_the_escrow_and_says_so(
    ledger_path: Path, key: DeviceKey, clock: FakeClock
) -> None:
    escrow = box_key()
    with BallotBox.open(ledger_path, key, clock, sealer=KeyRing(escrow=escrow.public)) as box:
        assert box.sealing_key is not None and box.sealing_key.escrow
        box.cast_vote(clerk="c1", button="green", level=Level.SATISFIED)
    vote = [decode(r.data) for r in rows(ledger_path)][-1]
    assert opened_body(vote, {escrow.public.fingerprint: escrow})["level"] == "satisfied"


def test_a_wave_one_ledger_goes_on_sealed_and_never_back_to_clear(
    ledger_path: Path, key: DeviceKey, clock: FakeClock
) -> None:
    with BallotBox.open(ledger_path, key, clock) as box:  # no key: format 1, as in wave 1
        box.cast_vote(clerk="c1", button="green", level=Level.SATISFIED)
    first = [decode(r.data) for r in rows(ledger_path)]
    assert {r.fields["v"] for r in first} == {1} and first[-1].body["level"] == "satisfied"
    november = box_key()
    with BallotBox.open(ledger_path, key, clock, sealer=KeyRing({"2026-11": november.public})):
        pass
    with BallotBox.open(
        ledger_path, key, clock, sealer=KeyRing({"2026-11": november.public})
    ) as box:
        box.cast_vote(clerk="c1", button="red", level=Level.NOT_SATISFIED)
        clock.advance_to("2026-12-01T08:00:00")
        box.tick()
    later = [decode(r.data) for r in rows(ledger_path)]
    assert later[-1].fields["v"] == 2 and verify_rows(rows(ledger_path), key.public_raw,
                                                       key.device_id)[0] is None  # fmt: skip
    close = next(r for r in later if r.kind is Kind.CLOSE)
    assert close.fields["v"] == 2 and close.body["votes"] == 2  # a mixed box: counts only
    with (
        BallotBox.open(ledger_path, key, clock) as box,
        pytest.raises(BallotBoxError, match="never goes back"),
    ):
        box.cast_vote(clerk="c1", button="green", level=Level.SATISFIED)  # keys removed


def test_shares_rebuild_the_key_with_k_and_not_with_fewer() -> None:
    master = new_master()
    cards = key_shares.split(master, 3, 5)
    assert len(cards) == 5 and all(len(card.split()) == 20 for card in cards)
    read = [key_shares.read(card.upper().replace(" ", "  ")) for card in cards]
    assert key_shares.combine([read[0], read[2], read[4]]) == master
    with pytest.raises(key_shares.ShareError, match="needs 3"):
        key_shares.combine(read[:2])
    with pytest.raises(key_shares.ShareError, match="twice"):
        key_shares.combine([read[0], read[0], read[1]])
    other = key_shares.read(key_shares.split(new_master(), 3, 5)[0])
    with pytest.raises(key_shares.ShareError, match="different keys"):
        key_shares.combine([read[0], read[1], other])
    words = cards[1].split()
    typo = " ".join([*words[:5], words[6], *words[6:]])
    with pytest.raises(key_shares.ShareError, match="check digits"):
        key_shares.read(typo)
    with pytest.raises(key_shares.ShareError, match="word 2"):
        key_shares.read(" ".join([words[0], "xylophone", *words[2:]]))
