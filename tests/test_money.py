"""Exact money: the amount() constructor, ExactDecimalField storage and ExactSum on both engines."""

from __future__ import annotations

import datetime as dt
import decimal
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partnercenter.core.money import (
    CONTEXT,
    MINOR_UNITS,
    ExactSum,
    InvalidAmount,
    amount,
    canonical,
    canonical_sql,
    carried_sql,
    from_scaled,
    is_currency,
    parse_ledger_amount,
    round_minor,
    scaled,
    split,
    split_column,
    to_str,
)
from partnercenter.usage.models import DailyRollup

DB_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Any amount the product stores: up to 15 decimal places, magnitude up to 10^12, each element with
# its own number of places so that a list mixes scales.
amounts = st.integers(min_value=0, max_value=15).flatmap(
    lambda places: st.decimals(
        min_value=-(10**12), max_value=10**12, places=places, allow_nan=False, allow_infinity=False
    )
)


def exact_sum(values: list[Decimal]) -> Decimal:
    """Python's decimal sum with precision to spare (the default 28 digits would round)."""
    with decimal.localcontext() as ctx:
        ctx.prec = 80
        ctx.traps[decimal.Inexact] = True
        return sum(values, Decimal(0))


# --- amount(), canonical(), round_minor() -------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0", Decimal(0)),
        ("12.5", Decimal("12.5")),
        (" -0.000000000000001 ", Decimal("-0.000000000000001")),
        ("999999999999999999999.999999999999999", Decimal("999999999999999999999.999999999999999")),
        (7, Decimal(7)),
        (Decimal("1.10"), Decimal("1.10")),
    ],
)
def test_amount_accepts(text, expected):
    value = amount(text)
    assert isinstance(value, Decimal)
    assert value == expected
    # The constructor keeps the precision it is given (no quantizing, no rounding).
    assert value.as_tuple() == expected.as_tuple()


@pytest.mark.parametrize(
    "value, message",
    [
        (0.1, "never floats"),
        ("0.0000000000000001", "more than 15 decimal places"),
        ("1E+23", "too large"),
        ("abc", "not a decimal number"),
        ("", "not a decimal number"),
        ("NaN", "not a finite number"),
        ("-Infinity", "not a finite number"),
        (Decimal("sNaN"), "not a finite number"),
    ],
)
def test_amount_refuses(value, message):
    with pytest.raises(InvalidAmount, match=message):
        amount(value)


@pytest.mark.parametrize(
    "value, text",
    [
        (Decimal("-0"), "0"),
        (Decimal("0E-15"), "0"),
        (Decimal("1.500"), "1.5"),
        (Decimal("1E+3"), "1000"),
        (Decimal("-0.000000000000001"), "-0.000000000000001"),
        (Decimal("123456789012.123456789012345"), "123456789012.123456789012345"),
    ],
)
def test_canonical(value, text):
    assert canonical(value) == text
    assert Decimal(canonical(value)) == value


def test_to_str_is_fixed_point_and_keeps_scale():
    assert to_str(Decimal("1E+3")) == "1000"
    assert to_str(Decimal("1.10")) == "1.10"
    assert to_str(Decimal("1E-15")) == "0.000000000000001"


@pytest.mark.parametrize(
    "value, currency, expected",
    [
        ("0.125", "CNY", "0.13"),
        ("-0.125", "USD", "-0.13"),
        ("0.124999999999999", "USD", "0.12"),
        ("2.5", "JPY", "3"),
        ("1.005", "eur", "1.01"),
        ("10", "XXX", "10.00"),  # unknown currencies: two places
    ],
)
def test_round_minor_is_half_up(value, currency, expected):
    rounded = round_minor(Decimal(value), currency)
    assert rounded == Decimal(expected)
    assert str(rounded) == expected


# --- ExactDecimalField and ExactSum in the database ----------------------------------------------


def _rollups(org, values: list[Decimal], *, currency: str = "USD") -> list[DailyRollup]:
    customer = org.customers["a1"]
    return DailyRollup.objects.bulk_create(
        [
            DailyRollup(
                day=dt.date(2026, 3, 1),
                customer=customer,
                partner=org.partners["sp-a"],
                association_type="reseller",
                service_name=f"svc-{i}",  # distinct rollup keys
                service_type="cloud",
                region_id="",
                x_project="",
                x_billing_mode="pay_per_use",
                classification="expenditure",
                currency=currency,
                amount=v,
                line_count=1,
            )
            for i, v in enumerate(values)
        ]
    )


@pytest.mark.parametrize(
    "value",
    [
        "0",
        "-0",
        "0.000000000000001",
        "-0.000000000000001",
        "12.340000000000000",
        "99999999999999999999999.999999999999999",  # 38 digits: the full numeric(38, 15)
        "-99999999999999999999999.999999999999999",
        "1E+22",
    ],
)
def test_exact_decimal_field_round_trip_edges(org, value):
    (row,) = _rollups(org, [Decimal(value)])
    back = DailyRollup.objects.get(pk=row.pk).amount
    assert isinstance(back, Decimal)
    assert back == Decimal(value)
    assert DailyRollup.objects.filter(amount=Decimal(value)).count() == 1


@DB_SETTINGS
@given(value=amounts)
def test_exact_decimal_field_round_trip(org, value):
    DailyRollup.objects.all().delete()
    (row,) = _rollups(org, [value])
    back = DailyRollup.objects.values_list("amount", flat=True).get(pk=row.pk)
    assert isinstance(back, Decimal)
    assert back == value


@DB_SETTINGS
@given(values=st.lists(amounts, max_size=30))
def test_exact_sum_equals_python_decimal_sum(org, values):
    DailyRollup.objects.all().delete()
    _rollups(org, values)
    total = DailyRollup.objects.aggregate(t=ExactSum("amount"))["t"]
    assert isinstance(total, Decimal)
    assert total == exact_sum(values)


@DB_SETTINGS
@given(usd=st.lists(amounts, max_size=15), cny=st.lists(amounts, max_size=15))
def test_exact_sum_grouped(org, usd, cny):
    DailyRollup.objects.all().delete()
    _rollups(org, usd, currency="USD")
    _rollups(org, cny, currency="CNY")
    grouped = {
        r["currency"]: r["t"] for r in DailyRollup.objects.values("currency").annotate(t=ExactSum("amount")).order_by()
    }
    expected = {cur: exact_sum(vals) for cur, vals in (("USD", usd), ("CNY", cny)) if vals}
    assert grouped == expected


def test_exact_sum_beyond_28_digits(org):
    # 20 × 999999999999.999999999999999 has 29 significant digits: a float or a default-precision
    # decimal sum would round it.
    values = [Decimal("999999999999.999999999999999")] * 20
    _rollups(org, values)
    total = DailyRollup.objects.aggregate(t=ExactSum("amount"))["t"]
    assert total == Decimal("19999999999999.999999999999980")
    assert sum(values) != total  # default context (28 digits) rounds: the check has teeth
    assert float(total) == 2e13  # and so does a float


def test_exact_sum_of_tiny_and_huge(org):
    values = [Decimal("100000000000"), Decimal("0.000000000000001"), Decimal("-100000000000")]
    _rollups(org, values)
    assert DailyRollup.objects.aggregate(t=ExactSum("amount"))["t"] == Decimal("0.000000000000001")


def test_exact_sum_of_nothing_is_zero(db):
    total = DailyRollup.objects.aggregate(t=ExactSum("amount"))["t"]
    assert total == Decimal(0)
    assert isinstance(total, Decimal)


def test_context_does_not_round_sums():
    a, b = Decimal("99999999999999999999999.999999999999999"), Decimal("0.000000000000001")
    assert CONTEXT.add(a, b) == Decimal("100000000000000000000000")


@pytest.mark.parametrize("value", ["1000", "1E+3", "1000.000", "-2500.50", "0.000000000000001", "12.340", "1E+22"])
def test_read_back_in_the_same_form_on_every_engine(org, value):
    """Reads give the canonical Decimal on both engines (fixed point, no trailing zeros, no
    positive exponent), so str() and JSON show the same text whatever the database."""
    (row,) = _rollups(org, [Decimal(value)])
    back = DailyRollup.objects.get(pk=row.pk).amount
    assert back.as_tuple() == Decimal(canonical(Decimal(value))).as_tuple()
    assert "E+" not in str(back)


def test_sums_come_back_in_the_same_form_on_every_engine(org):
    _rollups(org, [Decimal("1000.25"), Decimal("-0.250"), Decimal("0.000")])
    total = DailyRollup.objects.aggregate(t=ExactSum("amount"))["t"]
    assert total == Decimal(1000)
    assert str(total) == "1000"


# --- the ledger's accepted amounts and currencies -------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1000000000000", Decimal("1000000000000")),
        ("-1000000000000.000000000000000", Decimal("-1000000000000")),
        ("999999999999.999999999999999", Decimal("999999999999.999999999999999")),
        (" 1.5\t", Decimal("1.5")),
        ("+2", Decimal(2)),
        ("1E+3", Decimal(1000)),
        (".5", Decimal("0.5")),
        ("5.", Decimal(5)),
    ],
)
def test_parse_ledger_amount_accepts(text, expected):
    assert parse_ledger_amount(text) == expected


@pytest.mark.parametrize(
    "text, reason",
    [
        ("1000000000000.000000000000001", "outside the accepted range"),
        ("1e13", "outside the accepted range"),
        ("9300000000000000000", "outside the accepted range"),
        ("1_000.00", "not a decimal number"),
        ("١٢٣", "not a decimal number"),
        ("1,5", "not a decimal number"),
        ("NaN", "not a decimal number"),
        ("", "not a decimal number"),
        ("1.0000000000000001", "more than 15 decimal places"),
    ],
)
def test_parse_ledger_amount_refuses(text, reason):
    with pytest.raises(InvalidAmount, match=reason):
        parse_ledger_amount(text)


@pytest.mark.parametrize("text", ["1_000", "١٢٣", "１２", "0x10"])
def test_amount_refuses_loose_text(text):
    with pytest.raises(InvalidAmount, match="not a decimal number"):
        amount(text)


def test_iso_4217_table():
    assert (MINOR_UNITS["USD"], MINOR_UNITS["CNY"], MINOR_UNITS["JPY"], MINOR_UNITS["KWD"], MINOR_UNITS["CLF"]) == (
        2,
        2,
        0,
        3,
        4,
    )
    assert all(len(c) == 3 and c.isupper() and c.isascii() for c in MINOR_UNITS)
    assert not is_currency("XYZ") and not is_currency("XXX") and not is_currency("usd")
    assert round_minor(Decimal("2.5"), "KRW") == Decimal(3)
    assert round_minor(Decimal("1.0005"), "BHD") == Decimal("1.001")


@settings(max_examples=200, deadline=None)
@given(values=st.lists(amounts, min_size=1, max_size=20))
def test_scaled_integers_add_exactly_and_come_back_as_the_decimal_sum(values):
    # The expenditure summary adds split triples as integers in units of 10^-15, then converts once.
    total = sum(scaled(*split(v)) for v in values)
    assert from_scaled(total) == exact_sum(values)
    assert from_scaled(scaled(*split(values[0]))) == values[0]


def test_from_scaled_edges():
    assert from_scaled(0) == 0
    assert str(from_scaled(1)) == "1E-15"
    assert from_scaled(-1_500_000_000_000_000) == Decimal("-1.5")
    assert from_scaled(10**27) == Decimal(10**12)
    assert scaled(*split(Decimal("-0.000000000000001"))) == -1


@settings(max_examples=300, deadline=None)
@given(
    d=st.builds(
        lambda digits, places: Decimal(digits).scaleb(-places),
        st.integers(-(10**38) + 1, 10**38 - 1),
        st.integers(-3, 20),
    )
)
def test_split_is_the_floor_and_the_fraction_in_15_places(d):
    # Its definition, on any decimal: places beyond 15 are dropped toward the floor.
    units = int(d.to_integral_value(rounding="ROUND_FLOOR"))
    wide = decimal.Context(prec=80)
    frac = int(
        wide.multiply(wide.subtract(d, Decimal(units)), Decimal(10**15)).to_integral_value(rounding="ROUND_FLOOR")
    )
    assert split(d) == (units, frac // 10**7, frac % 10**7)
    assert split(Decimal("-0")) == (0, 0, 0) and split(Decimal("-1E-16")) == (-1, 99999999, 9999999)


@pytest.mark.django_db
@settings(max_examples=150, deadline=None)
@given(values=st.lists(amounts, min_size=1, max_size=30))
def test_sqlite_canonical_text_of_summed_parts_is_the_canonical_sum(values):
    """Ingestion's rollups on SQLite: split parts summed by SQL's integer SUM, carried back into
    their ranges (carried_sql: the split of the sum) and written as canonical text in SQL."""
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's expressions")
    units, hi, lo = carried_sql("SUM(units)", "SUM(hi)", "SUM(lo)")
    with connection.cursor() as cur:
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS t_parts (units, hi, lo)")
        cur.execute("DELETE FROM t_parts")
        cur.executemany("INSERT INTO t_parts VALUES (%s, %s, %s)", [split(v) for v in values])
        cur.execute(f"SELECT {units}, {hi}, {lo} FROM t_parts")  # noqa: S608
        carried = cur.fetchone()
        cur.execute(f"SELECT {canonical_sql('u', 'h', 'l')} FROM (SELECT {units} u, {hi} h, {lo} l FROM t_parts)")  # noqa: S608
        (text,) = cur.fetchone()
    total = exact_sum(values)
    assert carried == split(total)
    assert text == canonical(total)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "text", ["0", "7", "-7", "0.5", "-0.5", "-0.000000000000001", "999999999999.999999999999999", "-1000000000000"]
)
def test_sqlite_canonical_text_at_the_edges(text):
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's expression")
    units, hi, lo = split(Decimal(text))
    with connection.cursor() as cur:
        cur.execute(f"SELECT {canonical_sql(str(units), str(hi), str(lo))}")  # noqa: S608
        assert cur.fetchone() == (text,)


@settings(max_examples=100, deadline=None)
@given(values=st.lists(amounts, min_size=1, max_size=40))
def test_split_column_is_split_of_each_canonical_text(values):
    """Ingestion's block path on SQLite splits a column of stored texts with pyarrow kernels."""
    import pyarrow as pa

    edges = [Decimal("-0.000000000000001"), Decimal("0.000000000000001"), Decimal("-999999999999.999999999999999")]
    texts = [canonical(v) for v in [*values, *edges]]
    columns = split_column(pa.array(texts, pa.string()))
    assert list(zip(*(c.to_pylist() for c in columns), strict=True)) == [split(Decimal(t)) for t in texts]
