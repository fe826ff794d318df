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


def log_in(page, base_url: str, username: str, password: str) -> None:
    """Log in through the login page and wait for the front page."""
    page.goto(base_url + "login")
    page.get_by_label("Tên tài khoản").fill(username)
    page.get_by_label("Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()
    page.get_by_role("heading", name="Hòm phiếu", exact=True).wait_for()


def confirm_on_screen(page, members, password: str, code: str) -> None:
    """Each (username, name, role) of ``members`` confirms on the ceremony's screen."""
    for username, name, _role in members:
        page.get_by_label("Tên tài khoản", exact=True).fill(username)
        page.get_by_label("Mật khẩu", exact=True).fill(password)
        page.get_by_label("Mã xác nhận", exact=True).fill(code)
        page.get_by_role("button", name="Xác nhận").click()
        page.get_by_text(f"{name} đã xác nhận.").wait_for()
