"""A province's opened results, seeded straight into a migrated server database, for the
report benchmarks (``bench/reports.py``) and their test.

What a province holds after a year (or one commune after a decade): communes under one
province, one office each with its counters, clerks and procedure fields, every month
opened (``Opening`` rows inserted already ``opened``, with the dossiers returned: the
database freezes an opened row on UPDATE, so each is written once, final) and the
``ResultCell`` rows those openings froze: per opening × clerk × counter × field × channel
(buttons, phone with ticket, phone without), with the ballots of each level, and from the
second month on a supplement (an earlier box's late ballots). The minutes themselves are
left out: the reports never read them.

The ballots add up to exactly ``Scale.ballots``, spread deterministically (a seeded
``random.Random``): offices of different sizes, each clerk mostly at a counter of their own,
each with a rate of their own. :class:`Seeded` keeps every cell's figures, so a test can
check a report against what was written.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, insert, select, text

from hom_phieu.clock import TIMEZONE
from web.ballot_channels import BallotChannel
from web.ceremony_calendar import next_box
from web.models import Clerk, Counter, Office, Opening, ProcedureField, Role, Unit, User
from web.models_results import ResultCell
from web.passwords import hash_password

FIELDS = (
    "Tư pháp - Hộ tịch",
    "Đất đai",
    "Xây dựng",
    "Lao động - Thương binh và Xã hội",
    "Chứng thực",
    "Kinh doanh",
)
CHANNELS = (
    (BallotChannel.BUTTON.value, 0.86),
    (BallotChannel.PHONE_TICKET.value, 0.09),
    (BallotChannel.PHONE_SCREEN.value, 0.05),
)
AWAY = 0.08  # a clerk's weight at a counter not their own, theirs being 1
SUPPLEMENT = 0.01  # the share of an opening's ballots that are an earlier box's, late
VIEWER = "xem-tinh-bench"
PASSWORD = "bàn-đo-báo-cáo-tỉnh-2025"
SECRETARY = "thu-ky-bench"


@dataclass(frozen=True, slots=True)
class Scale:
    communes: int
    first_box: str  # YYYY-MM of the first opened month
    months: int
    ballots: int  # in all cells of all openings, every channel
    counters: int = 3  # per office
    clerks: int = 4  # per office
    seed: int = 2025

    def boxes(self) -> tuple[str, ...]:
        found = [self.first_box]
        while len(found) < self.months:
            found.append(next_box(found[-1]))
        return tuple(found)


# What issue 11 asks for: a province-year of 10 M ballots, and one commune's decade at the
# same ballots per office-month (about 6,400) on SQLite.
PROVINCE_YEAR = Scale(communes=130, first_box="2025-01", months=12, ballots=10_000_000)
COMMUNE_DECADE = Scale(
    communes=1, first_box="2016-01", months=120, ballots=round(10_000_000 / 130 / 12 * 120)
)

Levels = tuple[int, int, int]  # very satisfied, satisfied, not satisfied


@dataclass(slots=True)
class Seeded:
    """What was seeded: ids to report on, and the figures of every cell written."""

    province: int
    communes: tuple[int, ...] = ()
    offices: tuple[int, ...] = ()
    clerks: tuple[int, ...] = ()
    boxes: tuple[str, ...] = ()
    viewer: str = VIEWER  # a viewer of the whole province (its password: PASSWORD)
    cells: int = 0
    # (commune unit id, clerk id, box, channel) -> levels summed over the cells
    figures: dict[tuple[int, int, str, str], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0, 0])
    )
    dossiers: int = 0  # dossiers returned, over every opening

    @property
    def ballots(self) -> int:
        return sum(sum(levels) for levels in self.figures.values())


def seed(engine: Engine, scale: Scale) -> Seeded:
    """Seed ``scale`` into the empty, migrated database of ``engine`` (``web.db.upgrade``)."""
    rng = random.Random(scale.seed)
    with engine.begin() as connection:
        seeded = _people_and_places(connection, scale)
        _openings_and_cells(connection, scale, rng, seeded)
    if engine.dialect.name == "postgresql":
        # Autovacuum analyzes a table within a minute of such a load; a server in use has
        # its statistics, so the planner should have them here too. (SQLite keeps none
        # unless ANALYZE is run, and the server never runs it: none there.)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE"))
    return seeded


def _insert(connection: Connection, table, rows: list[dict]) -> list[int]:
    """Insert ``rows`` in one executemany and return their ids, in order."""
    returning = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list(connection.scalars(returning, rows))


def _people_and_places(connection: Connection, scale: Scale) -> Seeded:
    province = _insert(
        connection, Unit.__table__, [{"code": "bench-tinh", "name": "Tỉnh Bench", "kind": "tỉnh"}]
    )[0]
    communes = _insert(
        connection,
        Unit.__table__,
        [
            {
                "code": f"bench-{n:03d}",
                "name": f"{'Phường' if n % 5 == 0 else 'Xã'} Bench {n:03d}",
                "kind": "phường" if n % 5 == 0 else "xã",
                "parent_id": province,
            }
            for n in range(1, scale.communes + 1)
        ],
    )
    fields = _insert(connection, ProcedureField.__table__, [{"name": name} for name in FIELDS])
    offices = _insert(
        connection,
        Office.__table__,
        [
            {"unit_id": unit, "code": f"bench-{n:03d}-1c", "name": f"Bộ phận một cửa {n:03d}"}
            for n, unit in enumerate(communes, 1)
        ],
    )
    counters = _insert(
        connection,
        Counter.__table__,
        [
            {"office_id": office, "name": f"Quầy {k}"}
            for office in offices
            for k in range(1, scale.counters + 1)
        ],
    )
    clerk_rows = [
        {
            "office_id": office,
            "code": f"cb{c}",
            "name": f"Cán bộ {o + 1:03d}-{c}",
            "title": "Công chức",
            "field_id": fields[(o + c) % len(fields)],
            "counter_id": counters[o * scale.counters + (c - 1) % scale.counters],
            "contact": "",
            "active": True,
        }
        for o, office in enumerate(offices)
        for c in range(1, scale.clerks + 1)
    ]
    clerks = _insert(connection, Clerk.__table__, clerk_rows)
    hashed = hash_password(PASSWORD)
    now = datetime(2026, 1, 5, 9, tzinfo=TIMEZONE)
    _insert(
        connection,
        User.__table__,
        [
            {"username": VIEWER, "password_hash": hashed, "display_name": "Người xem tỉnh",
             "role": Role.VIEWER, "unit_id": province, "language": "vi", "active": True,
             "created_at": now},
            {"username": SECRETARY, "password_hash": hashed, "display_name": "Thư ký",
             "role": Role.COMMITTEE, "unit_id": province, "language": "vi", "active": True,
             "created_at": now},
        ],
    )  # fmt: skip
    return Seeded(
        province=province,
        communes=tuple(communes),
        offices=tuple(offices),
        clerks=tuple(clerks),
        boxes=scale.boxes(),
    )


def _openings_and_cells(
    connection: Connection, scale: Scale, rng: random.Random, seeded: Seeded
) -> None:
    secretary = connection.scalar(select(User.id).where(User.username == SECRETARY))
    counters = _by_office(connection, Counter)
    clerks = _clerks(connection)
    boxes = seeded.boxes
    per_opening = apportion(scale.ballots, [rng.uniform(0.7, 1.3) for _ in
                                            range(len(seeded.offices) * len(boxes))])  # fmt: skip
    rates = {clerk: rng.uniform(0.80, 0.99) for clerk in seeded.clerks}
    openings, plans = [], []
    for o, (office, unit) in enumerate(zip(seeded.offices, seeded.communes, strict=True)):
        for m, box in enumerate(boxes):
            cells = _plan(rng, counters[office], clerks[office], box, boxes[m - 1] if m else None,
                          per_opening[o * len(boxes) + m], rates)  # fmt: skip
            official = sum(sum(c[5]) for c in cells if c[4] != BallotChannel.PHONE_SCREEN)
            dossiers = round(official / rng.uniform(0.6, 0.9))
            seeded.dossiers += dossiers
            opened = datetime.fromisoformat(f"{next_box(box)}-02T09:00:00").replace(tzinfo=TIMEZONE)
            openings.append(
                {"office_id": office, "box": box, "status": Opening.OPENED,
                 "started_by": secretary, "started_at": opened - timedelta(hours=1),
                 "early_reason": "", "dossiers_returned": dossiers, "opened_at": opened,
                 "opened_by": secretary, "warnings_reason": ""}
            )  # fmt: skip
            plans.append((office, unit, cells))
    opening_ids = _insert(connection, Opening.__table__, openings)
    rows = []
    for opening, (office, unit, cells) in zip(opening_ids, plans, strict=True):
        for box, supplement, clerk, counter, channel, levels in cells:
            rows.append(
                {"opening_id": opening, "office_id": office, "unit_id": unit, "box": box,
                 "supplement": supplement, "clerk_code": clerk[1], "clerk_id": clerk[0],
                 "clerk_name": clerk[2], "counter_id": counter[0], "counter_name": counter[1],
                 "field_name": clerk[3], "channel": channel, "very_satisfied": levels[0],
                 "satisfied": levels[1], "not_satisfied": levels[2], "votes": sum(levels)}
            )  # fmt: skip
            figures = seeded.figures[unit, clerk[0], box, channel]
            for i, value in enumerate(levels):
                figures[i] += value
    for start in range(0, len(rows), 20_000):
        connection.execute(insert(ResultCell.__table__), rows[start : start + 20_000])
    seeded.cells = len(rows)


def _plan(
    rng: random.Random,
    counters: Sequence[tuple[int, str]],
    clerks: Sequence[tuple[int, str, str, str, int]],
    box: str,
    earlier: str | None,
    ballots: int,
    rates: dict[int, float],
) -> list[tuple[str, bool, tuple, tuple, str, Levels]]:
    """One opening's cells: (box, supplement, clerk, counter, channel, levels)."""
    shape = []
    for clerk in clerks:
        for counter in counters:
            at_home = 1.0 if counter[0] == clerk[4] else AWAY
            for channel, share in CHANNELS:
                shape.append((box, False, clerk, counter, channel, at_home * share))
    if earlier is not None:  # the first clerk's late ballots of last month, at their counter
        home = next(c for c in counters if c[0] == clerks[0][4])
        main = sum(weight for *_, weight in shape)
        shape.append((earlier, True, clerks[0], home, BallotChannel.BUTTON.value,
                      main * SUPPLEMENT / (1 - SUPPLEMENT)))  # fmt: skip
    counts = apportion(ballots, [weight * rng.uniform(0.8, 1.2) for *_, weight in shape])
    planned = []
    for (cell_box, supplement, clerk, counter, channel, _), n in zip(shape, counts, strict=True):
        rate = min(1.0, max(0.0, rates[clerk[0]] + rng.uniform(-0.03, 0.03)))
        content = round(n * rate)
        very = round(content * rng.uniform(0.5, 0.7))
        planned.append((cell_box, supplement, clerk, counter, channel,
                        (very, content - very, n - content)))  # fmt: skip
    return planned


def apportion(total: int, weights: Sequence[float]) -> list[int]:
    """``total`` split in proportion to ``weights`` (largest remainders): sums exactly."""
    whole = sum(weights)
    exact = [total * w / whole for w in weights]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: counts[i] - exact[i])
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _by_office(connection: Connection, model) -> dict[int, list[tuple[int, str]]]:
    found: dict[int, list[tuple[int, str]]] = defaultdict(list)
    table = model.__table__
    for row in connection.execute(
        select(table.c.id, table.c.name, table.c.office_id).order_by(table.c.id)
    ):
        found[row.office_id].append((row.id, row.name))
    return found


def _clerks(connection: Connection) -> dict[int, list[tuple[int, str, str, str, int]]]:
    """Per office: (id, code, name, field's name, home counter id) of each clerk."""
    found: dict[int, list[tuple[int, str, str, str, int]]] = defaultdict(list)
    statement = (
        select(Clerk.id, Clerk.code, Clerk.name, ProcedureField.name, Clerk.counter_id,
               Clerk.office_id)
        .join(ProcedureField, ProcedureField.id == Clerk.field_id)
        .order_by(Clerk.id)
    )  # fmt: skip
    for clerk, code, name, field_name, counter, office in connection.execute(statement):
        found[office].append((clerk, code, name, field_name, counter))
    return found
