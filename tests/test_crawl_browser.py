"""Every page, for every role, in a real Chromium at 1280 px and 390 px: no dead end.

One server on one world (``tests.crawl_world``), one browser. For each person (an account per
role, and a citizen without one) the crawl starts from every GET route of the server's
url_map (parameters filled from the world) and follows every link it meets on the server
(one address per path and set of query names). On each page: no horizontal scroll at either
width (``scrollWidth <= innerWidth``), no common English word of the UI in the visible text
of a Vietnamese page, no raw key (a snake_case token), never a 500 nor the framework's own
English error page; and each role's menu leads only to pages the role may open (200).
What is allowed stands in :data:`ALLOWED`, each with its reason.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections import deque
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.browser import CHROMIUM, CHROMIUM_ARGS, needs_chromium
from tests.crawl_world import ACCOUNTS, World, build
from tests.web_helpers import PASSWORD
from tests.web_process import WebProcess

WIDTHS = (1280, 390)
HEIGHT = 900
MAX_PAGES = 120  # per person: the crawl is bounded even if a page links without end
# Not pages: the APIs (JSON), files, downloads, images.
NOT_PAGES = re.compile(r"^/(api|static)/|\.(pdf|csv|xlsx|json|zip|png|jpg|svg)$|/photo$")
PARAMETER = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")
# Common words of the UI in English (none is also a Vietnamese word written without marks).
ENGLISH = frozenset(
    re.findall(
        r"\w+",
        "the and of with from this that not found page error sealed opened open box boxes device "
        "devices password submit save cancel delete back results report reports month office "
        "counter committee status active pending revoked synced none unknown warning ballot "
        "ballots required invalid request method allowed server internal yes true false null login "
        "log out "
        "select choose edit new name date time total count clerk clerks unit units settings "
        "minutes download print verify key keys escrow share shares equivocation burst gap refused "
        "vote votes ",
    )
)
RAW_KEY = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
FRAMEWORK = ("The requested URL", "The method is not allowed", "Internal Server Error",
             "The browser (or proxy) sent", "You don't have the permission")  # fmt: skip
FRAMEWORK_TITLE = re.compile(r"^\d{3} [A-Z]")  # "404 Not Found"
DEAD_ENDS = ("/khong-co-trang-nay", "/public/khong-co", "/s/demo/khong-co-ai", "/devices/1/revoke")


@dataclass(frozen=True)
class Allowed:
    """A finding the crawl lets pass: ``where`` (a regex on the path), ``kind`` (scroll-390,
    scroll-1280, english, raw-key, status), ``what`` (a regex on the finding's detail)."""

    where: str
    kind: str
    what: str
    reason: str

    def covers(self, finding: Finding) -> bool:
        return (
            finding.kind == self.kind
            and re.search(self.where, finding.path) is not None
            and re.search(self.what, finding.detail) is not None
        )


ALLOWED: tuple[Allowed, ...] = (
    Allowed(
        r"^/public/offices/\d+/boxes/[^/]+/poster$",
        "english",
        r"^(month|office|results| )+$",
        "the poster prints the public results page's address (a URL: /public/results?"
        "office=…&period=month&month=…) for citizens to type",
    ),
    Allowed(
        r"^/reports/compare$",
        "english",
        r"^unit$",
        "the comparison opened without its parameters (only from the url_map: every link "
        "gives them) names the one it needs, unit=…",
    ),
    Allowed(
        r"^/manage/tokens$",
        "english",
        r"^results$",
        "the page names its documentation file, docs/results-api.md",
    ),
)


@dataclass(frozen=True)
class Finding:
    person: str
    path: str
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.person} {self.path}: {self.kind}: {self.detail}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("crawl")
    world = build(folder / "home", folder / "kiosk")
    running = WebProcess(folder / "home")
    running.world = world
    yield running
    running.stop()


def start_paths(world: World) -> list[str]:
    """Every GET route of the url_map that is a page, each filling of its parameters."""
    values = world.values()
    paths = []
    for rule in world.routes:
        names = PARAMETER.findall(rule)
        if NOT_PAGES.search(rule) or any(name not in values for name in names):
            continue
        for combination in itertools.product(*(values[name] for name in names)):
            filled = rule
            for value in combination:
                filled = PARAMETER.sub(value, filled, count=1)
            paths.append(filled)
    return [*paths, *DEAD_ENDS]


async def log_in(page, base: str, username: str) -> None:
    await page.goto(base + "login")
    await page.get_by_label("Tên tài khoản").fill(username)
    await page.get_by_label("Mật khẩu").fill(PASSWORD)
    await page.get_by_role("button", name="Đăng nhập").click()
    await page.wait_for_url(lambda url: "/login" not in url)


STATE = """() => ({lang: document.documentElement.lang, title: document.title,
    text: document.body.innerText, wide: document.documentElement.scrollWidth,
    width: window.innerWidth})"""
SCROLL = "[document.documentElement.scrollWidth, window.innerWidth]"
LINKS = "els => els.map(e => e.href)"


async def look(page, person: str, path: str, status: int) -> list[Finding]:
    """What is wrong with the page now shown, at both widths (the one it was opened at, then
    the other: the viewport stays there for the next page)."""
    state, found = await page.evaluate(STATE), []
    if (
        status >= 500
        or FRAMEWORK_TITLE.match(state["title"])
        or any(words in state["text"] for words in FRAMEWORK)
    ):
        found.append(Finding(person, path, "status", f"{status} {state['title']}"))
    other = WIDTHS[1] if state["width"] == WIDTHS[0] else WIDTHS[0]
    await page.set_viewport_size({"width": other, "height": HEIGHT})
    for width, (wide, inner) in (
        (state["width"], (state["wide"], state["width"])),
        (other, await page.evaluate(SCROLL)),
    ):
        if wide > inner:
            found.append(Finding(person, path, f"scroll-{width}", f"{wide} > {inner}"))
    if state["lang"] != "vi":
        return found
    english = sorted({w for w in re.findall(r"\w+", state["text"]) if w.lower() in ENGLISH})
    if english:
        found.append(Finding(person, path, "english", " ".join(english)))
    raw = sorted(set(RAW_KEY.findall(state["text"])))
    if raw:
        found.append(Finding(person, path, "raw-key", " ".join(raw)))
    return found


def signature(path: str) -> tuple[str, tuple[str, ...]]:
    """One address per page kind: ids in the path and the query's values do not count."""
    parts = urlsplit(path)
    shape = re.sub(r"/\d+(?=/|$)", "/#", parts.path)
    return shape, tuple(sorted({key for key, _ in parse_qsl(parts.query)}))


async def crawl(browser, base: str, person: str, starts: list[str]) -> list[Finding]:
    """The person's menu, then ``starts`` and every link met on the server: the findings.
    A page reached again (a redirect to the login page, an error page of a status already
    seen) is looked at once."""
    context = await browser.new_context(viewport={"width": WIDTHS[0], "height": HEIGHT})
    page = await context.new_page()
    found: list[Finding] = []
    if ACCOUNTS[person]:
        await log_in(page, base, ACCOUNTS[person])
        found += await menu_dead_ends(page, person)
    queue, seen = deque(starts), {signature(p) for p in starts}
    looked: set[str] = set()
    visited = 0
    while queue and visited < MAX_PAGES:
        path = queue.popleft()
        visited += 1
        # Asked first without the browser (its cookies): a page already seen (a redirect to
        # the login page, an error page of a known status) is not drawn again.
        asked = await context.request.get(base.rstrip("/") + path)
        status, shown = asked.status, urlsplit(asked.url)
        if "text/html" not in asked.headers.get("content-type", ""):
            continue
        if status >= 500:
            found.append(Finding(person, path, "status", str(status)))
        seen_as = f"error {status}" if status >= 400 else shown.path + "?" + shown.query
        if seen_as in looked:
            continue
        looked.add(seen_as)
        # Drawn from what was fetched (a navigation costs Chromium four times more), its
        # links resolved against its own address.
        html = (await asked.text()).replace("<head>", f'<head><base href="{asked.url}">', 1)
        await page.set_content(html, wait_until="domcontentloaded")
        found += await look(page, person, shown.path, status)
        for link in await page.eval_on_selector_all("a[href]", LINKS):
            parts = urlsplit(link)
            if not link.startswith(base) or "lang=" in parts.query:
                continue
            local = parts.path + (f"?{parts.query}" if parts.query else "")
            if NOT_PAGES.search(parts.path) or signature(local) in seen:
                continue
            seen.add(signature(local))
            queue.append(local)
    await context.close()
    return found


async def menu_dead_ends(page, person: str) -> list[Finding]:
    """Each link of the role's menu (the page's header) opens a page the role may see."""
    found = []
    for link in await page.eval_on_selector_all("header a[href]", LINKS):
        if "lang=" in link:
            continue
        response = await page.goto(link, wait_until="domcontentloaded")
        if response is None or response.status != 200:
            status = response.status if response else 0
            found.append(Finding(person, urlsplit(link).path, "menu", str(status)))
    return found


async def crawl_all(base: str, starts: list[str]) -> list[Finding]:
    """Every person at once, each in a context of its own of one browser."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            found = await asyncio.gather(*(crawl(browser, base, p, starts) for p in ACCOUNTS))
        finally:
            await browser.close()
    return [finding for each in found for finding in each]


@needs_chromium
def test_every_page_for_every_role_has_no_dead_end(server: WebProcess) -> None:
    findings = asyncio.run(crawl_all(server.url, start_paths(server.world)))
    left = [f for f in findings if not any(a.covers(f) for a in ALLOWED)]
    assert not left, "\n".join(map(str, left))


def test_the_allowed_exceptions_each_say_why() -> None:
    for allowed in ALLOWED:
        assert allowed.reason.strip() and allowed.kind and re.compile(allowed.where)
