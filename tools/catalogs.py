"""Keep the gettext catalogs in step with the code.

    python tools/catalogs.py          # extract, merge into every .po, compile .mo
    python tools/catalogs.py --check  # exit 1 if a message lacks a translation or a .mo is stale

Source strings are English; ``hom_phieu/locale/vi/LC_MESSAGES/hom_phieu.po`` holds the
Vietnamese. New messages arrive in the .po untranslated: translate them (with correct
diacritics), then run this again to compile.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import gettext
import io
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("hom_phieu", "kiosk", "hardware", "web")
LOCALE_DIR = ROOT / "hom_phieu" / "locale"
DOMAIN = "hom_phieu"
LANGUAGES = ("vi",)
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2), "gettext": None, "lazy_gettext": None}
CATALOG_DATE = datetime(2026, 11, 21, tzinfo=UTC)
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2")]


def extract() -> Catalog:
    """Every translatable message in the code, with where it stands."""
    # A fixed creation date keeps the .po header (and so the .mo) stable between runs.
    template = Catalog(project="hom-phieu", fuzzy=False, creation_date=CATALOG_DATE)
    for package in PACKAGES:
        directory = ROOT / package
        if not directory.exists():
            continue
        for filename, lineno, message, comments, context in extract_from_dir(
            directory, METHODS, keywords=KEYWORDS, strip_comment_tags=True
        ):
            template.add(
                message,
                None,
                [(f"{package}/{filename}", lineno)],
                auto_comments=comments,
                context=context,
            )
    return template


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def load_po(language: str) -> Catalog:
    path = po_path(language)
    if not path.exists():
        return Catalog(locale=language, project="hom-phieu")
    with path.open("rb") as handle:
        return read_po(handle, locale=language)


def mo_bytes(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()


def mo_messages(compiled: bytes) -> dict:
    """A compiled catalog's translations, without its header: the header names the tool
    that wrote it (Babel's version), which must not make an unchanged catalog stale."""
    messages = dict(gettext.GNUTranslations(io.BytesIO(compiled))._catalog)  # type: ignore[attr-defined]
    messages.pop("", None)
    return messages


def problems(template: Catalog, language: str) -> list[str]:
    catalog = load_po(language)
    found = []
    for message in template:
        if not message.id:
            continue
        translated = catalog.get(message.id, message.context)
        if translated is None or not translated.string or translated.fuzzy:
            where = ", ".join(f"{f}:{n}" for f, n in message.locations[:2])
            found.append(f"{language}: untranslated: {message.id!r} ({where})")
        elif isinstance(translated.string, tuple) and not all(translated.string):
            found.append(f"{language}: plural forms missing: {message.id!r}")
    mo = po_path(language).with_suffix(".mo")
    if not mo.exists() or mo_messages(mo.read_bytes()) != mo_messages(mo_bytes(catalog)):
        found.append(f"{language}: {mo.relative_to(ROOT)} is stale: run python tools/catalogs.py")
    return found


@contextlib.contextmanager
def locked() -> Iterator[None]:
    """One run at a time reads and rewrites the catalogs (two at once lose translations)."""
    LOCALE_DIR.mkdir(parents=True, exist_ok=True)
    with (LOCALE_DIR / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _replace(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all: a reader never sees half a catalog."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def update(template: Catalog) -> None:
    for language in LANGUAGES:
        catalog = load_po(language)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        text = io.BytesIO()
        write_po(text, catalog, width=100, omit_header=False, sort_output=False)
        _replace(po_path(language), text.getvalue())
        _replace(po_path(language).with_suffix(".mo"), mo_bytes(catalog))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check, change nothing")
    args = parser.parse_args()
    template = extract()
    with locked():
        if not args.check:
            update(template)
        found = [p for language in LANGUAGES for p in problems(template, language)]
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
