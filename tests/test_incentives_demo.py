"""The demo's incentives: three programs defined on its first usage day, every due period
generated as the worker would have on its due day, the earlier ones confirmed and issued, a
clawback for late cancellations, and today's estimates — with exact figures."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Count

from partnercenter.core import clock
from partnercenter.incentives import services
from partnercenter.incentives.models import Estimate, Incentive, Line, Program, Transition
from partnercenter.partners.demo import build_demo

NOW = dt.datetime(2026, 3, 10, 4, 0, tzinfo=dt.UTC)  # 10 March 2026, 12:00 in Shanghai

EXPECTED = [
    ("INC-202510-000001", "marketplace-boost", "huadong-dist", "earning", "11883", "950.64", "issued"),
    ("INC-202510-000002", "marketplace-boost", "bluesky-sp", "earning", "22032.5", "1762.6", "issued"),
    ("INC-202510-000003", "marketplace-boost", "yunfan-sp", "earning", "125935.58", "10074.85", "issued"),
    ("INC-202512-000001", "cloud-growth", "huadong-dist", "earning", "266047.4734925", "12758.43", "issued"),
    ("INC-202512-000002", "cloud-growth", "hangzhou-cloud", "earning", "153770.6912925", "7237.04", "issued"),
    ("INC-202512-000003", "cloud-growth", "suzhou-tech", "earning", "165442.2502385", "8003.38", "issued"),
    ("INC-202512-000004", "cloud-growth", "bluesky-sp", "earning", "254047.47103425", "12307.08", "issued"),
    ("INC-202512-000005", "cloud-growth", "yunfan-sp", "earning", "214476.17888975", "10186.29", "issued"),
    ("INC-202512-000006", "referral-reward", "pathfinder-ref", "earning", "118284.51147925", "2365.7", "issued"),
    ("INC-202601-000001", "cloud-growth", "huadong-dist", "earning", "253175.46693225", "12078.25", "issuing"),
    ("INC-202601-000002", "cloud-growth", "hangzhou-cloud", "earning", "148265.09972475", "4899.47", "issuing"),
    ("INC-202601-000003", "cloud-growth", "suzhou-tech", "earning", "182811.44325925", "8833.57", "issuing"),
    ("INC-202601-000004", "cloud-growth", "bluesky-sp", "earning", "286448.215406", "13924.68", "issuing"),
    ("INC-202601-000005", "cloud-growth", "yunfan-sp", "earning", "256613.91139325", "12298.14", "issuing"),
    ("INC-202601-000006", "cloud-growth", "hangzhou-cloud", "clawback", "-1803.2", "-90.16", "issuing"),
    ("INC-202601-000007", "cloud-growth", "bluesky-sp", "clawback", "-257.6", "-12.88", "issuing"),
    ("INC-202601-000008", "cloud-growth", "yunfan-sp", "clawback", "-1288", "-64.4", "issuing"),
    ("INC-202601-000009", "referral-reward", "pathfinder-ref", "earning", "196807.386001", "3936.17", "issuing"),
    ("INC-202602-000001", "cloud-growth", "huadong-dist", "earning", "289178.3793895", "13868.07", "pending_confirmation"),
    ("INC-202602-000002", "cloud-growth", "hangzhou-cloud", "earning", "198618.36429275", "9479.39",
     "pending_confirmation"),
    ("INC-202602-000003", "cloud-growth", "suzhou-tech", "earning", "163013.2644735", "7828.16", "pending_confirmation"),
    ("INC-202602-000004", "cloud-growth", "bluesky-sp", "earning", "234597.37304575", "11310.62", "pending_confirmation"),
    ("INC-202602-000005", "cloud-growth", "yunfan-sp", "earning", "243264.33573725", "11625.67", "pending_confirmation"),
    ("INC-202602-000006", "cloud-growth", "bluesky-sp", "clawback", "-2060.8", "-103.04", "pending_confirmation"),
    ("INC-202602-000007", "referral-reward", "pathfinder-ref", "earning", "182436.54144275", "3648.72",
     "pending_confirmation"),
    ("INC-202602-000008", "referral-reward", "pathfinder-ref", "clawback", "-257.6", "-5.15", "pending_confirmation"),
]  # fmt: skip


def test_the_demo_has_incentives_in_every_state_with_exact_figures(db):
    with clock.frozen_at(NOW):
        build_demo(usage_months=4)  # December to March
        rows = [
            (i.number, i.program.code, i.partner.code, i.kind, i.base_amount, i.amount, i.state)
            for i in Incentive.objects.select_related("program", "partner").order_by("number")
        ]
        assert rows == [(n, p, c, k, Decimal(b), Decimal(a), s) for n, p, c, k, b, a, s in EXPECTED]
        for incentive in Incentive.objects.all():
            assert incentive.amount == sum((line.amount for line in incentive.lines.all()), Decimal(0))
        # December's cloud incentives are due 5 January, generated at 00:05 by the worker.
        dec = Incentive.objects.get(number="INC-202512-000001")
        generated = dt.datetime(2026, 1, 5, 0, 5, tzinfo=dt.timezone(dt.timedelta(hours=8)))
        assert (dec.generated_at, dec.deadline) == (generated, dt.datetime(2026, 1, 16, tzinfo=generated.tzinfo))
        assert Program.objects.get(code="cloud-growth").rates.count() == 3

        # Late cancellations of December and January orders are clawed back at the rate they earned.
        clawed = [
            (line.incentive.number, line.order_id, line.base_amount, line.rate, line.amount, line.corrects_period)
            for line in Line.objects.filter(incentive__kind="clawback").select_related("incentive").order_by("pk")
        ]
        dec1, jan1 = dt.date(2025, 12, 1), dt.date(2026, 1, 1)
        assert clawed == [
            ("INC-202601-000006", "CS251200000081", Decimal("-515.2"), Decimal("0.05"), Decimal("-25.76"), dec1),
            ("INC-202601-000006", "CS251200000121", Decimal("-1288"), Decimal("0.05"), Decimal("-64.4"), dec1),
            ("INC-202601-000007", "CS251200000041", Decimal("-257.6"), Decimal("0.05"), Decimal("-12.88"), dec1),
            ("INC-202601-000008", "CS251200000001", Decimal("-1288"), Decimal("0.05"), Decimal("-64.4"), dec1),
            ("INC-202602-000006", "CS260100000355", Decimal("-772.8"), Decimal("0.05"), Decimal("-38.64"), jan1),
            ("INC-202602-000006", "CS260100000275", Decimal("-1288"), Decimal("0.05"), Decimal("-64.4"), jan1),
            ("INC-202602-000008", "CS260100000195", Decimal("-257.6"), Decimal("0.02"), Decimal("-5.15"), jan1),
        ]

        # Issued by the operator; confirmed by partners or automatically; generated by nobody.
        actors = dict(Transition.objects.values_list("to_state").annotate(n=Count("id")).values_list("to_state", "n"))
        assert actors == {"pending_confirmation": 26, "issuing": 18, "issued": 9}
        assert set(Transition.objects.filter(to_state="issued").values_list("actor__username", flat=True)) == {
            "operator"
        }
        assert not Transition.objects.filter(to_state="pending_confirmation", actor__isnull=False).exists()

        estimates = {
            (e.program.code, e.partner.code): (e.base_amount, e.amount)
            for e in Estimate.objects.select_related("program", "partner")
        }
        assert estimates == {
            ("cloud-growth", "bluesky-sp"): (Decimal("126484.70931175"), Decimal("4199.83")),
            ("cloud-growth", "hangzhou-cloud"): (Decimal("82164.699346"), Decimal("2916.43")),
            ("cloud-growth", "huadong-dist"): (Decimal("164656.365127"), Decimal("7707.35")),
            ("cloud-growth", "suzhou-tech"): (Decimal("100430.88432375"), Decimal("3249.42")),
            ("cloud-growth", "yunfan-sp"): (Decimal("195498.540601"), Decimal("9151.45")),
            ("marketplace-boost", "bluesky-sp"): (Decimal("96039.22"), Decimal("7683.14")),
            ("marketplace-boost", "huadong-dist"): (Decimal("131915.47"), Decimal("10553.24")),
            ("marketplace-boost", "yunfan-sp"): (Decimal("70662"), Decimal("5652.96")),
            ("referral-reward", "pathfinder-ref"): (Decimal("64399.316245"), Decimal("1287.97")),
        }
        again = services.catch_up(NOW)
        assert (again.periods, again.incentives, again.estimates) == ([], 0, 0)


def test_the_demo_pays_the_bills_of_issued_periods_and_leaves_the_latest_frozen(db):
    from partnercenter.billing.payment_selectors import unpaid_bills
    from partnercenter.partners.models import Partner

    with clock.frozen_at(NOW):
        build_demo(usage_months=3)
        unpaid = {p.code: [d.bill.month for d in unpaid_bills(p)] for p in Partner.objects.all()}
    # February's bills (the period still pending) are unpaid; January's were paid.
    assert {months[0] for months in unpaid.values() if months} == {dt.date(2026, 2, 1)}
    assert set(Incentive.objects.filter(period_start=dt.date(2026, 2, 1)).values_list("state", flat=True)) == {
        "pending_confirmation"
    }
    assert set(Incentive.objects.filter(period_start=dt.date(2026, 1, 1)).values_list("state", flat=True)) == {
        "issuing"
    }
