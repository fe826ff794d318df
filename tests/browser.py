"""A real headless Chromium (Debian's package) driven by Playwright, for pages people click."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# As root in a sandbox without a network: no sandbox, no background traffic.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

try:
    import playwright  # noqa: F401
except ImportError:  # no wheel for this machine (32-bit ARM)
    HAVE_PLAYWRIGHT = False
else:
    HAVE_PLAYWRIGHT = True

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None or not HAVE_PLAYWRIGHT,
    reason="Chromium or Playwright is missing (./run test installs Chromium when root)",
)


@contextmanager
def chromium_page(width: int = 1000, height: int = 800) -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()
