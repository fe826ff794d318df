"""``hom-phieu --help`` in the language of the messages (Vietnamese unless ``--lang en``).

Click keeps each command's and option's help as given, in English, at import time, before
the language is known: the classes here hand it out translated when the help is written
(:func:`hom_phieu.i18n._`, after ``--lang`` was read). Click's own words ("Usage:",
"Options", "Show this message and exit.") go through the stdlib's ``gettext``, whatever
our language: :func:`speak_click` has them go through ours instead.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

import click

from hom_phieu import __version__
from hom_phieu.i18n import LANGUAGES, N_, _, ngettext, set_language

# Click's messages a technician meets in the help and in usage errors, for the catalog
# (their text exactly as click 8 writes them).
CLICK_MESSAGES = (
    N_("Usage:"),
    N_("Options"),
    N_("Commands"),
    N_("Positional arguments"),
    N_("Show this message and exit."),  # [4]: the --help option's
    N_("Show the version and exit."),
    N_("%(prog)s, version %(version)s"),  # [6]: --version's
    N_("default: {default}"),
    N_("required"),
    N_("Error: {message}"),
    N_("Try '{command} {option}' for help."),
    N_("Invalid value for {param_hint}: {message}"),
    N_("Invalid value: {message}"),
    N_("Missing argument"),
    N_("Missing option"),
    N_("Missing command."),
    N_("No such option {name!r}."),
    N_("No such command {name!r}."),
    N_("Aborted!"),
)


class _TranslatedHelp:
    """``help`` and ``short_help`` kept as given (English), handed out translated."""

    _help: str | None = None
    _short_help: str | None = None

    @property
    def help(self) -> str | None:
        return _(inspect.cleandoc(self._help)) if self._help else self._help

    @help.setter
    def help(self, value: str | None) -> None:
        self._help = value

    @property
    def short_help(self) -> str | None:
        return _(self._short_help) if self._short_help else self._short_help

    @short_help.setter
    def short_help(self, value: str | None) -> None:
        self._short_help = value


class Option(_TranslatedHelp, click.Option):
    pass


class _HelpOption:
    """Click makes the ``--help`` option itself and keeps it, its help translated once,
    when the command line is read (before ``--lang``): translated again when asked for."""

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        made = super().get_help_option(ctx)  # type: ignore[misc]
        if made is not None:  # asked again when the help is written: in today's language
            made.help = _(CLICK_MESSAGES[4])  # "Show this message and exit."
        return made


class Command(_HelpOption, _TranslatedHelp, click.Command):
    pass


class Group(_HelpOption, _TranslatedHelp, click.Group):
    command_class = Command
    group_class = type  # subgroups: this class too

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if ctx.parent is None:  # ``--lang`` before anything speaks, wherever it was typed
            early_language(args)
        return super().parse_args(ctx, args)


def early_language(args: list[str]) -> None:
    """Set the language ``--lang`` gives in ``args`` (if any) before click reads them: its
    eager options (``--help``, ``--version``) answer in the order they were typed, and
    ``hom-phieu --help --lang en`` asks for English help all the same."""
    for index, arg in enumerate(args):
        if arg == "--":
            return
        value = args[index + 1] if arg == "--lang" and index + 1 < len(args) else None
        if arg.startswith("--lang="):
            value = arg.removeprefix("--lang=")
        if value in LANGUAGES:
            set_language(value)
            return


def show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``--version``: its words in the language of the messages (click's own option words
    them once, at import, before ``--lang`` is known)."""
    if value and not ctx.resilient_parsing:
        click.echo(_(CLICK_MESSAGES[6]) % {"prog": "hom-phieu", "version": __version__})
        ctx.exit()


option = functools.partial(click.option, cls=Option)


def speak_click() -> None:
    """Click's own messages in the current language (its modules call ``_``/``ngettext``
    by those names when they write them)."""
    from click import core, decorators, exceptions, formatting, parser, types

    for module in (core, decorators, exceptions, formatting, parser, types):
        names: dict[str, Any] = vars(module)
        if "_" in names:
            module._ = _  # type: ignore[attr-defined]
        if "ngettext" in names:
            module.ngettext = ngettext  # type: ignore[attr-defined]


__all__ = [
    "CLICK_MESSAGES",
    "Command",
    "Group",
    "Option",
    "early_language",
    "option",
    "show_version",
    "speak_click",
]
