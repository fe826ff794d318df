"""What a password may be, how it is stored, and how it is checked in constant time.

A password is refused when it is short, contains its account's name, or is easy to guess:
zxcvbn (Dropbox's estimator, MIT, kept up on PyPI) rates it from its own lists of common
passwords, words, names, keyboard walks, dates and repeats, plus the words of this account
(name, full name, unit and offices) and Vietnamese ones people reach for ("matkhau",
"anhyeuem", "hom-phieu", common family and given names…). Vietnamese is rated without its
diacritics (``mật khẩu`` is guessed as ``mat khau``). zxcvbn's top score is asked, at
least 10^10 guesses: out of reach behind the login throttle, and still costly offline if
the hashes ever leak (an administrator can read the database); a passphrase of a few
unrelated words gets there, a word or name with digits does not.

Every place a password is set goes through :func:`hash_password` (``web.auth.create_user``,
an administrator's reset, one's own change, the command line, the demo).
"""

from __future__ import annotations

import functools
import secrets
import threading
import unicodedata
from dataclasses import dataclass

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn import zxcvbn

from hom_phieu.i18n import _
from web import db
from web.models import Office, Unit

MIN_LENGTH = 10
MIN_SCORE = 4  # zxcvbn's score: 4 is at least 10^10 guesses
ESTIMATED_LENGTH = 72  # zxcvbn's limit: a longer password is rated by its first 72 characters

# Written without diacritics, as passwords are rated. Ranked by how early a guesser tries
# them: the first are the words people type as a password, then this service's own words,
# then the commonest family and given names.
_VIETNAMESE_WORDS = (
    "matkhau mat-khau mk123 anhyeuem emyeuanh yeuem yeuanh iloveyou vietnam hanoi saigon "
    "hochiminh danang haiphong hom-phieu homphieu hom phieu motcua mot-cua hailong "
    "khonghailong danhgia quantri quantrivien admin ubnd hdnd mttq chutich phochutich thuky "
    "hoidong uyban congchuc canbo xa phuong tinh huyen thanhpho nguyen tran le pham hoang "
    "huynh phan vu vo dang bui do ho ngo duong ly van thi anh minh huong linh trang thao "
    "hung dung tuan nam long hai hoa lan mai ngoc quang thanh thu trung tu yen son khanh duc "
    "hieu binh phuc loc tho an vy nhung hang ha giang hien hoai khoa kien lam nga nhi oanh "
    "phong quan tam thinh thuy tien toan tri tung viet xuan"
)
VIETNAMESE = tuple(_VIETNAMESE_WORDS.split())


class WeakPassword(ValueError):
    """A password refused, with the reason a person reads."""


def fold(text: str) -> str:
    """Lower case without diacritics: ``Mật Khẩu Đủ`` → ``mat khau du``."""
    decomposed = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _compact(text: str) -> str:
    return "".join(c for c in fold(text) if c.isalnum())


@dataclass(frozen=True)
class Owner:
    """The account a password is for, as a guesser knows it (folded words)."""

    username: str = ""
    words: tuple[str, ...] = ()


def owner(username: str, display_name: str = "", unit_id: int | None = None) -> Owner:
    """An account's name, full name, its unit and the units above it, and the unit's
    offices (names and codes; each also in one piece and word by word)."""
    words = [username, display_name]
    session = db.session()
    unit = session.get(Unit, unit_id) if unit_id is not None else None
    if unit is not None:
        words += [
            text
            for office in session.scalars(select(Office).where(Office.unit_id == unit.id))
            for text in (office.name, office.code)
        ]
    while unit is not None:
        words += [unit.name, unit.code]
        unit = unit.parent
    folded = [fold(word) for word in words if word]
    pieces = [piece for word in folded for piece in word.split()]
    return Owner(username, (*folded, *(_compact(word) for word in folded), *pieces))


_estimator_lock = threading.Lock()  # zxcvbn keeps a call's own words in a module global


def refusal(password: str, of: Owner = Owner()) -> str | None:
    """Why ``password`` may not be used for the account ``of``, or None."""
    if len(password) < MIN_LENGTH:
        return _("a password needs at least {count} characters").format(count=MIN_LENGTH)
    name = _compact(of.username)
    if len(name) >= 3 and name in _compact(password):
        return _("a password must not contain the account name")
    with _estimator_lock:
        rating = zxcvbn(fold(password)[:ESTIMATED_LENGTH], user_inputs=[*of.words, *VIETNAMESE])
    if rating["score"] < MIN_SCORE:
        return _(
            "this password is too easy to guess (a common password, a word or name with "
            "digits, a date, a keyboard pattern, or the account's or office's name): use "
            "a longer one of several unrelated words"
        )
    return None


def hash_password(password: str, of: Owner = Owner()) -> str:
    """The stored form of an acceptable password (:func:`refusal` says which are)."""
    reason = refusal(password, of)
    if reason is not None:
        raise WeakPassword(reason)
    return generate_password_hash(password)


@functools.cache
def _dummy_hash() -> str:
    """A hash of nothing anyone knows, made like a real one (same method and cost)."""
    return generate_password_hash(secrets.token_urlsafe(32))


def verify(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash``. With no account (None) a dummy hash is
    checked all the same, so an unknown account name answers in the time a known one does."""
    matches = check_password_hash(stored_hash or _dummy_hash(), password)
    return matches and stored_hash is not None
