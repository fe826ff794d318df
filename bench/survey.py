"""A phone answer, from the citizen's "Send" to the thanks page: the whole request through
Flask (CSRF, the rate limit, the signed record of the office's survey box written straight
into the server's SQLite database with its rate-limit row, in one transaction).

Floor, measured in the same run on the same disk: the one durable commit the answer cannot
do without, as a bare single-row ``synchronous=FULL`` SQLite transaction. Beside it, as a
reference, the web framework's own floor: the same form POSTed through Flask's test client
to a bare Flask app whose view does nothing, so the table shows how much of the answer is
the request itself before any of its work.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from bench.report import Row, Settings, log, ms, percentile, ratio
from bench.vote_latency import BareCommit

ORDER = 7
ANSWERS, ANSWERS_QUICK = 300, 30
WARM_UP = 5


def run(settings: Settings) -> list[Row]:
    count = ANSWERS_QUICK if settings.quick else ANSWERS
    settings.workdir.mkdir(parents=True, exist_ok=True)
    os.environ["HOM_PHIEU_HOME"] = str(settings.workdir / "home")
    from web.services import close_app

    app = _server(settings.workdir)
    floor = [BareCommit(settings.workdir / "floor-1.db")]
    bare = _bare_flask()
    answer_ns, floor_ns, bare_ns = [], [], []
    try:
        for index in range(WARM_UP + count):
            took = _answer(app, index)
            bottom = sum(commit.press(index) for commit in floor)
            request_only = _bare_post(bare, index)
            if index >= WARM_UP:
                answer_ns.append(took)
                floor_ns.append(bottom)
                bare_ns.append(request_only)
            if index % 100 == 99:
                log(f"  survey: {index + 1 - WARM_UP} answers")
    finally:
        for commit in floor:
            commit.close()
        close_app(app)
    rows = []
    for stat, q in (("median", 50), ("p99", 99)):
        measured, bottom = percentile(answer_ns, q), percentile(floor_ns, q)
        what = " (one bare INSERT + COMMIT)" if not rows else ""
        rows.append(
            Row(
                f"Phone answer, Send → thanks page ({count} answers, SQLite): {stat}",
                ms(measured),
                ms(bottom) + what,
                ratio(measured, bottom),
            )
        )
    bare_median, floor_median = percentile(bare_ns, 50), percentile(floor_ns, 50)
    rows.append(
        Row(
            "Reference: the same form POSTed to a bare Flask app that does nothing, + one bare "
            "commit: median",
            ms(bare_median + floor_median),
            ms(floor_median) + " (the commit alone)",
            ratio(bare_median + floor_median, floor_median),
        )
    )
    return rows


def _bare_flask():
    """A Flask app with one view that does nothing: the request's own cost."""
    from flask import Flask

    bare = Flask("bare")
    bare.add_url_rule("/s/bench/lan", "answer", lambda: "ok", methods=["POST"])
    return bare


def _bare_post(bare, index: int) -> int:
    client = bare.test_client()
    started = time.perf_counter_ns()
    response = client.post("/s/bench/lan", data=_fields("x" * 91), environ_base=_address(index))
    took = time.perf_counter_ns() - started
    if response.status_code != 200:
        raise RuntimeError(f"bare request {index}: {response.status_code}")
    return took


def _server(workdir: Path):
    from web import create_app, db
    from web.models import Clerk, Office, ScaleButton, Unit

    url = f"sqlite:///{workdir / 'server.sqlite3'}"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "SESSION_COOKIE_SECURE": False})
    db.upgrade(url)
    with app.app_context():
        session = db.session()
        unit = Unit(code="bench", name="Xã Bench", kind="xã")
        office = Office(unit=unit, code="bench", name="Bộ phận một cửa xã Bench")
        session.add_all([unit, office, Clerk(office=office, code="lan", name="Nguyễn Thị Lan"),
                         ScaleButton(office=office, position=0, name="hai_long",
                                     label="Hài lòng", level="satisfied")])  # fmt: skip
        session.commit()
    return app


def _answer(app, index: int) -> int:
    """One phone (its own browser and address), one answer; the time of the POST only."""
    phone = app.test_client()
    page = phone.get("/s/bench/lan", environ_base=_address(index))
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    started = time.perf_counter_ns()
    response = phone.post("/s/bench/lan", data=_fields(token), environ_base=_address(index))
    took = time.perf_counter_ns() - started
    if response.status_code != 200:
        raise RuntimeError(f"answer {index} refused: {response.status_code}")
    return took


def _address(index: int) -> dict[str, str]:
    """Each phone its own address (the per-address limit is not what is measured)."""
    return {"REMOTE_ADDR": f"10.{index // 65536 % 256}.{index // 256 % 256}.{index % 256}"}


def _fields(token: str) -> dict[str, str]:
    fields = {"csrf_token": token, "level": "hai_long", "comment": "Tận tình"}
    fields.update({f"c{n}": "satisfied" for n in range(5)})
    return fields
