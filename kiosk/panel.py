"""The virtual panel of a simulated kiosk: a page and a JSON API on 127.0.0.1 only.

It presses the real gpiozero buttons through their MockFactory pins, so a press from
here takes exactly the path a finger's would. The API is stable (technicians' scripts
and the acceptance tests use it): see PRODUCT.md section 5.

Served on loopback only; every request must name a loopback host (against DNS
rebinding) and every POST must be JSON (a cross-site form cannot send that), which is
this API's protection against cross-site requests.
"""

from __future__ import annotations

import io
from typing import Any

from flask import Flask, abort, jsonify, render_template, request, send_file

from hom_phieu.clock import EARLIEST_PLAUSIBLE_MS, LATEST_PLAUSIBLE_MS, local_iso, parse_iso_ms
from hom_phieu.i18n import _
from hom_phieu.protocol import fields
from kiosk.press_policy import SERVED

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]"}
MAX_HOLD_MS = 15_000
MAX_TIME_TEXT = 64


def create_panel_app(simulation: Any) -> Flask:
    """``simulation`` is a :class:`kiosk.simulation.Simulation`."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 4096
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # Vietnamese stays readable
    kiosk = simulation.kiosk

    @app.before_request
    def loopback_only() -> None:
        host = (request.host or "").rsplit(":", 1)[0]
        if host not in LOOPBACK_HOSTS:
            abort(403, description=_("the panel answers on 127.0.0.1 only"))
        if request.method == "POST" and not request.is_json:
            abort(415, description=_("send JSON (Content-Type: application/json)"))

    @app.errorhandler(400)
    @app.errorhandler(403)
    @app.errorhandler(404)
    @app.errorhandler(409)
    @app.errorhandler(415)
    def json_error(error: Any):
        return jsonify(error=error.description), error.code

    @app.get("/")
    def page():
        return render_template("panel.html", _=_, buttons=kiosk.config.buttons,
                               has_served=kiosk.policy.has_served,
                               roster=simulation.roster(), clerk_id=kiosk.clerk_id)  # fmt: skip

    @app.get("/api/state")
    def state():
        return jsonify(simulation.state())

    @app.post("/api/press")
    def press():
        body = _json_object()
        name = body.get("button")
        if not isinstance(name, str) or name not in simulation.rating_pins():
            known = ", ".join(simulation.rating_pins())
            abort(400, description=_("unknown button; use one of: {names}").format(names=known))
        return jsonify(simulation.press(name, _hold_ms(body)))

    @app.post("/api/served")
    def served():
        if not kiosk.policy.has_served:
            abort(404, description=_("this kiosk has no served button (served_button.pin)"))
        return jsonify(simulation.press(SERVED, _hold_ms(_json_object())))

    @app.post("/api/clerk")
    def clerk():
        """The clerk on duty chosen from the roster: a demo votes for every clerk, even
        on a kiosk without a served button (whose clerk gesture is the chord, if on)."""
        chosen = _json_object().get("clerk")
        known = [c["id"] for c in simulation.roster()]
        if not isinstance(chosen, str) or chosen not in known:
            abort(400, description=_("unknown clerk; use one of: {ids}").format(
                ids=", ".join(known)))  # fmt: skip
        return jsonify(simulation.choose_clerk(chosen))

    @app.get("/api/screen.png")
    def screen_png():
        image = simulation.screen_image()
        if image is None:
            abort(404, description=_("nothing has been shown yet"))
        return _png(image)

    @app.get("/api/tickets")
    def tickets():
        return jsonify(
            tickets=[
                {
                    "id": ticket.id,
                    "time": local_iso(ticket.wall_ms),
                    "bin": f"/api/tickets/{ticket.id}.bin",
                    "png": f"/api/tickets/{ticket.id}.png",
                }
                for ticket in simulation.archive.list()
            ]
        )

    @app.get("/api/tickets/<ticket_id>.bin")
    def ticket_bin(ticket_id: str):
        data = simulation.archive.read(ticket_id)
        if data is None:
            abort(404, description=_("no such ticket"))
        return send_file(io.BytesIO(data), mimetype="application/octet-stream")

    @app.get("/api/tickets/<ticket_id>.png")
    def ticket_png(ticket_id: str):
        image = simulation.archive.image(ticket_id)
        if image is None:
            abort(404, description=_("no such ticket"))
        return _png(image)

    @app.post("/api/clock")
    def set_clock():
        body = _json_object()
        now, synced = body.get("now"), body.get("synced", True)
        if not isinstance(now, str) or not isinstance(synced, bool):
            abort(400, description=_('send {"now": ISO-8601 time, "synced": true or false}'))
        try:
            fields.text(now, "now", limit=MAX_TIME_TEXT)  # echoed below: storable, short
        except fields.ProtocolError as exc:
            abort(400, description=exc.message)
        try:
            wall_ms = parse_iso_ms(now)
        except (ValueError, OverflowError):
            abort(400, description=_("now is not an ISO-8601 time: {value}").format(value=now))
        if not EARLIEST_PLAUSIBLE_MS <= wall_ms < LATEST_PLAUSIBLE_MS:
            abort(400, description=_("now must lie between 2026 and 2099: {value}").format(
                value=now))  # fmt: skip
        simulation.clock.set(wall_ms, synced)
        simulation.wait_quiet()
        return jsonify(simulation.state()["clock"])

    return app


def _json_object() -> dict[str, Any]:
    """The POST's JSON object; an empty or unreadable body is ``{}`` (every field has a
    default or is asked for by name), any other JSON (a list, a number) a 400."""
    body = request.get_json(silent=True)
    if body is None:
        return {}
    if not isinstance(body, dict):
        abort(400, description=_("send a JSON object ({...}), not a list or a single value"))
    return body


def _hold_ms(body: dict[str, Any]) -> int:
    hold = body.get("hold_ms", 100)
    if not isinstance(hold, int) or isinstance(hold, bool) or not 0 <= hold <= MAX_HOLD_MS:
        abort(400, description=_("hold_ms must be a whole number from 0 to {most}").format(
            most=MAX_HOLD_MS))  # fmt: skip
    return hold


def _png(image: Any):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    buffer.seek(0)
    response = send_file(buffer, mimetype="image/png")
    response.headers["Cache-Control"] = "no-store"
    return response
