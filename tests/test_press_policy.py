"""The press rules on their own: pure, driven by timed edges."""

from __future__ import annotations

import random

import pytest

from kiosk.press_policy import SELECT_TIMEOUT_MS, SERVED, Action, PressPolicy, Rules

BUTTONS = ["rat_hai_long", "hai_long", "khong_hai_long"]
FIRST, MIDDLE, LAST = BUTTONS


class Driver:
    """Feeds edges at a moving time and collects every decision."""

    def __init__(self, rules: Rules | None = None, *, served: bool = False) -> None:
        self.policy = PressPolicy(rules or Rules(), BUTTONS, has_served=served)
        self.now = 1_000_000
        self.decisions = []

    def wait(self, ms: int) -> None:
        end = self.now + ms
        while (deadline := self.policy.next_deadline()) is not None and deadline <= end:
            self.now = max(self.now, deadline)
            self.decisions += self.policy.tick(self.now)
        self.now = end
        self.decisions += self.policy.tick(self.now)

    def edge(self, button: str, pressed: bool) -> None:
        self.decisions += self.policy.edge(button, pressed, self.now)

    def press(self, button: str, hold_ms: int = 100) -> None:
        self.edge(button, True)
        self.wait(hold_ms)
        self.edge(button, False)
        self.wait(50)

    def actions(self) -> list[tuple[str, str, str]]:
        return [(d.action.value, d.button, d.reason or "") for d in self.decisions]


def test_a_press_counts_once_settled_on_release() -> None:
    driver = Driver()
    driver.edge(MIDDLE, True)
    driver.wait(100)
    assert driver.decisions == []  # nothing while the button is down
    driver.edge(MIDDLE, False)
    driver.wait(29)
    assert driver.decisions == []  # not yet steady for bounce_ms
    driver.wait(1)
    assert driver.actions() == [("vote", MIDDLE, "")]


def test_contact_bounce_storm_is_one_press() -> None:
    driver = Driver()
    for _ in range(40):  # 40 edges 2 ms apart, ending pressed
        driver.edge(FIRST, True)
        driver.wait(1)
        driver.edge(FIRST, False)
        driver.wait(1)
    driver.edge(FIRST, True)
    driver.wait(200)
    for _ in range(10):  # bounce on release too
        driver.edge(FIRST, False)
        driver.wait(1)
        driver.edge(FIRST, True)
        driver.wait(1)
    driver.edge(FIRST, False)
    driver.wait(100)
    assert driver.actions() == [("vote", FIRST, "")]


def test_minimum_gap_and_burst() -> None:
    driver = Driver(Rules(min_gap_ms=3000, burst_count=3, burst_window_s=60))
    driver.press(FIRST)
    driver.press(LAST)  # 150 ms later
    refused = driver.decisions[-1]
    assert (refused.action, refused.reason) == (Action.REFUSED, "min_gap")
    assert refused.detail["gap_ms"] == 150
    for _ in range(3):
        driver.wait(3000)
        driver.press(MIDDLE)
    assert [a for a, _, _ in driver.actions()] == ["vote", "refused", "vote", "vote", "refused"]
    assert driver.decisions[-1].reason == "burst"
    driver.wait(60_000)
    driver.press(MIDDLE)
    assert driver.actions()[-1] == ("vote", MIDDLE, "")


def test_held_button_is_refused_once_and_its_release_is_not_a_vote() -> None:
    driver = Driver(Rules(hold_ms=1500))
    driver.press(LAST, hold_ms=5000)
    assert driver.actions() == [("refused", LAST, "held")]
    assert driver.decisions[0].detail["held_ms"] == 1500


def test_armed_mode_one_vote_per_service_and_expiry() -> None:
    driver = Driver(Rules(armed_mode=True, armed_timeout_s=120), served=True)
    driver.press(FIRST)
    driver.press(SERVED)
    driver.press(FIRST)
    driver.wait(3000)
    driver.press(MIDDLE)  # the arming was used
    driver.press(SERVED)
    driver.wait(120_000)
    assert driver.actions() == [
        ("refused", FIRST, "not_armed"),
        ("armed", SERVED, ""),
        ("vote", FIRST, ""),
        ("refused", MIDDLE, "not_armed"),
        ("armed", SERVED, ""),
        ("arm_expired", SERVED, ""),
    ]


def test_refusal_storm_is_summed_not_dropped() -> None:
    driver = Driver(Rules(refused_per_minute=20, min_gap_ms=60_000))
    driver.press(FIRST)
    for _ in range(30):
        driver.press(LAST)
    refused = [d for d in driver.decisions if d.action is Action.REFUSED]
    assert len(refused) == 20
    driver.wait(60_000)
    storm = driver.decisions[-1]
    assert (storm.action, storm.button, storm.reason) == (Action.REFUSED, LAST, "storm")
    assert storm.detail == {"presses": 10, "window_s": 60}


def test_clerk_gesture_with_the_served_button() -> None:
    driver = Driver(Rules(gesture_s=3), served=True)
    driver.press(SERVED, hold_ms=3500)
    driver.press(SERVED)
    driver.press(MIDDLE)  # a citizen pressing meanwhile: refused, not counted
    driver.press(SERVED, hold_ms=3100)
    assert driver.actions() == [
        ("select_start", SERVED, ""),
        ("select_next", SERVED, ""),
        ("refused", MIDDLE, "select"),
        ("select_confirm", SERVED, ""),
    ]


def test_clerk_gesture_without_a_served_button_casts_no_vote() -> None:
    driver = Driver(Rules(gesture_s=3, hold_ms=1500, chord_gesture=True))
    driver.edge(FIRST, True)
    driver.edge(LAST, True)
    driver.wait(3200)
    driver.edge(FIRST, False)
    driver.edge(LAST, False)
    driver.wait(100)
    driver.press(FIRST)
    driver.press(FIRST)
    driver.press(LAST)
    assert driver.actions() == [
        ("select_start", FIRST, ""),
        ("select_next", FIRST, ""),
        ("select_next", FIRST, ""),
        ("select_confirm", LAST, ""),
    ]


def test_choosing_a_clerk_times_out() -> None:
    driver = Driver(served=True)
    driver.press(SERVED, hold_ms=3100)
    driver.wait(SELECT_TIMEOUT_MS)
    assert driver.actions()[-1] == ("select_cancel", "", "")
    driver.press(FIRST)
    assert driver.actions()[-1] == ("vote", FIRST, "")


def test_print_on_demand() -> None:
    driver = Driver(Rules(print_on_demand=True, thanks_ms=5000), served=True)
    driver.press(SERVED)  # no vote yet: nothing to print
    driver.press(FIRST)
    driver.press(SERVED)
    driver.press(SERVED)  # only one ticket per vote
    assert driver.actions() == [("vote", FIRST, ""), ("ticket", SERVED, "")]


@pytest.mark.parametrize("seed", range(20))
def test_deadlines_always_move_forward(seed: int) -> None:
    """No state leaves a deadline in the past: the main loop can never spin."""
    chooser = random.Random(seed)
    served = seed % 2 == 0
    driver = Driver(Rules(armed_mode=served, print_on_demand=served), served=served)
    names = [*BUTTONS, SERVED] if served else BUTTONS
    for _ in range(300):
        driver.edge(chooser.choice(names), chooser.random() < 0.5)
        driver.now += chooser.choice([0, 1, 5, 40, 800, 2000, 4000, 70_000])
        driver.decisions += driver.policy.tick(driver.now)
        deadline = driver.policy.next_deadline()
        assert deadline is None or deadline > driver.now


def test_without_the_chord_option_holding_two_buttons_is_two_held_presses() -> None:
    driver = Driver(Rules(gesture_s=3, hold_ms=1500))
    driver.edge(FIRST, True)
    driver.edge(LAST, True)
    driver.wait(3200)
    driver.edge(FIRST, False)
    driver.edge(LAST, False)
    driver.wait(100)
    assert driver.actions() == [("refused", FIRST, "held"), ("refused", LAST, "held")]


def test_a_whole_press_queued_while_the_loop_was_busy_is_not_lost() -> None:
    """Down and up edges both handled before the next tick: the press still counts."""
    policy = PressPolicy(Rules(min_gap_ms=3000), BUTTONS, has_served=False)
    decisions = policy.edge(FIRST, True, 1000) + policy.edge(FIRST, False, 1200)
    decisions += policy.tick(1300)
    decisions += policy.edge(LAST, True, 1400) + policy.edge(LAST, False, 1500)
    decisions += policy.tick(1600)
    assert [(d.action.value, d.button, d.reason or "") for d in decisions] == [
        ("vote", FIRST, ""),
        ("refused", LAST, "min_gap"),
    ]


def test_settling_is_in_time_order_across_buttons() -> None:
    policy = PressPolicy(Rules(armed_mode=True), BUTTONS, has_served=True)
    decisions = policy.edge(SERVED, True, 5000) + policy.edge(SERVED, False, 5100)
    decisions += policy.edge(FIRST, True, 5110) + policy.edge(FIRST, False, 5200)
    decisions += policy.tick(6000)
    assert [d.action.value for d in decisions] == ["armed", "vote"]
