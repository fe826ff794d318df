"""``hom-phieu web install``: the admin server installed and running in one command.

The configuration folder with ``web.env`` (the PostgreSQL URL, when one is given, and the
server's public address, ``--server-url``; the administrator's other lines kept), the
state folder, the ``hom-phieu-web@.service`` unit enabled for one port (and the alerts
timer, when this version ships one), the database migrated to the newest schema and an
administrator account; then, on the machine itself, the start. Each step is skipped when
already done: a second run changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from hom_phieu import install, paths
from hom_phieu.i18n import _
from hom_phieu.install import Entry, InstallError, Report, Target

UNIT = "hom-phieu-web@.service"
ALERTS = "hom-phieu-web-alerts@"  # the alerts sweep's units, when shipped (service + timer)
CONFIG_DIR = "/etc/hom-phieu"
ENV_FILE = f"{CONFIG_DIR}/web.env"
STATE = "/var/lib/hom-phieu-web"  # the unit's StateDirectory; $STATE_DIRECTORY for hom-phieu
URL_KEY = "HOM_PHIEU_DATABASE_URL"
# What one line of web.env (a systemd EnvironmentFile) holds as written: printable ASCII
# without blanks, quotes or backslashes (a line break would add a setting of its own).
ENV_VALUE = re.compile(r"[!#-&(-\[\]-~]+")


@dataclass(frozen=True, slots=True)
class WebInstall:
    """What the administrator asked for."""

    database_url: str | None = None  # None: SQLite in the state folder
    port: int = 8080  # the unit's instance
    admin: str = "admin"
    admin_name: str | None = None
    server_url: str | None = None  # the public address (None: keep the one web.env names)
    command: str | None = None  # ExecStart's hom-phieu (default: the one running)
    start: bool = True  # on the machine itself


def checked_url(url: str | None) -> str | None:
    """A PostgreSQL URL for SQLAlchemy's psycopg driver, or a SQLite file URL."""
    if url is None:
        return None
    url = url.strip()
    if not ENV_VALUE.fullmatch(url):
        raise InstallError(
            _("--database-url must be one line without spaces, quotes or backslashes "
              "(percent-encode them in the password, e.g. %20 for a space), got {url}")
            .format(url=repr(url))
        )  # fmt: skip
    for plain in ("postgres://", "postgresql://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url.removeprefix(plain)
    if url.startswith(("postgresql+psycopg://", "sqlite:///")) and len(url) > len("sqlite:///"):
        return url
    raise InstallError(
        _("--database-url must be postgresql://… or sqlite:///…, got {url}").format(url=url)
    )


def checked_server_url(url: str | None) -> str | None:
    """The server's public address as ``web.server_address`` reads it (``http(s)://host
    [:port][/path]``, no final ``/``), or None when not given."""
    from web.server_address import ADDRESS

    if url is None:
        return None
    address = url.strip().rstrip("/")
    if not ADDRESS.fullmatch(address):
        raise InstallError(
            _("--server-url must be the server's public address, http(s)://host[:port][/path] "
              "(e.g. https://hom-phieu.tinh.gov.vn), got {url}").format(url=repr(url))
        )  # fmt: skip
    return address


def shipped_alerts() -> list[str]:
    """The alerts sweep's unit files this version ships (none before it has one)."""
    return sorted(p.name for p in (install.SHIPPED / "systemd").glob(f"{ALERTS}.*"))


def env_file(where: Target, url: str | None, server_url: str | None = None) -> bytes:
    """``web.env`` with the database URL line set (or removed for SQLite) and the public
    address's set when given, each in its place; the other lines kept."""
    from web.server_address import ENV

    path = where.path(ENV_FILE)
    kept = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    if not kept:
        kept = ["# hom-phieu admin server: its settings and secrets (0600, root)."]
    lines = _setting(kept, URL_KEY, url)
    if server_url is not None:
        lines = _setting(lines, ENV, server_url)
    return ("\n".join(lines) + "\n").encode()


def _setting(lines: list[str], key: str, value: str | None) -> list[str]:
    """``lines`` with ``key=value`` in place of the first line of ``key`` (at the end if
    none; removed if ``value`` is None), its other lines dropped."""
    new = None if value is None else f"{key}={value}"
    found = [n for n, line in enumerate(lines) if line.startswith(f"{key}=")]
    where = found[0] if found else len(lines)
    kept = [line for n, line in enumerate(lines) if n not in found]
    return kept[:where] + ([new] if new is not None else []) + kept[where:]


def _configured_url(where: Target) -> str | None:
    """The database URL ``web.env`` names already: a second run need not repeat it."""
    path = where.path(ENV_FILE)
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return next((line.split("=", 1)[1] for line in lines if line.startswith(f"{URL_KEY}=")), None)


def plan(request: WebInstall, where: Target, url: str | None) -> list[Entry]:
    command = install.checked_command(request.command)
    reload = (("systemctl", "daemon-reload"),)
    entries = [
        Entry(CONFIG_DIR, mode=0o755),
        Entry(ENV_FILE, env_file(where, url, request.server_url), mode=0o600),
        Entry(STATE, mode=0o700),
        Entry(f"{install.UNIT_DIR}/{UNIT}", install.unit(UNIT, command), then=reload),
        install.enabled(f"hom-phieu-web@{request.port}.service", UNIT),
    ]
    for name in shipped_alerts():
        entries.append(
            Entry(f"{install.UNIT_DIR}/{name}", install.unit(name, command), then=reload)
        )
        if name.endswith(".timer"):
            instance = name.replace("@.", f"@{request.port}.")
            entries.append(install.enabled(instance, name, wanted_by="timers"))
    return entries


def run(request: WebInstall, where: Target, *, password: Callable[[], str]) -> Report:
    """Install the server on ``where``; ``password()`` is asked only for a new administrator."""
    from web.manage.common import USERNAME  # (the accounts page's rule for a name)

    url = checked_url(request.database_url or _configured_url(where))
    request = replace(request, server_url=checked_server_url(request.server_url))
    if not USERNAME.fullmatch(request.admin):
        raise InstallError(
            _("--admin must be 3 to 80 lower-case letters, digits, dots, dashes or "
              "underscores, got {name}").format(name=repr(request.admin))
        )  # fmt: skip
    _reachable(url)  # (before anything is written: a wrong URL changes nothing)
    report = Report()
    changed = install.apply(plan(request, where, url), where, report)
    with install.home(where.path(STATE)):
        _database(request, url, report, password)
    if not where.live:
        report.note(_("Staging tree {root}: nothing started.").format(root=where.root))
        return report
    if request.start:
        unit = f"hom-phieu-web@{request.port}.service"
        read = changed & {ENV_FILE, f"{install.UNIT_DIR}/{UNIT}"}
        install.start(where, unit, install.is_active(where, unit), read, report)
        for name in shipped_alerts():
            if name.endswith(".timer"):
                timer = name.replace("@.", f"@{request.port}.")
                install.start(where, timer, install.is_active(where, timer), set(), report)
    return report


def _database(
    request: WebInstall, url: str | None, report: Report, password: Callable[[], str]
) -> None:
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from web import auth, create_app, db
    from web.models import User
    from web.services import close_app

    sqlite = f"sqlite:///{paths.home() / 'server' / 'hom-phieu.sqlite3'}"  # as the unit's
    app = create_app({"DATABASE_URL": url or sqlite})
    try:
        address = app.config["DATABASE_URL"]
        before = _revision(address)
        db.upgrade(address)
        after = _revision(address)
        if before != after:
            report.change(_("database migrated to {revision}").format(revision=after))
        with app.app_context():
            session = db.session()
            if session.scalar(select(User).where(User.username == request.admin)) is not None:
                report.note(_("The account {name} exists already.").format(name=request.admin))
                return
            try:
                auth.create_user(
                    request.admin, password(), request.admin_name or request.admin, "admin"
                )
            except ValueError as exc:  # a weak password: the reason, for the administrator
                raise InstallError(str(exc)) from None
            auth.audit("admin_created", request.admin)
            session.commit()
            report.change(_("administrator {name}").format(name=request.admin))
    except SQLAlchemyError as exc:
        raise _unusable(exc) from None
    finally:
        close_app(app)


def _unusable(exc: Exception) -> InstallError:
    reason = (str(getattr(exc, "orig", None) or exc).splitlines() or ["?"])[0]
    return InstallError(_("the database cannot be used: {reason}").format(reason=reason))


def _reachable(url: str | None) -> None:
    """A PostgreSQL URL names a database this machine can reach (SQLite: made later)."""
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from web.db import make_engine

    if url is None or url.startswith("sqlite:"):
        return
    try:
        engine = make_engine(url)
    except (ArgumentError, ValueError) as exc:
        raise _unusable(exc) from None
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as exc:
        raise _unusable(exc) from None
    finally:
        engine.dispose()


def _revision(url: str) -> str | None:
    """The schema revision of the database at ``url`` (None: empty database)."""
    from alembic.runtime.migration import MigrationContext

    from web.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
