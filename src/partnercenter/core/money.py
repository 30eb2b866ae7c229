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
import re
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

# ISO 4217 currency codes in current use and their minor units (decimal places). Funds, precious
# metals and test codes without minor units (XAU, XDR, XTS, XXX, ...) are not currencies a bill is
# written in and are left out.
MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF"), 0),
    **dict.fromkeys(("UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
    **dict.fromkeys(
        """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN
        BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL
        GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD
        LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN
        PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB
        TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG""".split(),
        2,
    ),
}

# The ledger's accepted range (docs/architecture.md, "Usage ledger"): a line item's amount is at
# most 10^12 in magnitude. Twelve integer digits and 15 places keep every amount inside numeric(38, 15)
# with room for sums, and keep a running total's integer part (money.split) ~9 million maximal rows
# away from a 64-bit overflow.
MAX_AMOUNT = Decimal(10**12)
# Quantities are not money: they may use the whole stored range (below 10^23).
# In CONTEXT: the default context's 28 digits would round it up to 10^23, which numeric(38, 15)
# cannot hold.
MAX_QUANTITY = CONTEXT.subtract(Decimal(10) ** (MAX_DIGITS - SCALE), Decimal(1).scaleb(-SCALE))

# Plain ASCII decimal notation: optional sign, digits with at most one point, optional exponent.
# Python's Decimal() also takes "1_000", non-ASCII digits, "Infinity" and "NaN": all refused here.
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


class InvalidAmount(ValueError):
    pass


def is_currency(code: str) -> bool:
    """An ISO 4217 code this product bills in (upper case)."""
    return code in MINOR_UNITS


def _decimal_from_text(text: str) -> Decimal:
    if not _DECIMAL_TEXT.fullmatch(text):
        if text.lower().lstrip("+-") in ("nan", "snan", "inf", "infinity"):
            raise InvalidAmount(f"{text!r} is not a finite number")
        raise InvalidAmount(f"{text!r} is not a decimal number")
    return Decimal(text)


def parse_ledger_amount(text: str, limit: Decimal = MAX_AMOUNT) -> Decimal:
    """A line item's amount from its text: plain decimal notation, at most 15 places, at most
    ``limit`` in magnitude. Raises :class:`InvalidAmount` with the reason (not the text)."""
    text = text.strip(" \t")
    if not _DECIMAL_TEXT.fullmatch(text):
        raise InvalidAmount("not a decimal number")
    d = Decimal(text)
    # Plain notation with at most SCALE characters after the point cannot have more than SCALE
    # places, so the exponent need not be looked at (``as_tuple`` is the costly part).
    dot = text.find(".")
    if "e" in text or "E" in text or (dot >= 0 and len(text) - dot - 1 > SCALE):
        exp = d.as_tuple().exponent
        if isinstance(exp, int) and exp < -SCALE:
            # More places than we keep would be silently rounded: refuse instead.
            raise InvalidAmount(f"more than {SCALE} decimal places")
    if d.copy_abs() > limit:
        raise InvalidAmount(f"outside the accepted range (at most {limit:f} in magnitude)")
    return d


def parse_quantity(text: str) -> Decimal:
    """A line item's pricing quantity from its text: as :func:`parse_ledger_amount`, over the
    whole stored range (quantities are not money)."""
    return parse_ledger_amount(text, MAX_QUANTITY)


def amount(value: Any) -> Decimal:
    """The one constructor: from str/int/Decimal (never float), at most 15 decimal places."""
    if isinstance(value, float):
        raise InvalidAmount("amounts are never floats")
    if isinstance(value, Decimal):
        d = value
    else:
        d = _decimal_from_text(str(value).strip())
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
_E8 = 10**8
_E15 = 10**15


def split(d: Decimal) -> tuple[int, int, int]:
    scaled_value = d.scaleb(SCALE, CONTEXT)  # exact: 38 digits at most, the context keeps 60
    whole = int(scaled_value)
    if whole != scaled_value:  # more than 15 places: the parts beyond them are dropped (floor)
        units = int(d.to_integral_value(rounding=decimal.ROUND_FLOOR))
        frac = int(CONTEXT.multiply(CONTEXT.subtract(d, Decimal(units)), Decimal(_E15)))
        return units, frac // _E7, frac % _E7
    units, frac = divmod(whole, _E15)  # floor division: units = floor(d), 0 <= frac < 10^15
    hi, lo = divmod(frac, _E7)
    return units, hi, lo


def split_column(text: Any) -> tuple[Any, Any, Any]:
    """pyarrow: :func:`split` of each canonical amount text (:func:`canonical`, at most
    ``SCALE`` places and 18 integer digits) as three int64 arrays, with column kernels."""
    import pyarrow as pa
    import pyarrow.compute as pc

    found = pc.extract_regex(text, r"^(?P<sign>-?)(?P<whole>[0-9]{1,18})(?:\.(?P<frac>[0-9]{1,15}))?$")
    whole = pc.cast(pc.struct_field(found, "whole"), pa.int64())
    frac = pc.cast(pc.utf8_rpad(pc.struct_field(found, "frac"), SCALE, "0"), pa.int64())
    negative = pc.equal(pc.struct_field(found, "sign"), "-")
    borrow = pc.and_(negative, pc.greater(frac, 0))  # -2.25 = -3 + 0.75
    units = pc.if_else(negative, pc.subtract(pc.negate(whole), pc.cast(borrow, pa.int64())), whole)
    frac = pc.if_else(borrow, pc.subtract(_E15, frac), frac)
    hi = pc.divide(frac, _E7)  # integer division of non-negative integers: floor
    return units, hi, pc.subtract(frac, pc.multiply(hi, _E7))


def carried_sql(units: str, hi: str, lo: str) -> tuple[str, str, str]:
    """SQL expressions of the split (:func:`split`) of the amount that integer ``units``, ``hi``
    and ``lo`` stand for when ``hi`` and ``lo`` may have outgrown their ranges (sums of parts, each
    at least 0): ``lo`` carried into ``hi``, ``hi`` into ``units``. A split is unique, so this is
    the split of the exact sum."""
    hi_carried = f"({hi} + ({lo}) / {_E7})"
    return f"({units} + {hi_carried} / {_E8})", f"({hi_carried} % {_E8})", f"(({lo}) % {_E7})"


def canonical_sql(units: str, hi: str, lo: str) -> str:
    """SQLite: an SQL expression of :func:`canonical`'s text of the amount that a split in its
    ranges stands for (:func:`split`; :func:`carried_sql` brings sums of parts into them), with
    integer and text functions only: no Python call per row."""
    frac = f"(({hi}) * {_E7} + ({lo}))"  # 0 <= frac < 10^15
    digits = f"'{'0' * (SCALE - 1)}'"
    below = f"(-({units}) - 1) || '.' || rtrim(substr({digits} || ({_E15} - ({frac})), -{SCALE}), '0')"
    above = f"({units}) || '.' || rtrim(substr({digits} || ({frac}), -{SCALE}), '0')"
    return (
        f"(CASE WHEN ({frac}) = 0 THEN CAST(({units}) AS TEXT) WHEN ({units}) < 0 THEN '-' || {below} ELSE {above} END)"
    )


def split_numeric_sql(column: str) -> tuple[str, str, str]:
    """PostgreSQL: SQL expressions of a ``numeric`` column's (units, hi, lo), exactly what
    :func:`split` gives (numeric arithmetic is exact; no ``%``, a placeholder to the driver)."""
    frac = f"(({column} - floor({column})) * {_E15})::bigint"
    return f"floor({column})::bigint", f"({frac} / {_E7})", f"({frac} - {frac} / {_E7} * {_E7})"


def scaled(units: int, hi: int, lo: int) -> int:
    """The split triple as one integer in units of 10^-15 (exact; Python integers do not overflow)."""
    return units * _E15 + hi * _E7 + lo


def from_scaled(value: int) -> Decimal:
    """An integer in units of 10^-15 as the amount it stands for."""
    return Decimal(value).scaleb(-SCALE, CONTEXT).normalize(CONTEXT) if value else ZERO


def join(units: int | None, hi: int | None, lo: int | None) -> Decimal:
    total = CONTEXT.add(Decimal(units or 0), Decimal(hi or 0).scaleb(-8, CONTEXT))
    total = CONTEXT.add(total, Decimal(lo or 0).scaleb(-15, CONTEXT))
    return total.normalize(CONTEXT) if total else ZERO


# Column-wise amounts (ingestion's block path). Plain decimal text with at most ``SCALE`` places
# whose integer part shows the value is within the limit: valid by construction, so these are
# made canonical with text kernels; every other text is parsed once by parse_ledger_amount.
_PLAIN_COLUMN = {
    MAX_AMOUNT: r"^-?(0|[1-9][0-9]{0,11})(\.[0-9]{1,15})?$",  # below 10^12
    MAX_QUANTITY: r"^-?(0|[1-9][0-9]{0,22})(\.[0-9]{1,15})?$",  # below 10^23
}


class AmountColumn:
    """A column of amounts: ``text`` the canonical texts (:func:`canonical`), ``places`` the
    decimal places of each text as given (a Decimal's exponent, negated: the exponent of a sum of
    them is the smallest), ``decimal`` exact decimal128(38, 15) values; nulls where absent."""

    def __init__(self, text: Any, places: Any) -> None:
        self.text = text
        self.places = places

    @property
    def decimal(self) -> Any:
        import pyarrow as pa
        import pyarrow.compute as pc

        return pc.cast(self.text, pa.decimal128(MAX_DIGITS, SCALE))


def amount_column(texts: Any, limit: Decimal = MAX_AMOUNT, optional: bool = False) -> AmountColumn | None:
    """``texts`` (a pyarrow string array) as amounts, exactly as :func:`parse_ledger_amount` and
    :func:`canonical` take them one by one; None when any text is not a valid amount (or is
    empty, unless ``optional``: an empty text is then no amount)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    present = pc.not_equal(texts, "")
    if not optional and not pc.all(present).as_py():
        return None
    plain = pc.match_substring_regex(texts, _PLAIN_COLUMN[limit])
    text = pc.replace_substring_regex(texts, r"(\.[0-9]*[1-9])0+$", r"\1")
    text = pc.replace_substring_regex(text, r"\.0*$", "")
    text = pc.if_else(pc.equal(text, "-0"), "0", text)
    dot = pc.find_substring(texts, ".")
    places = pc.if_else(pc.less(dot, 0), 0, pc.subtract(pc.subtract(pc.utf8_length(texts), dot), 1))
    other = pc.and_(present, pc.invert(plain))
    if pc.any(other).as_py():
        found = _amounts_one_by_one(pc.filter(texts, other).to_pylist(), limit)
        if found is None:
            return None
        text = pc.replace_with_mask(text, other, pa.array([t for t, _ in found], pa.string()))
        places = pc.replace_with_mask(places, other, pa.array([p for _, p in found], places.type))
    null = pa.scalar(None, pa.string())
    return AmountColumn(pc.if_else(present, text, null), pc.if_else(present, places, pa.scalar(None, places.type)))


def _amounts_one_by_one(texts: list[str], limit: Decimal) -> list[tuple[str, int]] | None:
    found: dict[str, tuple[str, int]] = {}
    for t in texts:
        if t not in found:
            try:
                d = parse_ledger_amount(t, limit)
            except InvalidAmount:
                return None
            exponent = d.as_tuple().exponent
            assert isinstance(exponent, int)
            found[t] = (canonical(d), -exponent)
    return [found[t] for t in texts]


def with_places(value: Decimal, places: int) -> Decimal:
    """An exact sum given the exponent that adding the amounts one by one would have given it
    (``-places``): the report's totals print amounts with the places they arrived with."""
    return value.quantize(Decimal(1).scaleb(-places), context=CONTEXT)
