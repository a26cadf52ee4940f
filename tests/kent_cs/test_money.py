"""The money helper: half-up cents, no floats, amounts as people type them, exact splits."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kent_cs.money import MoneyError, parse_money, split_by_weights, to_money


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("2.345"), Decimal("2.35")),  # half-up, not banker's rounding (2.34)
        (Decimal("2.335"), Decimal("2.34")),
        (Decimal("2.3449"), Decimal("2.34")),
        (Decimal("-2.345"), Decimal("-2.35")),  # away from zero for negatives
        (Decimal("0.005"), Decimal("0.01")),
        (Decimal("0.0049"), Decimal("0.00")),
        ("19.999", Decimal("20.00")),
        (" 7.5 ", Decimal("7.50")),
        (12, Decimal("12.00")),
    ],
)
def test_to_money_rounds_half_up_to_the_cent(value, expected):
    result = to_money(value)
    assert result == expected
    assert result.as_tuple().exponent == -2


@pytest.mark.parametrize("value", [0.1, 1.0, float("nan")])
def test_to_money_refuses_floats(value):
    with pytest.raises(MoneyError, match="float"):
        to_money(value)


@pytest.mark.parametrize("value", [True, "abc", "", "NaN", "Infinity", Decimal("Infinity")])
def test_to_money_refuses_what_is_not_an_amount(value):
    with pytest.raises(MoneyError):
        to_money(value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$1,234.50", Decimal("1234.50")),
        ("1234.5", Decimal("1234.50")),
        ("(12.00)", Decimal("-12.00")),
        ("($1,000.005)", Decimal("-1000.01")),
        ("-3", Decimal("-3.00")),
        ("  $ 42 ", Decimal("42.00")),
        ("0", Decimal("0.00")),
    ],
)
def test_parse_money_reads_amounts_as_people_type_them(text, expected):
    assert parse_money(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "$", "()", "12..5", "twelve", "1.2.3"])
def test_parse_money_refuses_what_is_not_an_amount(text):
    with pytest.raises(MoneyError):
        parse_money(text)


def test_parse_money_asks_for_an_amount_when_empty():
    with pytest.raises(MoneyError, match="Enter an amount"):
        parse_money(" $ ")


def test_split_three_ways_adds_up_to_the_cent():
    parts = split_by_weights(Decimal("100.00"), [Decimal("33.3333")] * 3)
    assert sum(parts) == Decimal("100.00")
    assert sorted(parts) == [Decimal("33.33"), Decimal("33.33"), Decimal("33.34")]


def test_split_of_a_few_cents_between_many_never_goes_negative():
    # Rounding each of four 0.005 shares up and taking the excess off one part used to
    # leave that part at -0.01.
    parts = split_by_weights(Decimal("0.02"), [Decimal(1)] * 4)
    assert sum(parts) == Decimal("0.02")
    assert all(part >= 0 for part in parts)
    assert sorted(parts) == [Decimal("0.00"), Decimal("0.00"), Decimal("0.01"), Decimal("0.01")]


def test_split_of_a_negative_total_mirrors_the_positive():
    weights = [Decimal("50"), Decimal("30"), Decimal("20")]
    positive = split_by_weights(Decimal("10.01"), weights)
    negative = split_by_weights(Decimal("-10.01"), weights)
    assert negative == [-part for part in positive]
    assert sum(negative) == Decimal("-10.01")


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ([], "Nothing to split"),
        ([Decimal(0), Decimal(0)], "more than zero"),
        ([Decimal(2), Decimal(-1)], "must not be negative"),
    ],
)
def test_split_refuses_bad_weights(weights, message):
    with pytest.raises(MoneyError, match=message):
        split_by_weights(Decimal("10.00"), weights)


cents = st.integers(min_value=-(10**12), max_value=10**12).map(lambda c: Decimal(c) / 100)
weights_strategy = st.lists(
    st.decimals(min_value=0, max_value=1000, places=4, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=12,
).filter(lambda ws: sum(ws) > 0)


@given(total=cents, weights=weights_strategy)
def test_split_never_creates_or_loses_a_cent(total, weights):
    parts = split_by_weights(total, weights)
    assert len(parts) == len(weights)
    assert sum(parts, Decimal("0.00")) == total
    weight_sum = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        assert part.as_tuple().exponent == -2
        exact = total * weight / weight_sum
        assert abs(part - exact) < Decimal("0.01")  # each part within a cent of its share
        if total >= 0:
            assert part >= 0
        else:
            assert part <= 0
