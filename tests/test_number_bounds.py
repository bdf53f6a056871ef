"""Numbers are bounded at ingestion, and no stored state can stop later events counting.

Issue 8, item 2: a 4,300-digit integer in a ``sum`` field used to make every later
event of that type for that entity fail for good.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

import pytest
from api_support import PREFIX, bearer, error_of, make_token
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from flask_gamify import CriteriaError, EventError, Gamify
from flask_gamify.criteria import EvaluationContext, EventData, compile_criteria
from flask_gamify.criteria.base import MAX_NUMBER, decode_exact, encode_exact
from flask_gamify.events import EventLimits
from flask_gamify.models import Progress
from flask_gamify.pipeline.streams import decode_event

SPEND = {"type": "sum", "event": "buy", "field": "amount", "target": 100}
#: The reproduction: 4,300 digits, the most Python converts to a decimal string.
HUGE = int("9" * 4300)
NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)

OUT_OF_BOUNDS: dict[str, Any] = {
    "4300-digits": HUGE,
    "minus-4300-digits": -HUGE,
    "5001-digits": 10**5000,
    "2**53": MAX_NUMBER + 1,
    "minus-2**53": -(MAX_NUMBER + 1),
    "1e16": 1e16,
    "minus-1e300": -1e300,
}


def buy(amount: Any, entity: str = "u1") -> dict[str, Any]:
    return {"type": "buy", "entity": entity, "attributes": {"amount": amount}}


def spent(gamify: Gamify, entity: str = "u1") -> int | float:
    return gamify.progress(entity, "spend").current  # type: ignore[no-any-return]


@pytest.mark.parametrize("value", OUT_OF_BOUNDS.values(), ids=OUT_OF_BOUNDS.keys())
def test_track_refuses_out_of_bounds_numbers_naming_the_attribute(
    app: Flask, gamify: Gamify, value: Any
) -> None:
    gamify.define_goal("spend", criteria=SPEND)
    with pytest.raises(EventError) as info:
        gamify.track("buy", "u1", attributes={"amount": value})
    assert list(info.value.errors) == ["attributes.amount"]
    assert str(MAX_NUMBER) in info.value.errors["attributes.amount"][0]
    with pytest.raises(EventError) as info:
        gamify.track("buy", "u1", attributes={"cart": [{"price": 1}, {"price": value}]})
    assert list(info.value.errors) == ["attributes.cart[1].price"]
    gamify.track("buy", "u1", attributes={"amount": 30})
    gamify.track("buy", "u1", attributes={"amount": MAX_NUMBER})
    assert gamify.has_completed("u1", "spend")


def test_the_original_reproduction_no_longer_poisons_the_state(app: Flask, gamify: Gamify) -> None:
    """The 4,300-digit amount is refused, and the entity's later events still count."""
    gamify.define_goal("spend", criteria=SPEND)
    gamify.track("buy", "u1", attributes={"amount": 1})
    for _ in range(2):
        with pytest.raises(EventError):
            gamify.track("buy", "u1", attributes={"amount": HUGE})
    for amount in (40, 50):
        gamify.track("buy", "u1", attributes={"amount": amount})
    assert spent(gamify) == 91
    gamify.track("buy", "u1", attributes={"amount": 9})
    assert gamify.has_completed("u1", "spend")


def test_rest_answers_422_naming_the_attribute_and_later_events_count(
    app: Flask, client: FlaskClient, gamify: Gamify
) -> None:
    gamify.define_goal("spend", criteria=SPEND)
    headers = {**bearer(make_token("events:write")), "Content-Type": "application/json"}
    # json.dumps writes integers of up to 4,300 digits (the test client's json= too).
    body = json.dumps({"events": [buy(HUGE), buy(5)]})
    response = client.post(f"{PREFIX}/events", data=body, headers=headers)
    assert response.status_code == 422
    error = error_of(response)
    assert list(error["errors"]) == ["events[0].attributes.amount"]
    assert "2**53 - 1" in error["errors"]["events[0].attributes.amount"][0]
    assert spent(gamify) == 0  # all or nothing

    one = json.dumps(buy(-HUGE))
    response = client.post(f"{PREFIX}/events", data=one, headers=headers)
    assert response.status_code == 422
    assert list(error_of(response)["errors"]) == ["attributes.amount"]

    for amount in (60, 40):
        response = client.post(
            f"{PREFIX}/events",
            json={"type": "buy", "entity": "u1", "attributes": {"amount": amount}},
            headers=headers,
        )
        assert response.status_code == 202
    assert gamify.has_completed("u1", "spend")


def test_raw_stream_entries_with_out_of_bounds_numbers_are_refused() -> None:
    payload = json.dumps(
        {"type": "buy", "entity": "u1", "attributes": {"amount": 1, "items": [2, 1e20]}}
    )
    with pytest.raises(EventError) as info:
        decode_event(payload, "1700000000000-0", 0, EventLimits())
    assert list(info.value.errors) == ["attributes.items[1]"]
    huge = json.dumps(buy(HUGE))
    with pytest.raises(EventError) as info:
        decode_event(huge, "1700000000000-0", 0, EventLimits())
    assert list(info.value.errors) == ["attributes.amount"]


def test_extreme_numbers_within_bounds_are_accepted(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("spend", criteria=SPEND)
    for amount in (5e-324, -5e-324, 2.2250738585072014e-308, 0.1, -MAX_NUMBER, float(MAX_NUMBER)):
        gamify.track("buy", "u1", attributes={"amount": amount})
    assert not gamify.has_completed("u1", "spend")
    gamify.track("buy", "u1", attributes={"amount": MAX_NUMBER})
    gamify.track("buy", "u1", attributes={"amount": 99.9})
    assert gamify.has_completed("u1", "spend")


@pytest.mark.parametrize(
    ("criteria", "path"),
    [
        ({**SPEND, "target": HUGE}, "criteria.target"),
        ({**SPEND, "target": 1e16}, "criteria.target"),
        ({"type": "count", "event": "buy", "target": MAX_NUMBER + 1}, "criteria.target"),
        ({"type": "streak", "event": "buy", "target": 10**5000}, "criteria.target"),
        ({**SPEND, "where": {"amount": {"gte": HUGE}}}, "criteria.where.amount"),
        ({**SPEND, "where": {"amount": {"in": [1, -1e17]}}}, "criteria.where.amount"),
        ({**SPEND, "where": {"meta": {"eq": {"a": [10**5000]}}}}, "criteria.where.meta"),
        ({**SPEND, "where": {"amount": float("nan")}}, "criteria.where.amount"),
        (
            {"type": "all_of", "event": "buy", "field": "sku", "values": [1, MAX_NUMBER + 1]},
            "criteria.values",
        ),
        (
            {
                "type": "any",
                "of": [{"type": "distinct", "event": "b", "field": "f", "target": HUGE}],
            },
            "criteria.of[0].target",
        ),
    ],
)
def test_criteria_refuse_numbers_beyond_the_bound(criteria: dict[str, Any], path: str) -> None:
    with pytest.raises(CriteriaError) as info:
        compile_criteria(criteria)
    assert list(info.value.errors) == [path]
    message = info.value.errors[path][0]
    assert str(MAX_NUMBER) in message or "finite" in message


def test_criteria_accept_numbers_at_the_bound() -> None:
    compile_criteria({**SPEND, "target": MAX_NUMBER, "where": {"amount": {"gte": -MAX_NUMBER}}})
    compile_criteria({**SPEND, "target": 5e-324})
    compile_criteria({"type": "count", "event": "buy", "target": MAX_NUMBER})


# -- states stay total -------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        Fraction(0),
        Fraction(-1, 10),
        Fraction(10**4299),
        Fraction(-(10**6000) - 1, 3),
        Fraction(1, 10**324),
    ],
    ids=["zero", "tenth", "4300-digits", "6000-digits", "tiny"],
)
def test_exact_numbers_encode_and_decode_whatever_their_size(value: Fraction) -> None:
    text = encode_exact(value)
    assert decode_exact(json.loads(json.dumps(text))) == value


def _apply_all(criteria: dict[str, Any], values: list[Any], batch: int, cap: int | None) -> Any:
    crit = compile_criteria(criteria, max_occurrences=cap)
    context = EvaluationContext(now=NOW)
    state = None
    for start in range(0, len(values), batch):
        events = [
            EventData(f"e{start + i}", "buy", NOW, {"amount": value})
            for i, value in enumerate(values[start : start + batch])
        ]
        state = json.loads(json.dumps(crit.apply(state, events, context)))
    return crit, state, context


def test_a_heavy_sequence_of_extreme_values_keeps_folding() -> None:
    """Max-bound integers, the tiniest floats and mixes: the state stays small and exact."""
    extremes = [MAX_NUMBER, -MAX_NUMBER, 5e-324, 1.7976931348623157e-300, 0.1, 3, -2.5e-10]
    values = [extremes[i % len(extremes)] for i in range(7000)] + [MAX_NUMBER] * 3000
    crit, state, context = _apply_all(SPEND, values, 250, None)
    expected = sum((decode_exact(encode_exact(Fraction(repr(v)))) for v in values), Fraction(0))
    assert decode_exact(state["total"]) == expected
    # A sum of bounded values: denominators divide 10**324, numerators grow with log(n).
    assert len(json.dumps(state)) < 800
    evaluation = crit.evaluate(state, context)
    assert evaluation.completed
    json.dumps(evaluation.to_dict())

    windowed = {**SPEND, "window": "1h", "target": MAX_NUMBER}
    crit, state, context = _apply_all(windowed, values[6000:8000], 200, 1)
    assert crit.evaluate(state, context).completed
    json.dumps(crit.evaluate(state, context).to_dict())


def test_a_stored_state_beyond_the_digit_limit_still_takes_later_events(
    app: Flask, gamify: Gamify
) -> None:
    """States written before the bound existed (a 4,300-digit total) stay usable."""
    gamify.define_goal("spend", criteria=SPEND, repeatable=True, max_awards=3)
    gamify.define_goal("debt", criteria={**SPEND, "event": "refund"})
    gamify.track("buy", "u1", attributes={"amount": 1})
    gamify.track("refund", "u1", attributes={"amount": 1})
    state = app.extensions["gamify"]
    with state.transaction() as session:
        session.execute(update(Progress).values(state={"total": "-" + "9" * 4300}))
    for _ in range(3):
        gamify.track("buy", "u1", attributes={"amount": -MAX_NUMBER})
        gamify.track("refund", "u1", attributes={"amount": -MAX_NUMBER})
    view = gamify.progress("u1", "spend")
    assert view.current == -MAX_NUMBER and view.percent == 0
    gamify.track("buy", "u1", attributes={"amount": 5})
    assert not gamify.has_completed("u1", "spend")


@pytest.mark.parametrize("window", [None, "1h"])
def test_a_total_far_below_zero_is_reported_at_the_bound(window: str | None) -> None:
    """Whole amounts add up as integers; a total beyond the bound below zero is still
    reported as ``-(2**53 - 1)``, a number every JSON parser reads."""
    criterion = compile_criteria({**SPEND, **({"window": window} if window else {})})
    start = datetime(2026, 1, 1, tzinfo=UTC)
    events = [
        EventData(f"e{i}", "buy", start.replace(second=i), {"amount": -MAX_NUMBER})
        for i in range(3)
    ]
    context = EvaluationContext(now=start.replace(second=5))
    evaluation = criterion.evaluate(criterion.apply(None, events, context), context)
    assert evaluation.current == -MAX_NUMBER
    assert (evaluation.percent, evaluation.completed) == (0, False)
