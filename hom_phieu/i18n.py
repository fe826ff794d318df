"""Translations: Vietnamese first, English second, through gettext catalogs.

Source strings in the code are English (``_("…")``); the Vietnamese catalog in
``hom_phieu/locale/vi`` translates them and is the default language. Catalogs are
kept with ``tools/catalogs`` (extract, update, compile) and checked by the tests.
"""

from __future__ import annotations

import gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

DOMAIN = "hom_phieu"
LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"

# The process's language (the kiosk's, a command's), and a per-request override: the
# admin server answers requests in different languages at once, each in its own context.
_process_language = DEFAULT_LANGUAGE
_request_language: ContextVar[str | None] = ContextVar("hom_phieu_language", default=None)


@cache
def translations(language: str) -> gettext.NullTranslations:
    if language == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[language], fallback=True)


def _check(language: str) -> str:
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}: use one of {', '.join(LANGUAGES)}")
    return language


def set_language(language: str) -> None:
    """Choose the language of every message of this process (``vi`` or ``en``)."""
    global _process_language
    _process_language = _check(language)


def set_request_language(language: str | None) -> None:
    """Choose the language for the current context only (one web request)."""
    _request_language.set(None if language is None else _check(language))


@contextmanager
def language(code: str) -> Iterator[None]:
    """Messages in ``code`` for the duration of a block (e.g. minutes that are always
    written in Vietnamese, whatever the page's language)."""
    token = _request_language.set(_check(code))
    try:
        yield
    finally:
        _request_language.reset(token)


def current_language() -> str:
    return _request_language.get() or _process_language


def _(message: str) -> str:
    """Translate ``message`` into the current language."""
    return translations(current_language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_language()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a string for the catalog without translating it yet (translate at use)."""
    return message
