"""A box's master secret split k of n among its committee: SLIP-39 (``shamir-mnemonic``,
the reference implementation by SatoshiLabs), one group, no passphrase.

Each member holds one share: 20 words of the SLIP-39 word list on a printed card. Any k of
them rebuild the secret; k − 1 of them reveal nothing of it. A share carries its set's
identifier, its threshold and a checksum, so a mistyped word or a card of another box is
named before anything is combined.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from shamir_mnemonic import (  # type: ignore[import-untyped]
    MnemonicError,
    combine_mnemonics,
    generate_mnemonics,
)
from shamir_mnemonic.share import Share  # type: ignore[import-untyped]
from shamir_mnemonic.wordlist import WORDLIST as WORDS  # type: ignore[import-untyped]

from hom_phieu.i18n import _

WORDS_PER_SHARE = 20  # for a 128-bit secret
MAX_MEMBERS = 16  # SLIP-39's limit on a group
_WORD_SET = frozenset(WORDS)


class ShareError(ValueError):
    """A share that cannot be used, or shares that do not rebuild the secret: in words."""


@dataclass(frozen=True, slots=True)
class ShareInfo:
    """What a well-formed share says of itself (before anything is combined)."""

    identifier: int  # the same for every share of one secret
    threshold: int
    member_index: int  # 0-based
    mnemonic: str  # normalised: lower case, single spaces


def split(master: bytes, threshold: int, members: int) -> list[str]:
    """``members`` shares of ``master``, any ``threshold`` of which rebuild it."""
    if not 1 <= threshold <= members <= MAX_MEMBERS:
        raise ShareError(
            _("a key is shared among 1 to {limit} members, with 1 to all of them needed").format(
                limit=MAX_MEMBERS
            )
        )
    (group,) = generate_mnemonics(1, [(threshold, members)], master, b"", True, 0)
    return list(group)


def normalise(text: str) -> str:
    """A typed share as one line of lower-case words (spaces, line breaks, case ignored)."""
    return " ".join(text.lower().split())


def read(text: str) -> ShareInfo:
    """Check one typed share; raises :class:`ShareError` naming the word or the fault."""
    mnemonic = normalise(text)
    words = mnemonic.split(" ") if mnemonic else []
    for position, word in enumerate(words, start=1):
        if word not in _WORD_SET:
            raise ShareError(
                _("word {n} ({word}) is not a word of the share cards").format(n=position,
                                                                              word=word[:20])
            )  # fmt: skip
    if len(words) != WORDS_PER_SHARE:
        raise ShareError(
            _("a share has {expected} words; this one has {count}").format(
                expected=WORDS_PER_SHARE, count=len(words)
            )
        )
    try:
        share = Share.from_mnemonic(mnemonic)
    except MnemonicError:
        raise ShareError(_("the share's check digits do not match: a word is mistyped")) from None
    return ShareInfo(share.identifier, share.member_threshold, share.index, mnemonic)


def digest(mnemonic: str, context: str) -> str:
    """A digest of a share to recognise it again (a card read back, who gave which share),
    bound to ``context`` (the key it belongs to). A share has 128 unknown bits: its digest
    cannot be inverted."""
    text = f"hom-phieu share\0{context}\0{normalise(mnemonic)}"
    return hashlib.sha256(text.encode()).hexdigest()


def combine(shares: Sequence[ShareInfo]) -> bytes:
    """The master secret of ``shares`` (each read with :func:`read`).

    Raises :class:`ShareError` when they belong to different keys, repeat a member, or are
    fewer than the threshold."""
    if not shares:
        raise ShareError(_("no share was given"))
    identifiers = {share.identifier for share in shares}
    if len(identifiers) > 1:
        raise ShareError(_("the shares belong to different keys"))
    indexes = [share.member_index for share in shares]
    if len(set(indexes)) != len(indexes):
        raise ShareError(_("the same member's share was given twice"))
    threshold = shares[0].threshold
    if len(shares) < threshold:
        raise ShareError(
            _("{given} shares given; this key needs {threshold}").format(
                given=len(shares), threshold=threshold
            )
        )
    try:
        master: bytes = combine_mnemonics([share.mnemonic for share in shares[:threshold]])
    except MnemonicError:
        raise ShareError(_("the shares do not rebuild a key")) from None
    return master


__all__ = ["ShareError", "ShareInfo", "combine", "digest", "normalise", "read", "split"]
