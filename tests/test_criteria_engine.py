"""One small example per rule of ``docs/criteria.rst``."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import typing as t
from zoneinfo import ZoneInfo

import pytest

from flask_gamify.criteria import Evaluation, EvaluationContext, EventData, compile_criteria

UTC = dt.UTC
PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
NOW = dt.datetime(2024, 5, 15, 12, 0, tzinfo=UTC)  # a Wednesday
MS = dt.timedelta(milliseconds=1)
MINUTE = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)

_ids = itertools.count()


def event(type_: str, at: dt.datetime, attributes: dict[str, t.Any] | None = None) -> EventData:
    return EventData(id=f"e{next(_ids)}", type=type_, occurred_at=at, attributes=attributes or {})


def progress(
    criteria: dict[str, t.Any],
    events: list[EventData],
    *,
    now: dt.datetime = NOW,
    max_occurrences: int | None = 1,
    **context: t.Any,
) -> Evaluation:
    crit = compile_criteria(criteria, max_occurrences=max_occurrences)
    ctx = EvaluationContext(now=now, **context)
    return crit.evaluate(crit.apply(None, events, ctx), ctx)


def summary(evaluation: Evaluation) -> tuple[t.Any, ...]:
    return (evaluation.current, evaluation.target, evaluation.percent, evaluation.completed)


# -- where ---------------------------------------------------------------------------------


def matches(where: dict[str, t.Any], attributes: dict[str, t.Any], type_: str = "x") -> bool:
    criteria = {"type": "count", "event": "x", "target": 1, "where": where}
    return progress(criteria, [event(type_, NOW - HOUR, attributes)]).completed


def test_event_type_must_equal_event() -> None:
    assert progress({"type": "count", "event": "x", "target": 1}, [event("x", NOW)]).completed
    assert not progress({"type": "count", "event": "x", "target": 1}, [event("y", NOW)]).completed


def test_plain_value_means_equality() -> None:
    assert matches({"category": "python"}, {"category": "python"})
    assert not matches({"category": "python"}, {"category": "rust"})


@pytest.mark.parametrize(
    ("operator", "operand", "value", "expected"),
    [
        ("eq", 5, 5, True),
        ("eq", 5, 6, False),
        ("ne", 5, 6, True),
        ("ne", 5, 5, False),
        ("lt", 5, 4, True),
        ("lt", 5, 5, False),
        ("lte", 5, 5, True),
        ("lte", 5, 6, False),
        ("gt", 5, 6, True),
        ("gt", 5, 5, False),
        ("gte", 5, 5, True),
        ("gte", 5, 4.5, False),
        ("in", ["en", "fr"], "fr", True),
        ("in", ["en", "fr"], "de", False),
        ("lt", "b", "a", True),
        ("gte", "b", "a", False),
        ("gt", 1.5, 2, True),
    ],
)
def test_operator(operator: str, operand: t.Any, value: t.Any, expected: bool) -> None:
    assert matches({"field": {operator: operand}}, {"field": value}) is expected


@pytest.mark.parametrize(
    "condition",
    [{"eq": 1}, {"ne": 1}, {"lt": 1}, {"lte": 1}, {"gt": 1}, {"gte": 1}, {"in": [1, 2]}, 1],
)
def test_missing_attribute_never_matches(condition: t.Any) -> None:
    assert not matches({"field": condition}, {"other": 1})


def test_ne_matches_a_present_null() -> None:
    assert matches({"field": {"ne": "a"}}, {"field": None})


@pytest.mark.parametrize(
    ("condition", "value"),
    [
        (1, True),
        (True, 1),
        (0, False),
        ({"eq": 1}, True),
        ({"in": [1, 0]}, True),
        ({"in": [True]}, 1),
    ],
)
def test_booleans_are_not_numbers(condition: t.Any, value: t.Any) -> None:
    assert not matches({"field": condition}, {"field": value})


def test_ne_between_boolean_and_number_holds() -> None:
    assert matches({"field": {"ne": 1}}, {"field": True})


@pytest.mark.parametrize("condition", [{"gt": 0}, {"lte": 1}])
def test_ordering_a_boolean_against_a_number_does_not_match(condition: dict[str, t.Any]) -> None:
    assert not matches({"field": condition}, {"field": True})


@pytest.mark.parametrize(
    ("condition", "value"),
    [(1, 1.0), (1.0, 1), ({"eq": 1}, 1.0), ({"in": [2, 1.0]}, 1), ({"lte": 1}, 1.0)],
)
def test_numbers_compare_by_value(condition: t.Any, value: t.Any) -> None:
    assert matches({"field": condition}, {"field": value})


def test_ne_is_false_for_equal_numbers_of_different_types() -> None:
    assert not matches({"field": {"ne": 1}}, {"field": 1.0})


@pytest.mark.parametrize(
    ("condition", "value"), [({"lt": 5}, "4"), ({"gte": "a"}, 1), ({"gt": 0}, None)]
)
def test_ordering_mixed_types_does_not_match(condition: dict[str, t.Any], value: t.Any) -> None:
    assert not matches({"field": condition}, {"field": value})


def test_object_literal_needs_the_eq_operator() -> None:
    where = {"meta": {"eq": {"a": 1}}}
    assert matches(where, {"meta": {"a": 1}})
    assert matches(where, {"meta": {"a": 1.0}})
    assert not matches(where, {"meta": {"a": 2}})
    assert not matches(where, {"meta": {"a": 1, "b": 2}})


def test_all_operators_of_a_condition_must_hold() -> None:
    where = {"score": {"gte": 80, "lt": 100}}
    assert matches(where, {"score": 80})
    assert matches(where, {"score": 99.5})
    assert not matches(where, {"score": 100})
    assert not matches(where, {"score": 79})


def test_all_attributes_of_a_filter_must_hold() -> None:
    where = {"lang": {"in": ["en", "fr"]}, "category": "python"}
    assert matches(where, {"lang": "fr", "category": "python"})
    assert not matches(where, {"lang": "de", "category": "python"})
    assert not matches(where, {"lang": "fr"})


# -- count ---------------------------------------------------------------------------------


def test_count_progress_is_floored_and_capped_at_target() -> None:
    criteria = {"type": "count", "event": "login", "target": 3}
    assert summary(progress(criteria, [event("login", NOW)])) == (1, 3, 33, False)
    assert summary(progress(criteria, [event("login", NOW) for _ in range(2)])) == (2, 3, 66, False)
    five = [event("login", NOW - i * HOUR) for i in range(5)]
    assert summary(progress(criteria, five)) == (3, 3, 100, True)


def test_count_occurrences_are_matches_divided_by_target_up_to_the_cap() -> None:
    criteria = {"type": "count", "event": "login", "target": 2}
    seven = [event("login", NOW - i * HOUR) for i in range(7)]
    assert progress(criteria, seven, max_occurrences=None).occurrences == 3
    assert progress(criteria, seven, max_occurrences=2).occurrences == 2
    assert progress(criteria, seven).occurrences == 1


def test_events_exactly_a_window_apart_are_not_in_one_window() -> None:
    criteria = {"type": "count", "event": "login", "target": 2, "window": "1h"}
    start = NOW - 5 * HOUR
    assert not progress(criteria, [event("login", start), event("login", start + HOUR)]).completed
    assert progress(criteria, [event("login", start), event("login", start + HOUR - MS)]).completed


def test_windows_compare_whole_milliseconds() -> None:
    criteria = {"type": "count", "event": "login", "target": 2, "window": "1h"}
    start = NOW - 5 * HOUR
    # 59:59.9992 apart, but 3 600 000 ms apart once truncated to the millisecond
    first = event("login", start + dt.timedelta(microseconds=900))
    second = event("login", start + HOUR + dt.timedelta(microseconds=100))
    assert not progress(criteria, [first, second]).completed


def test_windowed_count_current_counts_the_window_ending_now() -> None:
    criteria = {"type": "count", "event": "login", "target": 5, "window": "1h"}
    events = [
        event("login", NOW - HOUR),  # exactly one window ago: outside
        event("login", NOW - HOUR + MS),
        event("login", NOW),
    ]
    evaluation = progress(criteria, events)
    assert summary(evaluation) == (2, 5, 40, False)


def test_windowed_count_completion_needs_not_be_now() -> None:
    criteria = {"type": "count", "event": "login", "target": 2, "window": "1h"}
    long_ago = NOW - 3 * DAY
    evaluation = progress(
        criteria, [event("login", long_ago), event("login", long_ago + 30 * MINUTE)]
    )
    assert summary(evaluation) == (2, 2, 100, True)


def test_windowed_count_occurrences_are_disjoint_groups_in_a_window() -> None:
    criteria = {"type": "count", "event": "login", "target": 2, "window": "1h"}
    start = NOW - DAY
    minutes = [0, 40, 70, 110, 200]  # {0, 40} and {70, 110}; 200 is alone
    events = [event("login", start + dt.timedelta(minutes=m)) for m in minutes]
    assert progress(criteria, events, max_occurrences=None).occurrences == 2
    assert progress(criteria, events).occurrences == 1


# -- sum -----------------------------------------------------------------------------------


def purchase(amount: t.Any, at: dt.datetime = NOW - HOUR) -> EventData:
    return event("purchase", at, {"amount": amount})


def test_sum_is_exact_decimal() -> None:
    # 0.7 + 0.1 == 0.7999999999999999 in binary floating point
    criteria = {"type": "sum", "event": "purchase", "field": "amount", "target": 0.8}
    evaluation = progress(criteria, [purchase(0.7), purchase(0.1)])
    assert evaluation.completed
    assert evaluation.current == 0.8
    assert evaluation.percent == 100


def test_sum_reports_whole_values_as_int_and_others_as_float() -> None:
    criteria = {"type": "sum", "event": "purchase", "field": "amount", "target": 2}
    whole = progress(criteria, [purchase(0.5), purchase(0.5)])
    assert whole.current == 1 and isinstance(whole.current, int)
    assert whole.target == 2 and isinstance(whole.target, int)
    assert whole.percent == 50
    fraction = progress(criteria, [purchase(0.25)])
    assert fraction.current == 0.25 and isinstance(fraction.current, float)
    assert fraction.percent == 12


def test_sum_skips_values_that_are_not_numbers() -> None:
    criteria = {"type": "sum", "event": "purchase", "field": "amount", "target": 100}
    events = [
        purchase(3),
        purchase("40"),
        purchase(True),
        purchase(None),
        event("purchase", NOW, {}),
        purchase(2.5),
    ]
    assert progress(criteria, events).current == 5.5


def test_negative_sum_keeps_percent_at_zero() -> None:
    criteria = {"type": "sum", "event": "purchase", "field": "amount", "target": 10}
    evaluation = progress(criteria, [purchase(2), purchase(-5)], max_occurrences=None)
    assert summary(evaluation) == (-3, 10, 0, False)
    assert evaluation.occurrences == 0


def test_sum_occurrences_are_sum_divided_by_target() -> None:
    criteria = {"type": "sum", "event": "purchase", "field": "amount", "target": 2}
    evaluation = progress(criteria, [purchase(4), purchase(3.5)], max_occurrences=None)
    assert summary(evaluation) == (2, 2, 100, True)
    assert evaluation.occurrences == 3


def test_windowed_sum_completes_at_some_event_and_reports_the_window_now() -> None:
    criteria = {"type": "sum", "event": "purchase", "field": "amount", "target": 10, "window": "1h"}
    incomplete = progress(criteria, [purchase(3, NOW - HOUR), purchase(4, NOW - 30 * MINUTE)])
    assert summary(incomplete) == (4, 10, 40, False)
    earlier = NOW - 5 * HOUR
    complete = progress(
        criteria,
        [purchase(5, earlier), purchase(5, earlier + HOUR - MS), purchase(50, earlier + 2 * HOUR)],
        max_occurrences=None,
    )
    assert summary(complete) == (10, 10, 100, True)
    assert complete.occurrences == 1


def test_windowed_sum_with_a_late_negative_value_does_not_depend_on_batching() -> None:
    """A refund that happened earlier but arrives later must give the same result.

    Placed at either event, the window never holds 5; order independence (the same
    events give the same progress whatever the batching) rules out keeping a
    completion that only the arrival order produced.
    """
    criteria = {"type": "sum", "event": "purchase", "field": "amount", "target": 5, "window": "1h"}
    sale, refund = purchase(5, NOW - 10 * MINUTE), purchase(-3, NOW - 20 * MINUTE)
    assert summary(progress(criteria, [sale, refund])) == (2, 5, 40, False)
    crit = compile_criteria(criteria)
    context = EvaluationContext(now=NOW)
    state = crit.apply(crit.apply(None, [sale], context), [refund], context)
    assert summary(crit.evaluate(state, context)) == (2, 5, 40, False)


def test_windowed_sum_exactly_a_window_apart_is_not_enough() -> None:
    criteria = {"type": "sum", "event": "purchase", "field": "amount", "target": 10, "window": "1h"}
    earlier = NOW - 5 * HOUR
    assert not progress(criteria, [purchase(5, earlier), purchase(5, earlier + HOUR)]).completed


# -- distinct and all_of -------------------------------------------------------------------


def read(article: t.Any, at: dt.datetime = NOW - HOUR) -> EventData:
    return event("article.read", at, {"article_id": article})


def test_distinct_counts_values_by_json_equality() -> None:
    criteria = {"type": "distinct", "event": "article.read", "field": "article_id", "target": 10}
    events = [read(1), read(1.0), read(True), read("1"), read(None), event("article.read", NOW, {})]
    assert summary(progress(criteria, events)) == (3, 10, 30, False)


def test_distinct_occurrences_are_values_divided_by_target() -> None:
    criteria = {"type": "distinct", "event": "article.read", "field": "article_id", "target": 2}
    events = [read(i) for i in range(5)] + [read(0) for _ in range(3)]
    evaluation = progress(criteria, events, max_occurrences=None)
    assert summary(evaluation) == (2, 2, 100, True)
    assert evaluation.occurrences == 2


def test_all_of_counts_the_listed_values_seen() -> None:
    criteria = {
        "type": "all_of",
        "event": "article.read",
        "field": "article_id",
        "values": [3, 5, 8],
    }
    assert summary(progress(criteria, [read(3), read(5.0), read(4)])) == (2, 3, 66, False)
    assert summary(progress(criteria, [read(8), read(3), read(5)])) == (3, 3, 100, True)


def test_all_of_does_not_take_a_boolean_for_a_number() -> None:
    criteria = {
        "type": "all_of",
        "event": "article.read",
        "field": "article_id",
        "values": [1, True],
    }
    assert summary(progress(criteria, [read(True)])) == (1, 2, 50, False)


def test_all_of_occurrences_are_the_rarest_value() -> None:
    criteria = {
        "type": "all_of",
        "event": "article.read",
        "field": "article_id",
        "values": ["a", "b"],
    }
    events = [read(article) for article in "aaabbccccc"]
    assert progress(criteria, events, max_occurrences=None).occurrences == 2


# -- streak --------------------------------------------------------------------------------


def logins(*moments: dt.datetime) -> list[EventData]:
    return [event("login", moment) for moment in moments]


DAILY = {"type": "streak", "event": "login", "target": 3}
WEEKLY = {"type": "streak", "event": "login", "target": 2, "period": "week"}


def test_streak_is_alive_when_active_yesterday_but_not_today() -> None:
    evaluation = progress(DAILY, logins(NOW - 2 * DAY, NOW - DAY))
    assert summary(evaluation) == (2, 3, 66, False)


def test_streak_counts_today() -> None:
    assert progress(DAILY, logins(NOW - DAY, NOW)).current == 2


def test_streak_is_broken_after_a_whole_idle_period() -> None:
    assert progress(DAILY, logins(NOW - 3 * DAY, NOW - 2 * DAY)).current == 0


def test_a_completed_streak_stays_complete_after_it_breaks() -> None:
    evaluation = progress(DAILY, logins(NOW - 10 * DAY, NOW - 9 * DAY, NOW - 8 * DAY))
    assert summary(evaluation) == (3, 3, 100, True)


def test_streak_days_are_calendar_days_in_the_timezone() -> None:
    # 23:30 UTC on the 13th and 21:30 UTC on the 14th: two UTC days, one Paris day (the 14th)
    events = logins(
        dt.datetime(2024, 5, 13, 23, 30, tzinfo=UTC), dt.datetime(2024, 5, 14, 21, 30, tzinfo=UTC)
    )
    assert progress(DAILY, events).current == 2
    assert progress(DAILY, events, timezone=PARIS).current == 1


def test_streak_days_follow_daylight_saving_changes() -> None:
    # Paris springs forward on 31 March 2024: that day lasts 23 hours
    local = [
        dt.datetime(2024, 3, 30, 23, 30, tzinfo=PARIS),
        dt.datetime(2024, 3, 31, 23, 30, tzinfo=PARIS),
        dt.datetime(2024, 4, 1, 0, 30, tzinfo=PARIS),
    ]
    events = logins(*(moment.astimezone(UTC) for moment in local))
    now = dt.datetime(2024, 4, 1, 12, 0, tzinfo=UTC)
    assert summary(progress(DAILY, events, now=now, timezone=PARIS)) == (3, 3, 100, True)


def test_streak_day_that_lasts_25_hours_is_one_period() -> None:
    # New York falls back on 3 November 2024; 00:30 EDT and 23:30 EST are the same day
    events = logins(
        dt.datetime(2024, 11, 3, 4, 30, tzinfo=UTC), dt.datetime(2024, 11, 4, 4, 30, tzinfo=UTC)
    )
    now = dt.datetime(2024, 11, 4, 17, 0, tzinfo=UTC)
    assert progress(DAILY, events, now=now, timezone=NEW_YORK).current == 1


def test_weeks_start_on_monday() -> None:
    sunday = dt.datetime(2024, 5, 12, 12, 0, tzinfo=UTC)
    monday_before = sunday - 6 * DAY
    assert progress(WEEKLY, logins(sunday, sunday + DAY)).completed
    assert summary(progress(WEEKLY, logins(monday_before, sunday))) == (1, 2, 50, False)


def test_weeks_run_on_across_the_new_year() -> None:
    # Monday 28 December 2020 starts ISO week 53; Monday 4 January 2021 starts week 1
    events = logins(dt.datetime(2020, 12, 31, tzinfo=UTC), dt.datetime(2021, 1, 4, tzinfo=UTC))
    assert progress(WEEKLY, events, now=dt.datetime(2021, 1, 5, tzinfo=UTC)).completed


def test_days_run_on_across_month_and_leap_day() -> None:
    events = logins(
        *(dt.datetime(2024, 2, 28, tzinfo=UTC) + i * DAY for i in range(3))
    )  # 28, 29, 1
    assert progress(DAILY, events, now=dt.datetime(2024, 3, 1, 12, tzinfo=UTC)).completed


def test_weekly_streak_is_alive_when_active_last_week() -> None:
    # NOW is a Wednesday: last week and the week before, but not this week
    assert progress(WEEKLY, logins(NOW - 14 * DAY, NOW - 7 * DAY)).completed
    evaluation = progress({**WEEKLY, "target": 3}, logins(NOW - 14 * DAY, NOW - 7 * DAY))
    assert summary(evaluation) == (2, 3, 66, False)
    assert progress({**WEEKLY, "target": 3}, logins(NOW - 21 * DAY, NOW - 14 * DAY)).current == 0


def test_streak_occurrences_add_up_every_run() -> None:
    criteria = {"type": "streak", "event": "login", "target": 2}
    run_of_five = [NOW - (20 - i) * DAY for i in range(5)]
    run_of_three = [NOW - (10 - i) * DAY for i in range(3)]
    assert (
        progress(criteria, logins(*run_of_five, *run_of_three), max_occurrences=None).occurrences
        == 3
    )


# -- sequence ------------------------------------------------------------------------------

SEQUENCE = {"type": "sequence", "steps": [{"event": "cart.add"}, {"event": "checkout"}]}


def test_sequence_needs_strictly_increasing_milliseconds() -> None:
    start = NOW - HOUR
    same_millisecond = [
        event("cart.add", start),
        event("checkout", start + dt.timedelta(microseconds=500)),
    ]
    assert summary(progress(SEQUENCE, same_millisecond)) == (1, 2, 50, False)
    one_later = [event("cart.add", start), event("checkout", start + MS)]
    assert summary(progress(SEQUENCE, one_later)) == (2, 2, 100, True)


def test_sequence_follows_the_order_of_the_steps() -> None:
    wrong_order = [event("checkout", NOW - 2 * HOUR), event("cart.add", NOW - HOUR)]
    assert summary(progress(SEQUENCE, wrong_order)) == (1, 2, 50, False)


def test_sequence_current_starts_at_the_first_step() -> None:
    assert progress(SEQUENCE, [event("checkout", NOW)]).current == 0


def test_sequence_steps_need_different_events() -> None:
    criteria = {"type": "sequence", "steps": [{"event": "a"}, {"event": "a"}]}
    assert summary(progress(criteria, [event("a", NOW)])) == (1, 2, 50, False)
    assert progress(criteria, [event("a", NOW - MS), event("a", NOW)]).completed
    same_time = [event("a", NOW), event("a", NOW)]
    assert not progress(criteria, same_time).completed


def test_sequence_steps_filter_with_where() -> None:
    criteria = {
        "type": "sequence",
        "steps": [
            {"event": "quiz", "where": {"score": {"lt": 50}}},
            {"event": "quiz", "where": {"score": {"gte": 80}}},
        ],
    }
    assert progress(
        criteria, [event("quiz", NOW - HOUR, {"score": 30}), event("quiz", NOW, {"score": 90})]
    ).completed
    assert not progress(
        criteria, [event("quiz", NOW - HOUR, {"score": 90}), event("quiz", NOW, {"score": 30})]
    ).completed


def test_sequence_window_excludes_exactly_a_window() -> None:
    criteria = {**SEQUENCE, "window": "1h"}
    start = NOW - 5 * HOUR
    # The cart.add's window closed with the checkout: no chain can still complete, so
    # progress shows none (it shows chains that start within the window shown).
    assert summary(
        progress(criteria, [event("cart.add", start), event("checkout", start + HOUR)])
    ) == (0, 2, 0, False)
    assert summary(progress(criteria, [event("cart.add", NOW - HOUR + MS)])) == (1, 2, 50, False)
    assert progress(
        criteria, [event("cart.add", start), event("checkout", start + HOUR - MS)]
    ).completed


def test_sequence_window_uses_a_later_first_step() -> None:
    criteria = {**SEQUENCE, "window": "1h"}
    events = [
        event("cart.add", NOW - 3 * HOUR),
        event("cart.add", NOW - HOUR),
        event("checkout", NOW - HOUR + MS),
    ]
    evaluation = progress(criteria, events, max_occurrences=None)
    assert evaluation.completed
    assert evaluation.occurrences == 1


# -- all, any, goal ------------------------------------------------------------------------


def test_all_counts_complete_children_and_its_percent_follows() -> None:
    criteria = {
        "type": "all",
        "of": [
            {"type": "count", "event": "login", "target": 1},
            {"type": "count", "event": "comment", "target": 3},
        ],
    }
    assert summary(progress(criteria, [event("comment", NOW)])) == (0, 2, 0, False)
    evaluation = progress(criteria, [event("login", NOW), event("comment", NOW)])
    assert summary(evaluation) == (1, 2, 50, False)
    assert [summary(child) for child in evaluation.children] == [
        (1, 1, 100, True),
        (1, 3, 33, False),
    ]
    assert [child.type for child in evaluation.children] == ["count", "count"]


def test_all_occurrences_are_the_smallest_child() -> None:
    criteria = {
        "type": "all",
        "of": [
            {"type": "count", "event": "login", "target": 1},
            {"type": "count", "event": "comment", "target": 1},
        ],
    }
    events = [event("login", NOW) for _ in range(3)] + [event("comment", NOW) for _ in range(2)]
    assert progress(criteria, events, max_occurrences=None).occurrences == 2


def test_any_reports_the_child_closest_to_completion() -> None:
    criteria = {
        "type": "any",
        "of": [
            {"type": "count", "event": "login", "target": 4},
            {"type": "count", "event": "comment", "target": 2},
        ],
    }
    assert summary(progress(criteria, [])) == (0, 4, 0, False)  # a tie: the first child
    evaluation = progress(criteria, [event("login", NOW), event("comment", NOW)])
    assert summary(evaluation) == (1, 2, 50, False)
    evaluation = progress(criteria, [event("login", NOW) for _ in range(2)])
    assert summary(evaluation) == (2, 4, 50, False)  # ties with the comment: the first
    evaluation = progress(criteria, [event("comment", NOW) for _ in range(2)])
    assert summary(evaluation) == (2, 2, 100, True)


def test_any_shows_a_complete_child_rather_than_a_further_one() -> None:
    criteria = {
        "type": "any",
        "of": [
            {"type": "count", "event": "login", "target": 3},
            {"type": "goal", "goal": "reader"},
        ],
    }
    events = [event("login", NOW) for _ in range(2)]
    assert summary(progress(criteria, events, completed_goals={"reader": 1})) == (1, 1, 100, True)
    assert summary(progress(criteria, events)) == (2, 3, 66, False)


def test_any_occurrences_add_up_and_are_capped_at_every_node() -> None:
    criteria = {
        "type": "any",
        "of": [
            {"type": "count", "event": "login", "target": 1},
            {"type": "count", "event": "comment", "target": 1},
        ],
    }
    events = [event("login", NOW) for _ in range(2)] + [event("comment", NOW) for _ in range(2)]
    assert progress(criteria, events, max_occurrences=None).occurrences == 4
    capped = progress(criteria, events, max_occurrences=3)
    assert capped.occurrences == 3
    assert [child.occurrences for child in capped.children] == [2, 2]
    assert [child.occurrences for child in progress(criteria, events).children] == [1, 1]


def test_nested_composites_report_the_whole_tree() -> None:
    criteria = {
        "type": "all",
        "of": [
            {"type": "count", "event": "login", "target": 3},
            {
                "type": "any",
                "of": [
                    {
                        "type": "distinct",
                        "event": "article.read",
                        "field": "article_id",
                        "target": 5,
                    },
                    {"type": "sum", "event": "purchase", "field": "amount", "target": 50},
                ],
            },
        ],
    }
    evaluation = progress(criteria, [event("login", NOW), read(1), read(2), purchase(10)])
    assert summary(evaluation) == (0, 2, 0, False)  # no part is complete yet
    assert evaluation.started  # though its parts progressed
    inner = evaluation.children[1]
    assert summary(inner) == (2, 5, 40, False)  # the distinct, closest to completion
    assert [summary(child) for child in inner.children] == [(2, 5, 40, False), (10, 50, 20, False)]


GOAL = {"type": "goal", "goal": "reader"}


def test_goal_is_complete_when_the_referenced_goal_was_completed() -> None:
    evaluation = progress(GOAL, [], completed_goals={"reader": 2})
    assert summary(evaluation) == (1, 1, 100, True)
    assert evaluation.occurrences == 1
    assert progress(GOAL, [], completed_goals={"reader": 2}, max_occurrences=None).occurrences == 2


def test_goal_is_incomplete_without_the_referenced_goal() -> None:
    evaluation = progress(GOAL, [], completed_goals={"writer": 1})
    assert summary(evaluation) == (0, 1, 0, False)
    assert evaluation.occurrences == 0


def test_event_types_and_goal_refs() -> None:
    criteria = compile_criteria(
        {
            "type": "any",
            "of": [
                GOAL,
                {
                    "type": "all",
                    "of": [
                        {"type": "goal", "goal": "writer"},
                        {"type": "count", "event": "login", "target": 1},
                    ],
                },
                SEQUENCE,
            ],
        }
    )
    assert criteria.event_types == frozenset({"login", "cart.add", "checkout"})
    assert criteria.goal_refs == frozenset({"reader", "writer"})


# -- late events ---------------------------------------------------------------------------

WINDOWED = [
    {"type": "count", "event": "login", "target": 1, "window": "1h"},
    {"type": "sum", "event": "login", "field": "amount", "target": 1, "window": "1h"},
    {"type": "sequence", "steps": [{"event": "login"}], "window": "1h"},
]
WINDOWED_PAIRS = [
    {"type": "count", "event": "login", "target": 2, "window": "1h"},
    {"type": "sum", "event": "login", "field": "amount", "target": 2, "window": "1h"},
    {"type": "sequence", "steps": [{"event": "login"}, {"event": "login"}], "window": "1h"},
]


def late_run(
    criteria: dict[str, t.Any], batches: list[list[EventData]], **context: t.Any
) -> tuple[Evaluation, list[str]]:
    """Apply ``batches`` in turn; the evaluation and the ids reported late."""
    crit = compile_criteria(criteria)
    late: list[str] = []
    ctx = EvaluationContext(now=NOW, on_late=lambda e: late.append(e.id), **context)
    state = None
    for batch in batches:
        state = json.loads(json.dumps(crit.apply(state, batch, ctx)))
    return crit.evaluate(state, ctx), late


@pytest.mark.parametrize("criteria", WINDOWED_PAIRS, ids=lambda c: c["type"])
def test_events_older_than_the_watermark_minus_the_allowance_are_late(
    criteria: dict[str, t.Any],
) -> None:
    """Lateness is judged against the latest event the state counted, not the clock;
    an event that still counts finds every partner it can pair with."""
    cutoff = NOW - dt.timedelta(days=7)
    first = [
        event("login", NOW, {"amount": 0}),
        event("login", cutoff - 10 * MINUTE, {"amount": 1}),
    ]
    too_old = event("login", cutoff - MS, {"amount": 1})
    evaluation, late = late_run(criteria, [first, [too_old]])
    assert not evaluation.completed
    assert late == [too_old.id]
    just_in_time = event("login", cutoff, {"amount": 1})
    evaluation, late = late_run(criteria, [first, [just_in_time]])
    assert evaluation.completed
    assert late == []


@pytest.mark.parametrize("criteria", WINDOWED, ids=lambda c: c["type"])
def test_old_events_count_when_nothing_newer_was_seen(criteria: dict[str, t.Any]) -> None:
    """A back-dated history (a year old) counts: the worker's clock plays no part."""
    evaluation, late = late_run(
        criteria, [[event("login", NOW - dt.timedelta(days=365), {"amount": 1})]]
    )
    assert evaluation.completed
    assert late == []


def test_late_event_allowance_comes_from_the_context() -> None:
    criteria = WINDOWED[0]
    batches = [[event("login", NOW - MS)], [event("login", NOW - 2 * HOUR)]]
    evaluation, late = late_run({**criteria, "target": 2, "window": "3h"}, batches)
    assert evaluation.completed and late == []
    evaluation, late = late_run(
        {**criteria, "target": 2, "window": "3h"},
        batches,
        late_event_allowance=dt.timedelta(minutes=30),
    )
    assert not evaluation.completed
    assert late == [batches[1][0].id]


def test_criteria_without_window_keep_old_events() -> None:
    criteria = {"type": "count", "event": "login", "target": 1}
    assert progress(criteria, [event("login", NOW - dt.timedelta(days=400))]).completed


@pytest.mark.parametrize("criteria", WINDOWED_PAIRS, ids=lambda c: c["type"])
def test_completion_is_kept_once_the_events_are_pruned(criteria: dict[str, t.Any]) -> None:
    crit = compile_criteria(criteria)
    then = NOW - dt.timedelta(days=30)
    pair = [
        event("login", then - HOUR, {"amount": 1}),
        event("login", then - HOUR + MS, {"amount": 1}),
    ]
    first = crit.apply(None, pair, EvaluationContext(now=then))
    assert crit.evaluate(first, EvaluationContext(now=then)).completed
    # a month later the pair is long pruned; one new event alone is not enough
    later = EvaluationContext(now=NOW)
    state = crit.apply(json.loads(json.dumps(first)), [event("login", NOW, {"amount": 1})], later)
    evaluation = crit.evaluate(json.loads(json.dumps(state)), later)
    assert evaluation.completed
    assert evaluation.current == evaluation.target == 2
    assert evaluation.percent == 100


def test_pruned_events_no_longer_count_towards_a_new_completion() -> None:
    then = NOW - dt.timedelta(days=30)
    # the state has seen an event today: the one from a month ago is pruned, and its
    # partner, arriving now, is far behind the watermark: late, and reported
    evaluation, late = late_run(
        WINDOWED_PAIRS[0],
        [
            [event("login", then - HOUR), event("login", NOW)],
            [event("login", then - HOUR + 30 * MINUTE)],
        ],
    )
    assert not evaluation.completed
    assert len(late) == 1


# -- state ---------------------------------------------------------------------------------

EVERY_TYPE = [
    {"type": "count", "event": "x", "target": 2},
    {"type": "count", "event": "x", "target": 2, "window": "1d"},
    {"type": "sum", "event": "x", "field": "amount", "target": 2.5},
    {"type": "sum", "event": "x", "field": "amount", "target": 2, "window": "1d"},
    {"type": "distinct", "event": "x", "field": "amount", "target": 2},
    {"type": "all_of", "event": "x", "field": "amount", "values": [1, 2]},
    {"type": "streak", "event": "x", "target": 2},
    {"type": "streak", "event": "x", "target": 2, "period": "week"},
    {"type": "sequence", "steps": [{"event": "x"}, {"event": "x"}]},
    {"type": "goal", "goal": "reader"},
    {"type": "all", "of": [{"type": "count", "event": "x", "target": 2}]},
    {"type": "any", "of": [{"type": "count", "event": "x", "target": 2}]},
]


@pytest.mark.parametrize(
    "criteria", EVERY_TYPE, ids=lambda c: c["type"] + ("-window" if "window" in c else "")
)
def test_no_state_means_no_progress(criteria: dict[str, t.Any]) -> None:
    evaluation = compile_criteria(criteria).evaluate(None, EvaluationContext(now=NOW))
    assert evaluation.type == criteria["type"]
    assert (
        evaluation.current,
        evaluation.percent,
        evaluation.completed,
        evaluation.occurrences,
    ) == (0, 0, False, 0)


@pytest.mark.parametrize(
    "criteria", EVERY_TYPE, ids=lambda c: c["type"] + ("-window" if "window" in c else "")
)
def test_apply_returns_new_json_state_and_leaves_the_input_alone(
    criteria: dict[str, t.Any],
) -> None:
    crit = compile_criteria(criteria)
    context = EvaluationContext(now=NOW, completed_goals={"reader": 1})
    state = crit.apply(None, [event("x", NOW - DAY, {"amount": 1})], context)
    snapshot = json.dumps(state, sort_keys=True)
    crit.apply(state, [event("x", NOW, {"amount": 2})], context)
    assert json.dumps(state, sort_keys=True) == snapshot
    assert json.loads(snapshot) == state


# -- labels and items ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("criteria", "label"),
    [
        ({"type": "count", "event": "login", "target": 3}, "3 × login"),
        (
            {"type": "count", "event": "login", "target": 3, "window": "7d", "where": {"d": "ios"}},
            '3 × login within 1 week where d = "ios"',
        ),
        (
            {"type": "sum", "event": "purchase", "field": "amount", "target": 2.5},
            "purchase: amount totalling 2.5",
        ),
        (
            {"type": "distinct", "event": "article.read", "field": "article_id", "target": 5},
            "article.read: 5 different article_id",
        ),
        (
            {"type": "all_of", "event": "article.read", "field": "article_id", "values": [1, 5]},
            "article.read: article_id 1 and 5",
        ),
        (
            {"type": "all_of", "event": "read", "field": "id", "values": list(range(1, 9))},
            "read: id 1, 2, 3, 4, 5 and 3 more",
        ),
        (
            {
                "type": "all_of",
                "event": "read",
                "field": "id",
                "values": ["a", True],
                "labels": {"true": "Yes"},
            },
            "read: a and Yes",
        ),
        ({"type": "streak", "event": "login", "target": 3}, "login: 3 days in a row"),
        (
            {
                "type": "sequence",
                "steps": [{"event": "a"}, {"event": "b", "where": {"n": {"gte": 2}}}],
            },
            "a → b where n ≥ 2",
        ),
        ({"type": "all", "of": [{"type": "goal", "goal": "g"}] * 2}, "all of 2 parts"),
        ({"type": "any", "of": [{"type": "goal", "goal": "g"}]}, "one of 1 part"),
        ({"type": "goal", "goal": "reader"}, "goal reader"),
    ],
)
def test_automatic_labels_are_short_and_readable(criteria: dict[str, t.Any], label: str) -> None:
    assert compile_criteria(criteria).label == label
    assert compile_criteria(criteria | {"label": "Mine"}).label == "Mine"
    assert progress(criteria | {"label": "Mine"}, []).label == "Mine"


def test_all_of_items_follow_the_listed_values_with_their_labels() -> None:
    criteria = {
        "type": "all_of",
        "event": "article.read",
        "field": "article_id",
        "values": [1, 2.5, "x"],
        "labels": {"2.5": "Half"},
    }
    evaluation = progress(criteria, [read(2.5), read("x")])
    assert [item.to_dict() for item in evaluation.items] == [
        {"value": 1, "label": "1", "done": False},
        {"value": 2.5, "label": "Half", "done": True},
        {"value": "x", "label": "x", "done": True},
    ]
    assert evaluation.missing == (1,)
    assert evaluation.to_dict()["items"][1]["label"] == "Half"
    assert "items" not in progress({"type": "count", "event": "a", "target": 1}, []).to_dict()
    done = progress(criteria, [read(1), read(2.5), read("x")])
    assert all(item.done for item in done.items) and done.missing == ()


def test_sequence_items_are_the_steps_by_position() -> None:
    criteria = {
        "type": "sequence",
        "steps": [{"event": "a", "label": "Start"}, {"event": "a"}, {"event": "b"}],
    }
    evaluation = progress(criteria, [event("a", NOW - HOUR), event("a", NOW)])
    assert [(i.value, i.label, i.done) for i in evaluation.items] == [
        (0, "Start", True),
        (1, "a", True),
        (2, "b", False),
    ]
    assert evaluation.missing == ("b",)


def test_a_goal_criterion_names_its_missing_prerequisite() -> None:
    assert progress({"type": "goal", "goal": "reader"}, []).missing == ("reader",)
    done = progress({"type": "goal", "goal": "reader"}, [], completed_goals={"reader": 1})
    assert done.missing == ()


def test_a_window_shown_above_target_without_completion_stays_below_100() -> None:
    """Negative amounts: the window ending now holds 10, but no window placed at an
    event reached 5 (docs/criteria.rst), so progress must not read 100 %."""
    criteria = {"type": "sum", "event": "purchase", "field": "amount", "target": 5, "window": "10d"}
    events = [purchase(-10, NOW - 12 * DAY), purchase(10, NOW - 7 * DAY)]
    evaluation = progress(criteria, events)
    assert not evaluation.completed
    assert (evaluation.current, evaluation.target, evaluation.percent) == (4.95, 5, 99)
