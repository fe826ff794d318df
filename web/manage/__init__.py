"""The management pages (``/manage/…``): the unit tree, offices, counters, clerks, rating
scales, committees, procedure fields and accounts.

Every route checks the role and the unit scope (404 outside it, so that another commune's
data is not even confirmed to exist), every form is CSRF-protected, and every change is
written with its audit entry in the same transaction.
"""

from __future__ import annotations

from flask import Flask

from web.labels import COMMITTEE_ROLE_LABELS, LEVEL_LABELS, label
from web.manage import (
    accounts,
    calendar,
    clerks,
    counters,
    office,
    report_settings,
    scale,
    units,
)
from web.manage import tokens as tokens  # (its routes join the blueprint)
from web.manage.common import (
    ROLE_LABELS,
    bp,
    can_edit,
)

__all__ = [
    "accounts",
    "calendar",
    "clerks",
    "counters",
    "init_app",
    "office",
    "report_settings",
    "scale",
    "units",
]


@bp.app_context_processor
def labels() -> dict:
    return {
        "role_label": lambda key: label(ROLE_LABELS, key),
        "committee_role_label": lambda key: label(COMMITTEE_ROLE_LABELS, key),
        "level_label": lambda key: label(LEVEL_LABELS, key),
        "can_edit": can_edit,
    }


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
