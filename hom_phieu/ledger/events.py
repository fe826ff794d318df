"""The words an EVENT's ``type`` and a REFUSED's ``reason`` may hold: one list for every
writer (the kiosk, the ballot box, the phone survey), the grammar, the checklist and the
documentation (``docs/ledger-format.md`` is generated from these by ``tools/ledger_docs.py``).

Readers accept any word there (``grammar.WORD``): a newer device's event stays readable by an
older server. Writers use only these members, so what a ledger can hold is listed here once,
with a label for people (translated where shown) and a line for the documentation.
"""

from __future__ import annotations

from enum import StrEnum

from hom_phieu.i18n import N_


class EventType(StrEnum):
    """What an EVENT record reports."""

    CLERK_ON_DUTY = "clerk_on_duty"
    CONFIG_CHANGE = "config_change"
    CONFIG_NOT_SAVED = "config_not_saved"
    TIME_ANCHOR = "time_anchor"
    CLOCK_JUMP = "clock_jump"
    CLOCK_FAULT = "clock_fault"
    CLOCK_RECOVERED = "clock_recovered"
    PRINTER_FAULT = "printer_fault"
    PRINTER_RECOVERED = "printer_recovered"
    SCREEN_FAULT = "screen_fault"
    SCREEN_RECOVERED = "screen_recovered"
    ARM_EXPIRED = "arm_expired"
    RESULTS_SLIP = "results_slip"
    SYNC_REFUSED = "sync_refused"


class RefusalReason(StrEnum):
    """Why a press (or a phone answer) was refused: written as REFUSED, never counted."""

    # the kiosk's press policy (kiosk.press_policy)
    HELD = "held"
    NOT_ARMED = "not_armed"
    MIN_GAP = "min_gap"
    BURST = "burst"
    SELECT = "select"
    STORM = "storm"
    # the phone survey (web.survey)
    RATE_LIMIT = "rate_limit"
    DAILY_LIMIT = "daily_limit"
    TICKET_MALFORMED = "ticket_malformed"
    TICKET_UNKNOWN = "ticket_unknown"
    WRONG_CLERK = "wrong_clerk"
    TICKET_EXPIRED = "ticket_expired"
    TICKET_USED = "ticket_used"


# Refusals that suggest stuffing: the opening's checklist warns about them.
BURST_REASONS = frozenset({RefusalReason.BURST, RefusalReason.STORM})

# Words for people (msgids; translated where shown).
EVENT_LABELS: dict[EventType, str] = {
    EventType.CLERK_ON_DUTY: N_("clerk on duty changed"),
    EventType.CONFIG_CHANGE: N_("configuration changed"),
    EventType.CONFIG_NOT_SAVED: N_("configuration not saved on the device"),
    EventType.TIME_ANCHOR: N_("time set from the server"),
    EventType.CLOCK_JUMP: N_("clock jumped"),
    EventType.CLOCK_FAULT: N_("clock fault"),
    EventType.CLOCK_RECOVERED: N_("clock trusted again"),
    EventType.PRINTER_FAULT: N_("printer fault"),
    EventType.PRINTER_RECOVERED: N_("printer working again"),
    EventType.SCREEN_FAULT: N_("screen fault"),
    EventType.SCREEN_RECOVERED: N_("screen working again"),
    EventType.ARM_EXPIRED: N_("clerk's served press expired unused"),
    EventType.RESULTS_SLIP: N_("results slip printed"),
    EventType.SYNC_REFUSED: N_("server refuses the records"),
}
REFUSAL_LABELS: dict[RefusalReason, str] = {
    RefusalReason.HELD: N_("button held too long"),
    RefusalReason.NOT_ARMED: N_("clerk had not pressed served"),
    RefusalReason.MIN_GAP: N_("too soon after the last vote"),
    RefusalReason.BURST: N_("too many votes in a short time"),
    RefusalReason.SELECT: N_("pressed while the clerk on duty was being chosen"),
    RefusalReason.STORM: N_("flood of presses, summed"),
    RefusalReason.RATE_LIMIT: N_("too many answers from one connection"),
    RefusalReason.DAILY_LIMIT: N_("clerk already rated today from this phone"),
    RefusalReason.TICKET_MALFORMED: N_("invalid ticket code"),
    RefusalReason.TICKET_UNKNOWN: N_("ticket not yet on the server"),
    RefusalReason.WRONG_CLERK: N_("ticket printed for another clerk"),
    RefusalReason.TICKET_EXPIRED: N_("ticket too old"),
    RefusalReason.TICKET_USED: N_("ticket already used"),
}

# For docs/ledger-format.md (always English): when each is written, and its further fields.
EVENT_DOCS: dict[EventType, str] = {
    EventType.CLERK_ON_DUTY: "the clerk on duty was changed at the kiosk; `clerk` (required), "
    "`previous`",
    EventType.CONFIG_CHANGE: "the configuration changed: at start, the file's `previous_digest` "
    "and `digest`; from the server, `source` (`server`), `previous` and `version`",
    EventType.CONFIG_NOT_SAVED: "the server's configuration could not be saved on the device "
    "(`error`); the next start fetches it again",
    EventType.TIME_ANCHOR: "the server's signed time anchors the clock (no NTP): "
    "`server_wall_ms`, `acked_seq`",
    EventType.CLOCK_JUMP: "the clock moved against monotonic time by more than 2 s: "
    "`expected_ms`, `clock_ms`, `delta_ms`, `clock_synced`",
    EventType.CLOCK_FAULT: "a trusted time strays too far from the others and is not followed "
    "(no month closes on it; see *Time and months*): `fault` (`clock_stepped`, "
    "`clock_far_ahead`, `behind_ledger`, `server_differs`), `claimed_ms`, `expected_ms`",
    EventType.CLOCK_RECOVERED: "the clock fault is over (`fault`: the one that ended)",
    EventType.PRINTER_FAULT: "the printer failed (`error`; `job` when a print job failed)",
    EventType.PRINTER_RECOVERED: "a print job succeeded after a fault (`job`)",
    EventType.SCREEN_FAULT: "the screen failed (`error`)",
    EventType.SCREEN_RECOVERED: "the screen works again",
    EventType.ARM_EXPIRED: "armed mode: the clerk's *served* press expired without a vote",
    EventType.RESULTS_SLIP: "written before the results slip of an opened box is printed: "
    "`box` (required), `minutes_hash`",
    EventType.SYNC_REFUSED: "the server refused a push (a restored or cloned card, a rewritten "
    "tail): `error`, `message`, `seq` (the record refused, when named); votes go on",
}
REFUSAL_DOCS: dict[RefusalReason, str] = {
    RefusalReason.HELD: "the button was held longer than `hold_ms` (`held_ms`)",
    RefusalReason.NOT_ARMED: "armed mode, and the clerk has not pressed *served*",
    RefusalReason.MIN_GAP: "less than `min_gap_ms` after the last vote (`gap_ms`)",
    RefusalReason.BURST: "already `burst_count` votes in the burst window (`votes_in_window`)",
    RefusalReason.SELECT: "a rating button pressed while the clerk on duty is being chosen",
    RefusalReason.STORM: "presses past `refused_per_minute` in a minute, summed in one record "
    "(`presses`, `window_s`)",
    RefusalReason.RATE_LIMIT: "phone: too many answers from one address within the hour",
    RefusalReason.DAILY_LIMIT: "phone: this phone already rated this clerk today (no ticket)",
    RefusalReason.TICKET_MALFORMED: "phone: the ticket code is not a receipt code",
    RefusalReason.TICKET_UNKNOWN: "phone: no VOTE of the office has this receipt code (yet)",
    RefusalReason.WRONG_CLERK: "phone: the ticket was printed for another clerk",
    RefusalReason.TICKET_EXPIRED: "phone: the ticket is older than the survey accepts",
    RefusalReason.TICKET_USED: "phone: the ticket's one detailed answer was given already",
}

__all__ = [
    "BURST_REASONS",
    "EVENT_DOCS",
    "EVENT_LABELS",
    "REFUSAL_DOCS",
    "REFUSAL_LABELS",
    "EventType",
    "RefusalReason",
]
