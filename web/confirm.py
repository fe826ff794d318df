"""Destructive actions ask first: a page that says what will happen (and whether it can be
undone) with one button that posts, CSRF-protected, back to the same address.

A list offers a link to the action's address (GET: this page); the page's button posts
there, and only a valid POST does the action. No JavaScript is needed.
"""

from __future__ import annotations

from flask import render_template
from flask_wtf import FlaskForm

from web.form_input import StorableInputMeta


class ConfirmForm(FlaskForm):
    """Only the CSRF token: the confirmation page is the confirmation."""

    Meta = StorableInputMeta


def confirmed(form: ConfirmForm) -> bool:
    """Was the action's button pressed (a POST with a valid CSRF token)?"""
    return form.is_submitted() and form.validate()


def ask(
    form: ConfirmForm,
    *,
    title: str,
    text: str,
    button: str,
    cancel: str,
    undo: str | None = None,
    details: list[str] | None = None,
) -> tuple[str, int]:
    """The confirmation page: ``text`` says what will happen, ``undo`` whether and how it
    can be undone, ``details`` what else it touches; 400 when a POST came without a valid
    token (it is asked again)."""
    page = render_template("confirm.html", form=form, title=title, text=text, button=button,
                           cancel=cancel, undo=undo, details=details or [])  # fmt: skip
    return page, 400 if form.is_submitted() else 200
