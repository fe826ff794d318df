"""The virtual panel page in a real headless browser: click a button, see the vote."""

from __future__ import annotations

from pathlib import Path

from tests.browser import chromium_page, needs_chromium
from tests.kiosk_process import KioskProcess


@needs_chromium
def test_clicking_a_button_on_the_panel_casts_a_vote(isolated_home: Path) -> None:
    kiosk = KioskProcess(isolated_home, lang="vi")
    try:
        with chromium_page() as page:
            page.goto(kiosk.url)
            assert page.title().startswith("Thiết bị mô phỏng")
            page.get_by_role("button", name="Hài lòng", exact=True).click()
            page.wait_for_function(
                "document.getElementById('result').textContent.includes('receipt_code')"
            )
            result = page.locator("#result").text_content()
            assert '"outcome": "vote"' in result or '"outcome":"vote"' in result
            page.wait_for_selector("#tickets img")
            # The panel keeps reloading the screen image; read its width once a load is done.
            loaded_width = page.wait_for_function(
                "(() => { const i = document.getElementById('screen');"
                " return i.complete && i.naturalWidth > 0 ? i.naturalWidth : null; })()"
            )
            assert loaded_width.json_value() == 480
        assert kiosk.get("/api/state")["box"]["ballots"] == 1
    finally:
        kiosk.terminate()
