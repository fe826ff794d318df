"""``hom-phieu web alerts sweep``: raise and resolve the alerts derived from state.

A systemd timer (``systemd/hom-phieu-web-alerts@.timer``) runs it every minute: the one
place the sweep runs (the alerts page only reads what it left).
"""

from __future__ import annotations

import click

from hom_phieu.cli_help import Group
from hom_phieu.i18n import N_, _


@click.group(
    "alerts", cls=Group, help=N_("Alerts: raise and resolve those derived from devices and boxes.")
)
def alerts() -> None:
    """(Its help: the decorator's, translated when shown.)"""


@alerts.command(
    "sweep",
    help=N_("Raise the alerts of offline or faulty devices and of boxes due, and resolve those "
            "whose cause is gone (run every minute by a systemd timer)."),
)  # fmt: skip
def sweep_command() -> None:
    from hom_phieu.cli import _echo, _server_app
    from web import clock, db
    from web.alerts_sweep import sweep

    app = _server_app()
    with app.app_context():
        session = db.session()
        swept = sweep(session, clock.now())
        session.commit()
        from web.alert_mail import run as mail  # (after the sweep's commit: never blocks it)

        mailed = mail(session, clock.now())
    _echo(_("Alerts swept: {raised} conditions seen, {resolved} resolved.").format(
        raised=len(swept.raised), resolved=swept.resolved))  # fmt: skip
    if mailed.mails or mailed.error:
        _echo(_("Alert e-mail: {mails} mails sent, {waiting} waiting.").format(
            mails=mailed.mails, waiting=mailed.waiting))  # fmt: skip
    if mailed.error:
        _echo(mailed.error)
