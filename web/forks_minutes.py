"""The steps of a fork's recovery and of a record's repair (``web.forks``) as lines of the
minutes' "changes during the month" (and warnings of the box's checklist): registered in
``web.month_changes.OFFICE_CHANGES`` under their audit actions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hom_phieu.i18n import _
from web.models import Office
from web.month_changes import NOTHING, OFFICE_CHANGES, Described

FORK_CONFIRMED, BRANCH_ADOPTED, RECORD_REPAIRED = (
    "fork_confirmed",
    "branch_adopted",  # (before migration 0019: one technician's act)
    "record_repaired",
)
BRANCH_HELD, BRANCH_APPROVED, BRANCH_REFUSED = "branch_held", "branch_approved", "branch_refused"


def _fork(office: Office, detail: Mapping[str, Any]) -> Described:
    subject = _("The chain of device {device} of {office}").format(
        device=detail.get("device_id"), office=office.name
    )
    after = _("forked at record {seq}: the forked side re-enrolled as a new device").format(
        seq=detail.get("seq")
    )
    return Described(subject, NOTHING, after)


def _adopted(office: Office, detail: Mapping[str, Any]) -> Described:
    subject = _("The chain of device {device} of {office}").format(
        device=detail.get("device_id"), office=office.name
    )
    after = _(
        "records {first} to {last} of the forked side verified and adopted as {branch}"
    ).format(first=detail.get("seq"), last=detail.get("through"), branch=detail.get("branch"))
    return Described(subject, NOTHING, after)


def _held(office: Office, detail: Mapping[str, Any]) -> Described:
    subject = _("The chain of device {device} of {office}").format(
        device=detail.get("device_id"), office=office.name
    )
    after = _(
        "records {first} to {last} of the forked side verified and held apart as {branch}, "
        "not counted until an administrator approves their adoption"
    ).format(first=detail.get("seq"), last=detail.get("through"), branch=detail.get("branch"))
    return Described(subject, NOTHING, after)


def _decided(office: Office, detail: Mapping[str, Any], approved: bool) -> Described:
    subject = _("The adoption of branch {branch} of device {device} of {office}").format(
        branch=detail.get("branch"), device=detail.get("device_id"), office=office.name
    )
    before = _("asked for by {asked}: records {first} to {last} held apart").format(
        asked=detail.get("asked"), first=detail.get("seq"), last=detail.get("through")
    )
    if approved:
        return Described(subject, before, _("approved: its records are counted"))
    after = _("refused: its records are kept apart, never counted (reason: {reason})")
    return Described(subject, before, after.format(reason=detail.get("reason")))


def _repaired(office: Office, detail: Mapping[str, Any]) -> Described:
    subject = _("Record {seq} of device {device} of {office}").format(
        seq=detail.get("seq"), device=detail.get("device_id"), office=office.name
    )
    return Described(
        subject,
        _("altered on the server"),
        _("replaced by the device's correctly signed copy"),
    )


OFFICE_CHANGES.update(
    {
        FORK_CONFIRMED: _fork,
        BRANCH_ADOPTED: _adopted,
        BRANCH_HELD: _held,
        BRANCH_APPROVED: lambda office, detail: _decided(office, detail, True),
        BRANCH_REFUSED: lambda office, detail: _decided(office, detail, False),
        RECORD_REPAIRED: _repaired,
    }
)
