"""Who the kiosk says it is: office, counter, the clerks' roster and the buttons' meaning.

From the device configuration at first; once the kiosk is enrolled, from the admin
server's signed configuration, which wins where it speaks: names, the roster, and each
button's label and level (matched by button name; pins and colours stay the device's).
The ticket names the public page where a citizen checks the receipt code: on the server
the kiosk syncs with (its enrollment's address, else the configuration's ``[server] url``).
The server's configuration also carries the office totals of its latest opened box
(:class:`~hom_phieu.protocol.configuration.OfficeResults`), for the results slip, and the
public keys the boxes are sealed to (a :class:`~hom_phieu.ledger.opinion.KeyRing`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from hom_phieu.ledger.opinion import KeyRing
from hom_phieu.ledger.records import Level
from hom_phieu.protocol.configuration import DeviceConfig, OfficeResults
from hom_phieu.render.views import ButtonLegend, ClerkCard
from kiosk.config_schema import KioskConfig

RECEIPT_CHECK_PATH = "/public/receipt"  # web.public's receipt check, for anyone


def receipt_check_address(server_url: str | None) -> str | None:
    """``hom-phieu.example.vn/public/receipt``: the receipt check page of the server at
    ``server_url``, short enough to type from a ticket (no scheme); None without a server."""
    parts = urlsplit((server_url or "").strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    return host + parts.path.rstrip("/") + RECEIPT_CHECK_PATH


@dataclass(frozen=True, slots=True)
class Identity:
    office: str
    counter: str
    roster: tuple[ClerkCard, ...]
    legend: tuple[ButtonLegend, ...]
    levels: Mapping[str, Level]
    version: str = "local"
    results: OfficeResults | None = None  # the latest opened box's, from the server
    keys: KeyRing | None = None  # the box keys the server sent; None: never enrolled
    receipt_check: str | None = None  # printed on tickets: where to check the receipt code

    @classmethod
    def from_config(cls, config: KioskConfig, server_url: str | None = None) -> Identity:
        """From the device configuration; ``server_url``: the enrollment's server."""
        return cls(
            office=config.device.office,
            counter=config.device.counter,
            roster=tuple(ClerkCard(c.id, c.name, c.title, c.survey_url) for c in config.clerks),
            legend=tuple(ButtonLegend(b.name, b.label, b.colour) for b in config.buttons),
            levels={b.name: b.level for b in config.buttons},
            receipt_check=receipt_check_address(server_url or config.server.url),
        )

    def with_server(self, server: DeviceConfig) -> Identity:
        """This identity as the server's configuration (already verified) has it: its
        names where it gives them, its roster unless empty, each of its buttons' label
        and level (by name: a button the server does not name keeps the kiosk's)."""
        scale = {b.name: b for b in server.buttons}
        legend = tuple(
            ButtonLegend(b.name, scale[b.name].label, b.colour) if b.name in scale else b
            for b in self.legend
        )
        levels = {
            name: scale[name].level if name in scale else level
            for name, level in self.levels.items()
        }
        roster = tuple(ClerkCard(c.id, c.name, c.title, c.survey_url) for c in server.clerks)
        return Identity(
            office=server.office.name or self.office,
            counter=server.counter or self.counter,
            roster=roster or self.roster,  # a kiosk always needs somebody to vote for
            legend=legend,
            levels=levels,
            version=server.version,
            results=server.results,  # None when absent or not well formed (from_json)
            keys=server.keyring(),
            receipt_check=self.receipt_check,
        )

    def clerk(self, clerk_id: str) -> ClerkCard:
        return next((c for c in self.roster if c.id == clerk_id), self.roster[0])
