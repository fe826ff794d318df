"""The part of the minutes that says how the box was unsealed: the box key's fingerprint
(compared with each kiosk's zero report slip), who typed a share of it, and whether the
province's escrow key was used; and its lines for the renderings (the printable page, the
PDF, the XLSX, the CSV).

Pure, like the rest of the minutes' model (:mod:`web.minutes`); written by the ceremony
(:mod:`web.ceremony_seal`). Minutes of boxes sealed without a box key (wave 1, ballots in
clear) and minutes written before keys existed have no ``seal``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hom_phieu.i18n import N_, _
from web.labels import COMMITTEE_ROLE_LABELS, label
from web.minutes_json import Json, MinutesFormatError, Reader, doc

SEAL_TITLE = N_("Unsealing of the box")
ESCROW_ROLE = "escrow"  # web.box_keys.ESCROW_ROLE (the model stays free of the ORM)


@dataclass(frozen=True, slots=True)
class ShareGiver:
    """A holder who typed their share of a key at the opening, in the order typed."""

    name: str = field(metadata=doc("the holder's full name, as on their card"))
    role: str = field(
        metadata=doc(
            "their committee role (ubnd_leader, …, secretary), or escrow for a province "
            "escrow holder"
        )
    )

    def to_json(self) -> Json:
        return {"name": self.name, "role": self.role}

    @classmethod
    def from_json(cls, data: object, where: str = "share") -> ShareGiver:
        r = Reader(data, where)
        made = cls(r.text("name"), r.text("role"))
        r.done()
        return made


@dataclass(frozen=True, slots=True)
class Seal:
    """How the box was unsealed: its key, who gave a share, and the escrow if used."""

    key: str | None = field(
        metadata=doc("the box key's fingerprint (null: the office had no box key that month)")
    )
    threshold: int | None = field(
        metadata=doc("how many shares of the box key open it (null: no box key)")
    )
    shares: tuple[ShareGiver, ...] = field(
        metadata=doc("the committee members who typed a share of the box key")
    )
    escrow: bool = field(metadata=doc("true when the province's escrow key was used"))
    escrow_key: str | None = field(
        metadata=doc("the escrow key's fingerprint, when it was used (else null)")
    )
    escrow_shares: tuple[ShareGiver, ...] = field(
        metadata=doc("the escrow holders who typed a share of the escrow key (empty: none)")
    )

    def to_json(self) -> Json:
        return {
            "key": self.key,
            "threshold": self.threshold,
            "shares": [share.to_json() for share in self.shares],
            "escrow": self.escrow,
            "escrow_key": self.escrow_key,
            "escrow_shares": [share.to_json() for share in self.escrow_shares],
        }

    @classmethod
    def from_json(cls, data: object, where: str = "seal") -> Seal:
        r = Reader(data, where)
        escrow = r._get("escrow")
        if type(escrow) is not bool:
            raise MinutesFormatError(f"{where}.escrow: expected true or false, got {escrow!r}")
        made = cls(
            key=r.opt_text("key"),
            threshold=r.opt_integer("threshold"),
            shares=r.items("shares", ShareGiver.from_json),
            escrow=escrow,
            escrow_key=r.opt_text("escrow_key"),
            escrow_shares=r.items("escrow_shares", ShareGiver.from_json),
        )
        r.done()
        return made


def giver_name(giver: ShareGiver) -> str:
    """``Nguyễn Văn Ễnh (Chủ tịch UBND)``: a holder and their role, in words."""
    role = _("province escrow holder") if giver.role == ESCROW_ROLE else label(
        COMMITTEE_ROLE_LABELS, giver.role)  # fmt: skip
    return f"{giver.name} ({role})"


def seal_lines(seal: Seal) -> list[str]:
    """The seal part as sentences, in the current language (every rendering prints these)."""
    lines = []
    if seal.key is None:
        lines.append(_("The office had no box key for this month: ballots were in clear."))
    else:
        lines.append(_("Box key fingerprint: {key}").format(key=seal.key))
    if seal.shares:
        lines.append(
            _("Shares of the box key typed by ({count} of {threshold} needed): {names}").format(
                count=len(seal.shares),
                threshold=seal.threshold,
                names="; ".join(giver_name(giver) for giver in seal.shares),
            )
        )
    if seal.escrow:
        lines.append(
            _("The province's escrow key {key} was used; its shares typed by: {names}").format(
                key=seal.escrow_key or "—",
                names="; ".join(giver_name(giver) for giver in seal.escrow_shares),
            )
        )
    else:
        lines.append(_("The province's escrow key was not used."))
    return lines
