"""Translations: Vietnamese first, English second, through gettext catalogs.

Source strings in the code are English (``_("…")``); the Vietnamese catalog in
``hom_phieu/locale/vi`` translates them and is the default language. Catalogs are
kept with ``tools/catalogs`` (extract, update, compile) and checked by the tests.
"""

from __future__ import annotations

import gettext
from functools import cache
from pathlib import Path

DOMAIN = "hom_phieu"
LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"

_language = DEFAULT_LANGUAGE


@cache
def translations(language: str) -> gettext.NullTranslations:
    if language == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[language], fallback=True)


def set_language(language: str) -> None:
    """Choose the language of every message from now on (``vi`` or ``en``)."""
    global _language
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}: use one of {', '.join(LANGUAGES)}")
    _language = language


def current_language() -> str:
    return _language


def _(message: str) -> str:
    """Translate ``message`` into the current language."""
    return translations(_language).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_language).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a string for the catalog without translating it yet (translate at use)."""
    return message
