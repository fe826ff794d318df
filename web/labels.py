"""Words for the codes the server stores (levels, committee roles, channels, check
results, refusal reasons and event types, a kiosk's clock state, alert types, languages),
and the minutes' place-and-date line: shared by the pages and the documents. Templates
call one label function per kind (:data:`TEMPLATE_LABELS`).

Pure: translated at use, in the current language (``hom_phieu.i18n``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from hom_phieu.clock import TIMEZONE
from hom_phieu.i18n import N_, _
from hom_phieu.ledger.events import EVENT_LABELS, REFUSAL_LABELS  # the ledger core's tables
from hom_phieu.ledger.records import LEVEL_LABELS, Channel, Kind, TimeQuality  # (the kiosk's)
from web.device_alerts import AHEAD_KIND, REFUSED_KIND
from web.models import CommitteeRole

COMMITTEE_ROLE_LABELS = {
    CommitteeRole.UBND_LEADER: N_("People's Committee leader"),
    CommitteeRole.UBND_DEPUTY: N_("People's Committee deputy chair"),
    CommitteeRole.MTTQ_CHAIR: N_("Fatherland Front chair"),
    CommitteeRole.UNION_REP: N_("Trade union representative"),
    CommitteeRole.ONE_STOP_CLERK: N_("One-stop clerk"),
    CommitteeRole.SECRETARY: N_("Secretary"),
}
CHANNEL_LABELS = {
    Channel.BUTTON.value: N_("buttons at the counter"),
    Channel.PHONE.value: N_("phone survey"),  # (minutes made before the channels were split)
    "phone_ticket": N_("phone survey with the ticket's code"),
    "phone_screen": N_("phone survey without a ticket (unverified, not counted)"),
}
STATUS_LABELS = {"ok": N_("ok"), "warning": N_("warning"), "fault": N_("fault")}
# How far a kiosk's clock is trusted (its health report's ``time_quality``).
TIME_QUALITY_LABELS = {
    TimeQuality.SYNCED.value: N_("synchronised"),
    TimeQuality.ANCHORED.value: N_("set from the server's time"),
    TimeQuality.UNSYNCED.value: N_("not synchronised"),
}
ALERT_KIND_LABELS = {
    "equivocation": N_("two different records with one number"),  # web.ingest
    REFUSED_KIND: N_("records refused"),
    AHEAD_KIND: N_("clock ahead of the server"),
}
# A record's kind (a device's page lists its last records: their kind, never their content).
RECORD_KIND_LABELS = {
    Kind.BOOT.value: N_("start-up"),
    Kind.OPEN.value: N_("box opened"),
    Kind.VOTE.value: N_("ballot"),
    Kind.REFUSED.value: N_("refused press"),
    Kind.EVENT.value: N_("event"),
    Kind.CLOSE.value: N_("box closed"),
}
LANGUAGE_LABELS = {"vi": "Tiếng Việt", "en": "English"}  # each in its own language


def label(table: Mapping[str, str], key: str | None) -> str:
    """The translated label of a stored code (the code itself if unknown; — for none)."""
    if key is None:
        return "—"
    return _(table[key]) if key in table else key


def time_quality_label(key: str | None) -> str:
    return label(TIME_QUALITY_LABELS, key or None)


def alert_kind_label(key: str | None) -> str:
    return label(ALERT_KIND_LABELS, key)


def record_kind_label(key: str | None) -> str:
    return label(RECORD_KIND_LABELS, key)


def language_label(key: str | None) -> str:
    return label(LANGUAGE_LABELS, key)


# The label functions every template may call (web.i18n puts them in the templates' globals).
TEMPLATE_LABELS = {
    "time_quality_label": time_quality_label,
    "alert_kind_label": alert_kind_label,
    "language_label": language_label,
    "record_kind_label": record_kind_label,
}


def place_and_date(place: str, iso: str) -> str:
    """``Xã Đông Thanh, ngày 30 tháng 11 năm 2026`` (English: ``…, 30/11/2026``).

    Nghị định 30 writes a day below 10 and the months 1 and 2 with a leading zero
    (``ngày 05 tháng 02``, ``tháng 3``); the English message pads the month itself with
    ``{month:0>2}``.
    """
    moment = datetime.fromisoformat(iso).astimezone(TIMEZONE)
    month = f"{moment.month:02d}" if moment.month <= 2 else str(moment.month)
    return _("{place}, {day}/{month:0>2}/{year}").format(
        place=place, day=f"{moment.day:02d}", month=month, year=moment.year
    )


__all__ = [
    "ALERT_KIND_LABELS",
    "CHANNEL_LABELS",
    "COMMITTEE_ROLE_LABELS",
    "EVENT_LABELS",
    "LANGUAGE_LABELS",
    "LEVEL_LABELS",
    "RECORD_KIND_LABELS",
    "REFUSAL_LABELS",
    "STATUS_LABELS",
    "TEMPLATE_LABELS",
    "TIME_QUALITY_LABELS",
    "alert_kind_label",
    "label",
    "language_label",
    "place_and_date",
    "record_kind_label",
    "time_quality_label",
]
