"""Incentives from the ledger (I1): which line items are eligible, the tier the whole period
reaches, product-type rates, one line per customer and order rounded half-up once, clawbacks of
refunds on orders rewarded in an earlier period, enrolment windows, and program definitions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from partnercenter.accounts.models import AuditEntry
from partnercenter.core import clock
from partnercenter.core.errors import Conflict, ValidationFailed
from partnercenter.incentives import calculation, programs, services
from partnercenter.incentives.calculation import RateRow
from partnercenter.incentives.models import Enrolment, Incentive, Program, Rate, Transition
from partnercenter.incentives.programs import RateSpec
from tests.incentive_ledger import APRIL, MARCH, SHANGHAI, d, get, ingest, lines, on, program, rec

DUE = dt.datetime(2026, 4, 5, 0, 0, tzinfo=SHANGHAI)
MAY_DUE = dt.datetime(2026, 5, 5, 0, 0, tzinfo=SHANGHAI)

MARCH_RECORDS = [
    rec("M1", "a1", "600", on(5), order="O1"),
    rec("M2", "a1", "200.125", on(6), order="O1"),
    rec("M3", "a3", "99.995", on(7), product="Storage", order="O2"),
    rec("M4", "a1", "-50", on(8), order="O3"),  # a refund of an order of this period: netted
    rec("M5", "a1", "200", on(9), order="O4"),
    rec("M6", "a1", "3.25", on(10), charge_category="Tax"),  # tax: never eligible
    rec("M7", "a3", "-1.25", on(11), charge_category="Credit"),  # an adjustment: never eligible
    rec("M8", "a2", "999", on(12)),  # sp-a's referral customer: not a reseller charge
    rec("M9", "a3", "50", on(13), product="Security", service_type="marketplace", service_name="App"),
    rec("M10", "a1", "70", on(14), currency="CNY"),  # another currency
    rec("M11", "b1", "101.5", on(15), order="O5"),
    rec("M12", "r1", "5", on(16)),  # the referral partner's customer
    rec("M13", "a1", "7", on(31, hour=23, minute=59, second=59), order="O4"),  # March's last second
    rec("A1", "a1", "11", on(1, month=4, hour=0)),  # April's first second: not March's
]

APRIL_RECORDS = [
    rec("A2", "a1", "-100", on(10, 4), order="O1"),  # refund of an order rewarded in March
    rec("A3", "a1", "300", on(11, 4), order="O6"),
    rec("A4", "a3", "-20", on(12, 4), product="Storage", order="O2"),  # also rewarded in March
    rec("A5", "b1", "-10", on(13, 4), order="O7"),  # sp-b's April is negative: no earning
]


def _programs() -> None:
    program(
        "cloud",
        [
            RateSpec("0.03"),
            RateSpec("0.05", min_base="1000"),
            RateSpec("0.02", product_type="Storage"),
        ],
        service_types=["cloud"],
    )
    program("compute-only", [RateSpec("0.01")], product_types=["Compute"], partner_kinds=[], partner_codes=["sp-a"])
    program("referral", [RateSpec("0.1")], association_type="referral", partner_kinds=["referral"])


@pytest.fixture
def march(org):
    _programs()
    ingest(MARCH_RECORDS, on(2, month=4))
    return org


def test_the_one_rounding_point_is_half_up_at_the_half_cent():
    assert calculation.line_amount(d("40.5"), d("0.05"), "USD") == d("2.03")  # 2.025; half-even would give 2.02
    assert calculation.line_amount(d("-40.5"), d("0.05"), "USD") == d("-2.03")
    assert calculation.line_amount(d("40.49"), d("0.05"), "USD") == d("2.02")  # 2.0245
    assert calculation.line_amount(d("1234.5"), d("0.03"), "JPY") == d("37")  # 37.035, no minor unit
    assert calculation.incentive_amount([d("0.01"), d("0.015"), d("-0.005")]) == d("0.020")


def test_choose_rate_takes_the_highest_tier_reached_and_falls_back_to_every_product():
    rates = [RateRow("", d(0), d("0.03")), RateRow("", d(1000), d("0.05")), RateRow("Storage", d(500), d("0.02"))]
    assert calculation.choose_rate(rates, "Compute", d("999.99")) == d("0.03")
    assert calculation.choose_rate(rates, "Compute", d("1000")) == d("0.05")
    assert calculation.choose_rate(rates, "Storage", d("1000")) == d("0.02")
    assert calculation.choose_rate(rates, "Storage", d("499.99")) is None  # its own tiers only


def test_a_period_is_generated_with_one_line_per_customer_order_and_product_type(march):
    result = services.catch_up(DUE)
    assert result.periods == [
        ("cloud", dt.date(2026, 2, 1)),
        ("compute-only", dt.date(2026, 2, 1)),
        ("referral", dt.date(2026, 2, 1)),
        ("cloud", MARCH),
        ("compute-only", MARCH),
        ("referral", MARCH),
    ]
    assert result.incentives == 4
    sp_a = get("cloud", "sp-a", MARCH)
    # The whole period's base (1057.12) reaches the 5 % tier for every product type without its
    # own rate; Storage has its own 2 %. The March 31 23:59:59 charge is March's, April's first
    # second is not; tax, adjustment, referral, marketplace and CNY charges are not eligible.
    assert lines(sp_a) == [
        ("a1", "O1", "Compute", d("800.125"), d("0.05"), d("40.01")),  # 40.00625
        ("a1", "O3", "Compute", d("-50"), d("0.05"), d("-2.50")),
        ("a1", "O4", "Compute", d("207"), d("0.05"), d("10.35")),
        ("a3", "O2", "Storage", d("99.995"), d("0.02"), d("2.00")),  # 1.9999
    ]
    assert (sp_a.number, sp_a.base_amount, sp_a.amount, sp_a.line_count) == (
        "INC-202603-000001",
        d("1057.12"),
        d("49.86"),
        4,
    )
    assert sum(line.line_item_count for line in sp_a.lines.all()) == 6
    sp_b = get("cloud", "sp-b", MARCH)
    assert lines(sp_b) == [("b1", "O5", "Compute", d("101.5"), d("0.03"), d("3.05"))]  # 3.045 half-up
    assert sp_b.number == "INC-202603-000002"
    compute = get("compute-only", "sp-a", MARCH)
    assert [(r[1], r[5]) for r in lines(compute)] == [("O1", d("8.00")), ("O3", d("-0.50")), ("O4", d("2.07"))]
    assert (compute.number, compute.amount) == ("INC-202603-000003", d("9.57"))
    ref = get("referral", "ref", MARCH)
    assert lines(ref) == [("r1", "", "Compute", d("5"), d("0.1"), d("0.5"))]
    assert (ref.number, ref.association_type) == ("INC-202603-000004", "referral")
    assert Incentive.objects.count() == 4  # nobody else: sp-a is not in the referral program


def test_generated_incentives_are_pending_with_the_deadline_and_one_transition(march):
    services.catch_up(DUE)
    sp_a = get("cloud", "sp-a", MARCH)
    assert sp_a.state == "pending_confirmation"
    assert (sp_a.generated_at, sp_a.deadline) == (DUE, dt.datetime(2026, 4, 16, 0, 0, tzinfo=SHANGHAI))
    assert (sp_a.period_start, sp_a.period_end, sp_a.currency, sp_a.kind) == (MARCH, APRIL, "USD", "earning")
    assert list(Transition.objects.filter(incentive=sp_a).values_list("from_state", "to_state", "at", "actor")) == [
        ("", "pending_confirmation", DUE, None)
    ]
    entry = AuditEntry.objects.get(action="incentives.generate", target=f"cloud {MARCH.isoformat()}")
    assert entry.detail["incentives"] == 2 and entry.detail["clawbacks"] == 0


def test_refunds_of_orders_rewarded_earlier_are_a_clawback_not_netted(march):
    services.catch_up(DUE)
    ingest(APRIL_RECORDS, on(2, month=5))
    result = services.catch_up(MAY_DUE)
    assert result.periods == [("cloud", APRIL), ("compute-only", APRIL), ("referral", APRIL)]
    earning = get("cloud", "sp-a", APRIL)
    # O1's and O2's refunds are taken back at March's rates, not netted into April (311 at 3 %).
    assert lines(earning) == [
        ("a1", "", "Compute", d("11"), d("0.03"), d("0.33")),
        ("a1", "O6", "Compute", d("300"), d("0.03"), d("9.00")),
    ]
    assert (earning.base_amount, earning.amount) == (d("311"), d("9.33"))
    back = get("cloud", "sp-a", APRIL, "clawback")
    assert lines(back) == [
        ("a1", "O1", "Compute", d("-100"), d("0.05"), d("-5.00")),
        ("a3", "O2", "Storage", d("-20"), d("0.02"), d("-0.40")),
    ]
    assert set(back.lines.values_list("corrects_period", flat=True)) == {MARCH}
    assert (back.base_amount, back.amount, back.state) == (d("-120"), d("-5.40"), "pending_confirmation")
    assert get("compute-only", "sp-a", APRIL, "clawback").amount == d("-1.00")
    assert get("compute-only", "sp-a", APRIL).amount == d("3.11")
    # sp-b's April base is -10 (a refund of an April order): no earning, and nothing to claw back.
    assert not Incentive.objects.filter(partner__code="sp-b", period_start=APRIL).exists()
    assert [i.number for i in Incentive.objects.filter(period_start=APRIL).order_by("number")] == [
        "INC-202604-000001",
        "INC-202604-000002",
        "INC-202604-000003",
        "INC-202604-000004",
    ]


def test_enrolment_windows_decide_who_earns_in_a_period(march):
    cloud = Program.objects.get(code="cloud")
    programs.leave(cloud, march.partners["sp-b"], clock.start_of_day(MARCH))  # left as March began
    window = program("window", [RateSpec("0.01")], partner_kinds=[])
    with clock.frozen_at(clock.start_of_day(APRIL)):  # joins as March ends: April on
        programs.enrol(window, ["sp-a"])
    with clock.frozen_at(clock.start_of_day(APRIL) - dt.timedelta(seconds=1)):  # the last second of March
        programs.enrol(window, ["sp-b"])
    services.catch_up(DUE)
    assert not Incentive.objects.filter(program=cloud, partner__code="sp-b").exists()
    assert list(Incentive.objects.filter(program=window).values_list("partner__code", "amount")) == [
        ("sp-b", d("1.02"))  # 101.5 at 1 %: 1.015 half-up
    ]


def test_a_partner_who_left_during_the_period_still_earns_for_it(march):
    programs.leave(Program.objects.get(code="cloud"), march.partners["sp-b"], on(1, hour=0, second=1))
    services.catch_up(DUE)
    assert get("cloud", "sp-b", MARCH).amount == d("3.05")


def test_an_earning_whose_base_is_not_positive_is_not_generated(org):
    program("cloud", [RateSpec("0.03")])
    ingest([rec("N1", "b1", "100", on(3), order="X1"), rec("N2", "b1", "-100", on(4), order="X2")], on(2, month=4))
    assert services.catch_up(DUE).incentives == 0
    assert services.is_generated(Program.objects.get(code="cloud"), MARCH)


def test_estimates_are_the_current_period_so_far_once_a_day(march):
    at = on(20, hour=9)
    result = services.catch_up(at)
    # February is due (and empty); March is the current period.
    assert [p for p, _ in result.periods] == ["cloud", "compute-only", "referral"]
    assert {start for _, start in result.periods} == {dt.date(2026, 2, 1)}
    from partnercenter.incentives.models import Estimate

    rows = {(e.program.code, e.partner.code): (e.base_amount, e.amount) for e in Estimate.objects.all()}
    assert rows[("cloud", "sp-a")] == (d("1057.12"), d("49.86"))
    assert rows[("cloud", "sp-b")] == (d("101.5"), d("3.05"))
    assert rows[("referral", "ref")] == (d("5"), d("0.5"))
    assert result.estimates == len(rows) == 4
    assert services.catch_up(on(20, hour=23, minute=59, second=59)).estimates == 0  # same day
    assert services.refresh_estimates(on(20, hour=23), force=True) == 4
    assert services.catch_up(on(21, hour=0)).estimates == 4  # the next day


def _valid(**changes: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "code": "p1",
        "name": "P1",
        "period": "monthly",
        "currency": "USD",
        "association_type": "reseller",
        "rates": [RateSpec("0.03")],
        "valid_from": dt.date(2026, 1, 1),
    }
    fields.update(changes)
    return fields


@pytest.mark.parametrize(
    ("changes", "field", "why"),
    [
        ({"code": "bad code"}, "code", "letters, digits"),
        ({"currency": "XYZ"}, "currency", "ISO 4217"),
        ({"association_type": "direct"}, "association_type", "must be one of"),
        ({"period": "weekly"}, "period", "must be one of"),
        ({"valid_from": dt.date(2026, 1, 2)}, "valid_from", "first day of a monthly period"),
        ({"period": "quarterly", "valid_from": dt.date(2026, 2, 1)}, "valid_from", "quarterly"),
        ({"valid_to": dt.date(2026, 3, 30)}, "valid_to", "last day"),
        ({"rates": []}, "rates", "at least one rate"),
        ({"rates": [RateSpec("1.5")]}, "rates[0].rate", "fraction"),
        ({"rates": [RateSpec("0.03", min_base="-1")]}, "rates[0].min_base", "negative"),
        ({"rates": [RateSpec("0.03"), RateSpec("0.04")]}, "rates[1]", "a second rate"),
        ({"rates": [RateSpec("x")]}, "rates[0]", "not an amount"),
        ({"rates": [RateSpec("0.03", product_type="Compute")]}, "rates", "every product type"),
        ({"product_types": ["Compute", "Storage"], "rates": [RateSpec("0.03", product_type="Compute")]}, "rates",
         "Storage"),
        ({"service_types": ["cloud", "hardware"]}, "service_types", "hardware"),
        ({"partner_codes": ["sp-a", "nobody"]}, "partner_codes", "nobody"),
        ({"partner_kinds": ["vendor"]}, "partner_kinds", "vendor"),
    ],
)  # fmt: skip
def test_a_bad_program_names_the_field_and_changes_nothing(org, changes, field, why):
    with pytest.raises(ValidationFailed) as caught:
        programs.create_program(**_valid(**changes))  # type: ignore[arg-type]
    assert why in caught.value.details[field]
    assert not Program.objects.exists() and not Rate.objects.exists() and not Enrolment.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="incentives.").exists()


def test_a_program_enrols_partners_by_code_and_kind_and_is_audited(org):
    with clock.frozen_at(on(1)):
        p = programs.create_program(**_valid(partner_codes=["dist", "sp-a"], partner_kinds=["solution_provider"]))
    enrolled = sorted(Enrolment.objects.filter(program=p).values_list("partner__code", "joined_at"))
    assert enrolled == [("dist", on(1)), ("sp-a", on(1)), ("sp-b", on(1))]
    entry = AuditEntry.objects.get(action="incentives.create_program")
    assert entry.detail == {"rates": [["", "0", "0.03"]], "partners": ["dist", "sp-a", "sp-b"]}
    with pytest.raises(ValidationFailed):
        programs.create_program(**_valid())  # the code is taken
    assert Program.objects.count() == 1


def test_leaving_a_program(org):
    p = program("p1", [RateSpec("0.03")])
    sp_a = org.partners["sp-a"]
    with pytest.raises(ValidationFailed):
        programs.leave(p, sp_a, on(1, month=1))  # before it joined
    enrolment = programs.leave(p, sp_a, on(20))
    assert Enrolment.objects.get(pk=enrolment.pk).left_at == on(20)
    assert AuditEntry.objects.filter(action="incentives.leave", partner=sp_a, target="p1").count() == 1
    with pytest.raises(Conflict):
        programs.leave(p, sp_a, on(21))  # not enrolled any more
    with clock.frozen_at(on(22)):
        assert [e.partner.code for e in programs.enrol(p, ["sp-a", "sp-b"])] == ["sp-a"]  # sp-b is enrolled


def test_decimal_rates_are_kept_exactly(org):
    p = program("p1", [RateSpec("0.0125"), RateSpec(Decimal("0.015"), min_base="1000.5")])
    assert list(p.rates.values_list("min_base", "rate")) == [(d("0"), d("0.0125")), (d("1000.5"), d("0.015"))]


def test_a_refund_booked_under_another_product_type_is_taken_back_at_the_orders_rate(march):
    services.catch_up(DUE)
    ingest([rec("A9", "a1", "-40", on(9, 4), product="Storage", order="O4")], on(2, month=5))
    services.catch_up(MAY_DUE)
    # O4 earned in March as Compute at 5 %; Storage's own rate (2 %) does not apply to it.
    assert lines(get("cloud", "sp-a", APRIL, "clawback")) == [("a1", "O4", "Storage", d("-40"), d("0.05"), d("-2.00"))]
    assert lines(get("cloud", "sp-a", APRIL)) == [("a1", "", "Compute", d("11"), d("0.03"), d("0.33"))]


def test_program_errors_are_translated(org):
    from django.utils import translation

    with translation.override("zh-hans"), pytest.raises(ValidationFailed) as caught:
        programs.create_program(**_valid(currency="XYZ", rates=[]))  # type: ignore[arg-type]
    assert caught.value.message == "激励政策 p1 无效。"
    assert caught.value.details == {"currency": "XYZ 不是 ISO 4217 币种代码", "rates": "激励政策至少需要一个比例"}
