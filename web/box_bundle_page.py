"""Downloading an opened box's bundle (``docs/recount.md``): whoever may read the box's
minutes (the same roles and unit scope as the minutes' downloads in :mod:`web.ceremony`)
takes it away and recounts it offline with ``hom-phieu box verify``."""

from __future__ import annotations

import tempfile

from flask import Blueprint, abort, send_file

from web import db
from web.auth import roles_required
from web.box_bundle import bundle_name, write_box_bundle
from web.ceremony import RESULT_READERS, _box_or_404, _opening
from web.models import Opening
from web.pages import office_or_404

bp = Blueprint("box_bundle", __name__)
IN_MEMORY = 32 * 1024 * 1024  # a bigger bundle is spooled to a temporary file


@bp.get("/offices/<int:office_id>/boxes/<box>/bundle.zip")
@roles_required(*RESULT_READERS)
def bundle(office_id: int, box: str):
    """404 for a box never started, 409 for one whose ceremony is under way."""
    office = office_or_404(office_id)
    opening = _opening(office.id, _box_or_404(box))
    if opening is None:
        abort(404)
    if opening.status != Opening.OPENED:
        abort(409)
    out = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY)  # noqa: SIM115 (send_file closes it)
    write_box_bundle(db.session(), opening, out)
    out.seek(0)
    return send_file(
        out, mimetype="application/zip", as_attachment=True, download_name=bundle_name(opening)
    )
