"""Which statutory level a button's label names, if it clearly names one.

A citizen reads the label, not the level behind it: a red "Không hài lòng" button counted as
"very satisfied" would turn every complaint into praise. So a label that names a level
cannot be mapped to another (``web.manage.scale``). Labels are compared without case,
diacritics or punctuation, word by word, in Vietnamese and in English: the statutory words
(``LEVEL_LABELS``, "Rất hài lòng", "Hài lòng", "Không hài lòng") and their common variants
("chưa hài lòng", "rất không hài lòng", "dissatisfied", …). A label that names no level
("Bình thường", "Tốt", "Kém") may map to any.

Pure: no database, no Flask.
"""

from __future__ import annotations

import re
import unicodedata

from hom_phieu.ledger.records import Level

# A label speaks of satisfaction when it holds one of these phrases (as words, after folding)…
SATISFACTION = (("hai", "long"), ("hailong",), ("satisfied",), ("satisfaction",),
                ("dissatisfied",), ("unsatisfied",), ("dissatisfaction",))  # fmt: skip
# … and names "not satisfied" when it also holds a negation (tried first), "very satisfied"
# when it holds an intensifier, "satisfied" otherwise.
NEGATIONS = frozenset({"khong", "chua", "chang", "cha", "not", "no", "un", "dis",
                       "dissatisfied", "unsatisfied", "dissatisfaction"})  # fmt: skip
INTENSIFIERS = frozenset({"rat", "very", "highly", "extremely", "completely", "hoan", "cuc"})

_NOT_A_WORD = re.compile(r"[^a-z0-9]+")


def folded_words(text: str) -> tuple[str, ...]:
    """``"Không  hài lòng!"`` → ``("khong", "hai", "long")``: lower case, no diacritics
    (đ → d) nor invisible characters (zero-width spaces…), punctuation and symbols as word
    breaks."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("đ", "d"))
    plain = "".join(c for c in decomposed if unicodedata.category(c) not in ("Mn", "Cf"))
    return tuple(word for word in _NOT_A_WORD.split(plain) if word)


def _holds(words: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    size = len(phrase)
    return any(words[i : i + size] == phrase for i in range(len(words) - size + 1))


def level_named(label: str) -> Level | None:
    """The level ``label`` clearly names, or None when it names none."""
    words = folded_words(label)
    if not any(_holds(words, phrase) for phrase in SATISFACTION):
        return None
    if NEGATIONS.intersection(words):
        return Level.NOT_SATISFIED
    if INTENSIFIERS.intersection(words):
        return Level.VERY_SATISFIED
    return Level.SATISFIED
