"""Whether the committee's confirmations make a quorum: k of the n active members, the
People's Committee leader or deputy among them; and whether a committee can ever reach its
quorum. Pure: the caller passes the facts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hom_phieu.i18n import _
from web.models import CommitteeRole

# No one person opens a box: at least two members, the People's Committee leader or deputy
# and one other (the opening committee of the paper box has five: docs/product.md).
MIN_QUORUM = 2
MAX_QUORUM = 50


@dataclass(frozen=True, slots=True)
class Quorum:
    required: int  # k
    members: int  # n: active members of the office's committee
    confirmed_roles: Sequence[str]  # committee role of each confirmation so far

    @property
    def presiding(self) -> bool:
        return any(role in CommitteeRole.PRESIDING for role in self.confirmed_roles)

    @property
    def met(self) -> bool:
        return not self.missing()

    def missing(self) -> list[str]:
        """What still stands between the committee and the opening, in words."""
        reasons = []
        if self.required > self.members:
            reasons.append(
                _(
                    "the quorum needs {required} members but the committee has only "
                    "{members} active members: add members or lower the quorum"
                ).format(required=self.required, members=self.members)
            )
        elif len(self.confirmed_roles) < self.required:
            reasons.append(
                _("{count} of the {required} confirmations needed so far").format(
                    count=len(self.confirmed_roles), required=self.required
                )
            )
        if not self.presiding:
            reasons.append(_("the People's Committee leader or deputy has not confirmed"))
        return reasons


def shape_refusal(required: int, roles: Sequence[str]) -> str | None:
    """Why a committee whose members able to confirm hold ``roles`` could not reach a
    quorum of ``required``, or None: the quorum lies between the statutory minimum and the
    committee's size, and a People's Committee leader or deputy is among them."""
    if not MIN_QUORUM <= required <= MAX_QUORUM:
        return _("the quorum must be between {low} and {high}").format(
            low=MIN_QUORUM, high=MAX_QUORUM
        )
    if required > len(roles):
        return _(
            "the quorum ({required}) cannot be larger than the committee's members able to "
            "confirm ({members}): add members (who then set their confirmation codes at a "
            "ceremony) or lower the quorum"
        ).format(required=required, members=len(roles))
    if not any(role in CommitteeRole.PRESIDING for role in roles):
        return _("the committee must keep a People's Committee leader or deputy able to confirm")
    return None
