"""Pages anyone may open, without an account: the receipt check here; the opened results
(:mod:`web.public_results`), the office's poster (:mod:`web.public_poster`) and the
waiting room's screen (:mod:`web.public_tv`) on the same blueprint.

A citizen types the receipt code from the ticket and learns whether the ballot has
reached the server, in which office's box of which month, and whether that box has
been opened (and counted it). Never the level: nothing here reads a record's content.
Opened boxes' totals per office are public; sealed boxes show nothing but that they exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Flask, render_template, request
from sqlalchemy import select

from hom_phieu.i18n import _
from hom_phieu.ledger.records import normalise_receipt_code
from web import db
from web.ceremony_calendar import box_label
from web.models import CountedRange, LedgerRecord, Office, Opening

bp = Blueprint("public", __name__, url_prefix="/public")


def init_app(app: Flask) -> None:
    # The other public pages add their routes to this blueprint.
    from web import public_poster, public_results, public_tv  # noqa: F401

    app.register_blueprint(bp)


@dataclass(frozen=True, slots=True)
class Finding:
    office: str
    box: str
    cast_on: int  # wall ms (the day is shown, not the time)
    state: str  # sealed | counted | supplement | late
    opening: Opening | None  # the opening that counted it, or the box's own


@bp.get("/receipt")
def receipt():
    typed = request.args.get("code", "").strip()[:40]
    code = normalise_receipt_code(typed) if typed else None
    error = None
    findings: list[Finding] = []
    if typed and code is None:
        error = _(
            "This is not a receipt code: it has 10 letters and digits, like ABCDE-FGHJK "
            "(no O, I or L)."
        )
    elif code is not None:
        findings = _findings(code)
    return render_template(
        "public/receipt.html",
        typed=typed,
        code=code,
        error=error,
        findings=findings,
        box_label=box_label,
    )


def _findings(code: str) -> list[Finding]:
    session = db.session()
    rows = session.execute(
        select(
            LedgerRecord.device_pk, LedgerRecord.seq, LedgerRecord.box, LedgerRecord.wall_ms, Office
        )
        .join(Office, LedgerRecord.office_id == Office.id)
        .where(LedgerRecord.receipt == code, LedgerRecord.kind == "VOTE")
        .limit(5)
    ).all()
    found = []
    for device_pk, seq, box, wall_ms, office in rows:
        counting = session.scalar(
            select(Opening)
            .join(CountedRange, CountedRange.opening_id == Opening.id)
            .where(
                CountedRange.device_pk == device_pk,
                CountedRange.box == box,
                CountedRange.through_seq >= seq,
            )
            .order_by(Opening.opened_at)
            .limit(1)
        )
        own = session.scalar(
            select(Opening).where(
                Opening.office_id == office.id,
                Opening.box == box,
                Opening.status == Opening.OPENED,
            )
        )
        if counting is not None:
            state = "counted" if counting.box == box else "supplement"
        else:
            state = "late" if own is not None else "sealed"
        found.append(Finding(office.name, box, wall_ms, state, counting or own))
    return found
