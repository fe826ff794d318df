"""Whether the committee's confirmations make a quorum: k of the n active members, the
People's Committee leader or deputy among them. Pure: the caller passes the facts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hom_phieu.i18n import _
from web.models import CommitteeRole


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
