"""Exact money.

Amounts are :class:`decimal.Decimal`, never float. Line items keep the precision they arrive
with (provider data carries up to 15 decimal places); rounding to a currency's minor unit
happens only at the named points below, always with :data:`ROUNDING` (half-up, the
commercial rule in both CNY and USD invoicing).

Storage (see docs/architecture.md, "Exact amounts"): :class:`ExactDecimalField` is
``numeric(38, 15)`` on PostgreSQL and canonical decimal TEXT on SQLite, where a plain
DecimalField would be stored and summed as a binary float. Sums go through :class:`ExactSum`:
PostgreSQL's numeric SUM, or on SQLite the ``exact_sum`` aggregate that this module registers
on every connection (it adds ``Decimal`` values in Python).
"""

from __future__ import annotations

import decimal
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import models
from django.db.backends.signals import connection_created
from django.dispatch import receiver

SCALE = 15  # decimal places kept
MAX_DIGITS = 38
ROUNDING = ROUND_HALF_UP
ZERO = Decimal(0)

# Enough precision that no sum of stored amounts is ever rounded by the context.
CONTEXT = decimal.Context(prec=60, rounding=ROUNDING, traps=[decimal.InvalidOperation, decimal.Overflow])
_QUANT = Decimal(1).scaleb(-SCALE)
_ONE = Decimal(1)
MINOR_UNITS = {"CNY": 2, "USD": 2, "EUR": 2, "JPY": 0, "HKD": 2, "SGD": 2, "GBP": 2}


class InvalidAmount(ValueError):
    pass


def amount(value: Any) -> Decimal:
    """The one constructor: from str/int/Decimal (never float), at most 15 decimal places."""
    if isinstance(value, float):
        raise InvalidAmount("amounts are never floats")
    if isinstance(value, Decimal):
        d = value
    else:
        text = str(value).strip()
        try:
            d = Decimal(text)
        except decimal.InvalidOperation:
            raise InvalidAmount(f"{text!r} is not a decimal number") from None
    if not d.is_finite():
        raise InvalidAmount(f"{value!r} is not a finite number")
    exponent = d.as_tuple().exponent
    assert isinstance(exponent, int)
    if exponent < -SCALE:
        raise InvalidAmount(f"{value!r} has more than {SCALE} decimal places")
    if d.adjusted() >= MAX_DIGITS - SCALE:
        raise InvalidAmount(f"{value!r} is too large")
    return d


def to_str(d: Decimal) -> str:
    """Exact fixed-point text, no exponent, no trailing zeros beyond the value's own scale."""
    return format(d, "f")


def canonical(d: Decimal) -> str:
    """The text stored on SQLite: fixed point, trailing zeros dropped, ``-0`` as ``0``."""
    if d == 0:
        return "0"
    text = format(d.normalize(CONTEXT), "f")
    return text


def round_minor(d: Decimal, currency: str) -> Decimal:
    """Round to the currency's minor unit with :data:`ROUNDING`. Display and documented points only."""
    places = MINOR_UNITS.get(currency.upper(), 2)
    return d.quantize(Decimal(1).scaleb(-places), rounding=ROUNDING)


class ExactDecimalField(models.Field):
    """An exact decimal on both engines (see module docstring)."""

    description = "Exact decimal amount"

    def db_type(self, connection: Any) -> str:
        if connection.vendor == "postgresql":
            return f"numeric({MAX_DIGITS}, {SCALE})"
        return "text"

    def get_internal_type(self) -> str:
        return "ExactDecimalField"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, Decimal):
            if value == 0:
                return ZERO
            d = value.normalize(CONTEXT)
            exponent = d.as_tuple().exponent
            # normalize() writes 1000 as 1E+3: keep it fixed point, as canonical() stores it on SQLite.
            return d.quantize(_ONE, context=CONTEXT) if isinstance(exponent, int) and exponent > 0 else d
        return Decimal(value)

    def to_python(self, value: Any) -> Decimal | None:
        if value is None or isinstance(value, Decimal):
            return value
        return amount(value)

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if value is None:
            return None
        d = value if isinstance(value, Decimal) else amount(value)
        if connection.vendor == "postgresql":
            return d
        return canonical(d)


class ExactSum(models.Aggregate):
    """SUM that is exact on both engines; returns a Decimal (0 for no rows)."""

    function = "SUM"
    name = "ExactSum"
    output_field = ExactDecimalField()  # type: ignore[assignment]
    empty_result_set_value = "0"  # type: ignore[assignment]

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, function="exact_sum", **extra)

    def convert_value(self, value: Any, expression: Any, connection: Any) -> Decimal:
        if value is None:
            return ZERO
        return value if isinstance(value, Decimal) else Decimal(value)


class _SqliteExactSum:
    def __init__(self) -> None:
        self.total = ZERO
        self.seen = False

    def step(self, value: Any) -> None:
        if value is None:
            return
        self.seen = True
        self.total = CONTEXT.add(self.total, Decimal(value) if not isinstance(value, int) else Decimal(value))

    def finalize(self) -> str | None:
        return canonical(self.total) if self.seen else None


def _sqlite_exact_add(a: Any, b: Any) -> str | None:
    if a is None:
        return None if b is None else canonical(Decimal(b))
    if b is None:
        return canonical(Decimal(a))
    return canonical(CONTEXT.add(Decimal(a), Decimal(b)))


@receiver(connection_created)
def _register_sqlite_functions(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor != "sqlite":
        return
    raw = connection.connection
    raw.create_aggregate("exact_sum", 1, _SqliteExactSum)
    raw.create_function("exact_add", 2, _sqlite_exact_add, deterministic=True)


# --------------------------------------------------------------------------------------------
# Split amounts: exact sums in plain SQL integers on both engines.
#
# Summary tables that pages aggregate on every request store an amount as three integers
#   amount = units + hi * 10^-8 + lo * 10^-15,   units = floor(amount), 0 <= hi < 10^8, 0 <= lo < 10^7
# Adding amounts adds the three parts independently, so SUM() in the database is exact, runs
# in C on SQLite as well as PostgreSQL, and cannot overflow before ~10^10 rows.
# --------------------------------------------------------------------------------------------

_E7 = 10**7
_E15 = 10**15


def split(d: Decimal) -> tuple[int, int, int]:
    units = int(d.to_integral_value(rounding=decimal.ROUND_FLOOR))
    frac = int(CONTEXT.multiply(CONTEXT.subtract(d, Decimal(units)), Decimal(_E15)))
    return units, frac // _E7, frac % _E7


def join(units: int | None, hi: int | None, lo: int | None) -> Decimal:
    total = CONTEXT.add(Decimal(units or 0), Decimal(hi or 0).scaleb(-8, CONTEXT))
    total = CONTEXT.add(total, Decimal(lo or 0).scaleb(-15, CONTEXT))
    return total.normalize(CONTEXT) if total else ZERO
