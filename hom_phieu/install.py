"""What ``hom-phieu kiosk install`` and ``hom-phieu web install`` share: a plan, applied once.

A plan is a list of :class:`Entry` (a folder, a file with its content and mode, a symbolic
link), each written only when the target differs, so a second run changes nothing and says
so. The target is the machine itself (``/``, as root: owners set, users made with
``systemd-sysusers``, the commands an entry names run after it changed) or a staging tree
(``--root DIR``: files and modes only; owners and users live in the ``sysusers.d`` and
``tmpfiles.d`` files, as a Debian package ships them, and nothing is run).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hom_phieu.i18n import _

SHIPPED = Path(__file__).resolve().parent.parent  # the source tree: systemd/, kiosk.example.toml
INSTALLED_COMMAND = "/opt/hom-phieu/.venv/bin/hom-phieu"  # the path the shipped units name
UNIT_DIR = "/etc/systemd/system"

Command = tuple[str, ...]


class InstallError(RuntimeError):
    """The install cannot go on; the message says why and what to do, for a technician."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One thing on the target: a folder (``content`` None), a file, or a link."""

    path: str  # absolute, as on the installed machine: "/etc/hom-phieu/kiosk.toml"
    content: bytes | None = None
    mode: int = 0o644
    owner: str = "root"  # set on the machine itself; a staging tree says it in tmpfiles.d
    keep: bool = False  # an administrator's file: written when missing, never replaced
    link: str | None = None  # a symbolic link to this path
    then: tuple[Command, ...] = ()  # run on the machine itself once this entry changed


@dataclass(slots=True)
class Target:
    """Where a plan is applied. ``root`` ``/`` is the machine itself (``live``)."""

    root: Path
    live: bool = False  # the machine itself: owners set, commands run (tests fake both)
    run: Callable[[Sequence[str]], int] = field(default=lambda command: _run(command))
    chown: Callable[[Path, str], None] = field(default=lambda path, owner: _chown(path, owner))
    owner_of: Callable[[Path], str] = field(default=lambda path: _owner(path))

    def path(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def must(self, command: Sequence[str]) -> None:
        """Run ``command`` on the machine; a failure stops the install naming it."""
        code = self.run(command)
        if code != 0:
            raise InstallError(
                _("{command} failed (exit {code})").format(command=" ".join(command), code=code)
            )


@dataclass(slots=True)
class Report:
    """What an install did: each change, and the steps it skipped or ran."""

    changed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def change(self, text: str) -> None:
        self.changed.append(text)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def lines(self) -> list[str]:
        lines = [f"+ {text}" for text in self.changed] + list(self.notes)
        if not self.changed:
            lines.append(_("Nothing to change: everything is already installed."))
        return lines


def target(root: Path | None) -> Target:
    """The target named by ``--root`` (default: the machine itself, which needs root)."""
    if root is None or root.resolve() == Path("/"):
        if os.geteuid() != 0:
            raise InstallError(_("run it as root (sudo), or give --root DIR for a staging tree"))
        return Target(Path("/"), live=True)
    if root.exists() and not root.is_dir():
        raise InstallError(_("--root {path} is not a folder").format(path=root))
    root.mkdir(parents=True, exist_ok=True)
    return Target(root.resolve())


def apply(entries: Sequence[Entry], where: Target, report: Report) -> set[str]:
    """Bring every entry to its plan; returns the paths that changed."""
    changed: set[str] = set()
    for entry in entries:
        what = _apply_one(entry, where)
        if what is None:
            continue
        changed.add(entry.path)
        report.change(what)
        if where.live:
            for command in entry.then:
                where.must(command)
    return changed


def _apply_one(entry: Entry, where: Target) -> str | None:
    path = where.path(entry.path)
    if entry.link is not None:
        if path.is_symlink() and os.readlink(path) == entry.link:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink() or path.exists():
            path.unlink()
        path.symlink_to(entry.link)
        return _("{path} → {link}").format(path=entry.path, link=entry.link)
    made = not path.exists()
    what = None
    if entry.content is None:
        if made:
            path.mkdir(parents=True, mode=entry.mode)
            what = _("folder {path}").format(path=entry.path)
    elif made or (not entry.keep and path.read_bytes() != entry.content):
        _write(path, entry.content, entry.mode)
        what = (_("made {path}") if made else _("updated {path}")).format(path=entry.path)
    if (path.stat().st_mode & 0o7777) != entry.mode:
        os.chmod(path, entry.mode)
        what = what or _("mode {mode:o} on {path}").format(mode=entry.mode, path=entry.path)
    if where.live and entry.owner != "root" and where.owner_of(path) != entry.owner:
        where.chown(path, entry.owner)
        what = what or _("owner {owner} of {path}").format(owner=entry.owner, path=entry.path)
    return what


def _write(path: Path, content: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".hom-phieu-new")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(temporary, mode)
    os.replace(temporary, path)


def _owner(path: Path) -> str:
    import pwd

    try:
        return pwd.getpwuid(path.stat().st_uid).pw_name
    except KeyError:
        return str(path.stat().st_uid)


def _chown(path: Path, owner: str) -> None:
    """``owner`` (and its group of the same name) on ``path`` and everything under it."""
    try:
        shutil.chown(path, owner, owner)
        for folder, names, files in os.walk(path):
            for name in names + files:
                shutil.chown(Path(folder) / name, owner, owner)
    except (LookupError, OSError) as exc:
        raise InstallError(
            _("cannot give {path} to {owner}: {reason}").format(path=path, owner=owner, reason=exc)
        ) from None


def _run(command: Sequence[str]) -> int:
    try:
        return subprocess.run(list(command), check=False).returncode
    except OSError as exc:
        raise InstallError(
            _("{command} failed: {reason}").format(command=command[0], reason=exc)
        ) from None


def shipped(relative: str) -> str:
    """A file this package ships beside its code (``systemd/…``, ``kiosk.example.toml``)."""
    path = SHIPPED / relative
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        message = _("{path} is missing: install hom-phieu from its source (pip install -e)")
        raise InstallError(message.format(path=path)) from None


def this_command() -> str:
    """The ``hom-phieu`` command now running (written into the units' ``ExecStart``)."""
    beside = Path(sys.executable).with_name("hom-phieu")
    if beside.exists():
        return str(beside)
    return shutil.which("hom-phieu") or INSTALLED_COMMAND


def checked_command(command: str | None) -> str:
    """``--command PATH``: an absolute path (the unit's ``ExecStart``), else the one running."""
    if command is None:
        return this_command()
    if not command.startswith("/") or any(c.isspace() for c in command):
        raise InstallError(
            _("--command must be an absolute path without spaces, got {path}").format(path=command)
        )
    return command


def unit(name: str, command: str) -> bytes:
    """The shipped unit ``systemd/<name>``, its ``ExecStart`` naming ``command``."""
    return shipped(f"systemd/{name}").replace(INSTALLED_COMMAND, command).encode()


def unit_values(name: str, key: str) -> list[str]:
    """Every value of ``key=`` in the shipped unit ``systemd/<name>``."""
    values = []
    for line in shipped(f"systemd/{name}").splitlines():
        if line.startswith(f"{key}="):
            values.append(line.split("=", 1)[1].strip())
    return values


def enabled(unit_name: str, template: str | None = None, wanted_by: str = "multi-user") -> Entry:
    """What ``systemctl enable`` makes: ``<wanted_by>.target.wants/<unit_name>`` → the unit."""
    return Entry(
        f"{UNIT_DIR}/{wanted_by}.target.wants/{unit_name}",
        link=f"{UNIT_DIR}/{template or unit_name}",
    )


@contextlib.contextmanager
def home(path: Path) -> Iterator[None]:
    """``HOM_PHIEU_HOME`` is ``path`` for a moment: where the service will find its state."""
    before = os.environ.get("HOM_PHIEU_HOME")
    os.environ["HOM_PHIEU_HOME"] = str(path)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("HOM_PHIEU_HOME", None)
        else:
            os.environ["HOM_PHIEU_HOME"] = before


def is_active(where: Target, unit_name: str) -> bool:
    return where.run(("systemctl", "is-active", "--quiet", unit_name)) == 0


def start(where: Target, unit_name: str, active: bool, changed: set[str], report: Report) -> None:
    """Start the unit, or restart it when what it reads changed; nothing when it runs."""
    if not active:
        where.must(("systemctl", "start", unit_name))
        report.change(_("started {unit}").format(unit=unit_name))
    elif changed:
        where.must(("systemctl", "restart", unit_name))
        report.change(_("restarted {unit}").format(unit=unit_name))
