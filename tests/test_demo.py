import datetime as dt
import io
import re
from collections import Counter

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.db.models import Count
from django.test import RequestFactory

from partnercenter.accounts.models import AuditEntry, User
from partnercenter.core import clock
from partnercenter.core.errors import Conflict
from partnercenter.partners.demo import build_demo
from partnercenter.partners.models import (
    AccountManagerAssignment,
    Customer,
    CustomerAssociation,
    Partner,
)

# 2026-03-10 12:00 in Asia/Shanghai.
NOW = dt.datetime(2026, 3, 10, 4, 0, tzinfo=dt.UTC)
HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def demo(db):
    out = io.StringIO()
    with clock.frozen_at(NOW):
        call_command("demo", "--usage-months", "1", stdout=out)
    return out.getvalue()


def counts():
    return {
        "partners": Partner.objects.count(),
        "users": User.objects.count(),
        "customers": Customer.objects.count(),
        "associations": CustomerAssociation.objects.count(),
        "assignments": AccountManagerAssignment.objects.count(),
        "audit": AuditEntry.objects.count(),
    }


def test_partners_kinds_and_parents(demo):
    got = {p.code: (p.kind, p.parent.code if p.parent else None) for p in Partner.objects.all()}
    assert got == {
        "huadong-dist": ("distributor", None),
        "hangzhou-cloud": ("second_level_reseller", "huadong-dist"),
        "suzhou-tech": ("second_level_reseller", "huadong-dist"),
        "bluesky-sp": ("solution_provider", None),
        "yunfan-sp": ("solution_provider", None),
        "pathfinder-ref": ("referral", None),
    }
    assert Partner.objects.get(code="huadong-dist").name == "华东云分销有限公司"
    assert Partner.objects.get(code="bluesky-sp").name == "BlueSky Solutions Ltd."


def test_customers_associations_and_history(demo):
    assert Customer.objects.count() >= 300
    open_assocs = CustomerAssociation.objects.filter(valid_to__isnull=True)
    assert set(open_assocs.values_list("association_type", flat=True)) == {"reseller", "referral"}
    # Exactly one open association per customer, and some customers have history.
    per_customer = Counter(open_assocs.values_list("customer_id", flat=True))
    assert set(per_customer.values()) == {1}
    assert len(per_customer) == Customer.objects.count()
    with_history = Customer.objects.annotate(n=Count("associations")).filter(n__gt=1)
    assert with_history.count() >= 1
    # The referral partner only ever holds referral customers.
    assert set(
        CustomerAssociation.objects.filter(partner__code="pathfinder-ref").values_list("association_type", flat=True)
    ) == {"referral"}
    # Every association starts at 00:00 of a billing-time-zone day within the past 15 months.
    oldest = clock.start_of_day(clock.billing_date(NOW) - dt.timedelta(days=460))
    for a in CustomerAssociation.objects.all():
        assert a.valid_from == clock.start_of_day(clock.billing_date(a.valid_from))
        assert oldest <= a.valid_from < NOW
    # Account ids: 12 digits starting 2100000, unique (the model enforces uniqueness).
    assert all(re.fullmatch(r"2100000\d{5}", a) for a in Customer.objects.values_list("account_id", flat=True))


def test_assignments_have_history_and_take_effect_next_day(demo):
    rows = list(AccountManagerAssignment.objects.select_related("manager"))
    assert rows
    assert Customer.objects.annotate(n=Count("assignments")).filter(n__gt=1).exists()
    for a in rows:
        assert a.effective_from == clock.start_of_next_day(a.assigned_at)
        assert a.assigned_at < NOW
        assert a.manager.role == "account_manager" and a.manager.partner_id == a.partner_id
        # The customer belonged to the manager's partner when it was assigned.
        assert (
            CustomerAssociation.objects.filter(
                customer_id=a.customer_id, partner_id=a.partner_id, valid_from__lte=a.assigned_at
            )
            .exclude(valid_to__lte=a.assigned_at)
            .exists()
        )
    open_per_customer = Counter(
        AccountManagerAssignment.objects.filter(ended_at__isnull=True).values_list("customer_id", flat=True)
    )
    assert set(open_per_customer.values()) == {1}
    # Some customers were handed from the first to the second account manager.
    second = AccountManagerAssignment.objects.filter(manager__username__endswith="-account-manager-2")
    handed_over = second.filter(customer__assignments__manager__username__endswith="-account-manager")
    assert handed_over.exists()


def test_users_roles_passwords_and_names(demo):
    for code in Partner.objects.values_list("code", flat=True):
        for role in ("admin", "operator", "account_manager", "finance"):
            u = User.objects.get(username=f"{code}-{role.replace('_', '-')}")
            assert u.partner.code == code and u.role == role
    for code in ("huadong-dist", "bluesky-sp", "yunfan-sp"):
        assert User.objects.get(username=f"{code}-account-manager-2").role == "account_manager"
    user = authenticate(request=RequestFactory().post("/"), username="bluesky-sp-admin", password="demo-password")
    assert user is not None and user.username == "bluesky-sp-admin"
    op = User.objects.get(username="operator")
    assert op.is_staff and op.partner is None
    assert authenticate(request=RequestFactory().post("/"), username="operator", password="demo-password") == op
    assert all(u.first_name and u.last_name for u in User.objects.all())
    names = list(Customer.objects.values_list("name", flat=True))
    assert any(HAN.search(n) for n in names)
    assert any(n.isascii() for n in names)
    assert any(HAN.search(u.first_name) for u in User.objects.all())
    assert any(u.first_name.isascii() for u in User.objects.all())


def test_output_lists_summary_and_signins(demo):
    assert "customers    320" in demo
    assert "bluesky-sp-admin" in demo and "demo-password" in demo


def test_second_run_changes_nothing(demo):
    before = counts()
    out = io.StringIO()
    call_command("demo", stdout=out)
    assert "already loaded" in out.getvalue()
    assert counts() == before


def test_build_demo_refuses_a_database_with_partners(demo):
    with pytest.raises(Conflict):
        build_demo()


def test_build_demo_summary_matches_the_database(db):
    with clock.frozen_at(NOW):
        summary = build_demo(seed=7, usage_months=1)
    assert sorted(summary.partners) == sorted(Partner.objects.values_list("code", flat=True))
    assert sorted(summary.users) == sorted(User.objects.values_list("username", flat=True))
    assert sorted(summary.customers) == sorted(Customer.objects.values_list("account_id", flat=True))
    assert sum(summary.customers_by_association_type.values()) == len(summary.customers)
    assert summary.assignments == list(AccountManagerAssignment.objects.order_by("pk").values_list("pk", flat=True))
    assert len(summary.moved_customers) == 10 and len(summary.reassigned_customers) == 10


def _snapshot():
    return (
        list(
            Customer.objects.order_by("account_id").values_list("account_id", "name", "email", "mobile", "created_at")
        ),
        list(
            CustomerAssociation.objects.order_by("customer__account_id", "valid_from").values_list(
                "customer__account_id", "partner__code", "association_type", "valid_from", "valid_to"
            )
        ),
        list(
            AccountManagerAssignment.objects.order_by("customer__account_id", "assigned_at").values_list(
                "customer__account_id", "manager__username", "assigned_at", "effective_from", "ended_at"
            )
        ),
        list(User.objects.order_by("username").values_list("username", "first_name", "last_name", "email")),
    )


class _Rollback(Exception):
    pass


def test_same_seed_and_day_build_the_same_data(db):
    from django.db import transaction

    with clock.frozen_at(NOW):
        with pytest.raises(_Rollback), transaction.atomic():
            build_demo(usage_months=1)
            first = _snapshot()
            raise _Rollback
        assert not Partner.objects.exists()
        build_demo(usage_months=1)
    assert _snapshot() == first


def test_thirteen_months_of_usage_through_ingestion(db):
    """The full demo: usage for 13 billing months, every classification, billing mode and
    service type, and customers whose refunds exceed their spend in some month."""
    from decimal import Decimal

    from django.db.models import Count

    from partnercenter.core.money import ExactSum
    from partnercenter.usage.models import DailyRollup, IngestBatch, LineItem

    with clock.frozen_at(NOW):
        summary = build_demo()
    assert len(summary.usage_batches) == 13
    assert IngestBatch.objects.count() == 13
    assert summary.line_items == LineItem.objects.count() > 50_000
    months = sorted({d.strftime("%Y-%m") for d in LineItem.objects.values_list("charge_month", flat=True)})
    assert len(months) == 13
    assert set(LineItem.objects.values_list("classification", flat=True)) == {
        "expenditure",
        "refund",
        "adjustment",
        "tax",
    }
    assert set(LineItem.objects.values_list("x_billing_mode", flat=True)) == {
        "pay_per_use",
        "prepaid_monthly",
        "prepaid_yearly",
        "monthly_95th_bandwidth",
    }
    assert set(LineItem.objects.values_list("service_type", flat=True)) == {"cloud", "marketplace"}
    assert LineItem.objects.values("region_id").distinct().count() == 4
    assert LineItem.objects.values("x_project").distinct().count() == 4
    refunds = LineItem.objects.filter(classification="refund")
    assert refunds.filter(charge_description__contains="order cancellation").exists()
    assert refunds.filter(charge_description__contains="specification change").exists()
    # Nothing for today or later: usage ends yesterday (billing time zone).
    assert LineItem.objects.filter(charge_day__gte=clock.billing_date(NOW)).count() == 0
    # Some customer-months are net negative before tax: refunds exceed expenditure.
    per = {}
    for row in DailyRollup.objects.values("customer_id", "day__year", "day__month", "classification").annotate(
        total=ExactSum("amount"), n=Count("id")
    ):
        key = (row["customer_id"], row["day__year"], row["day__month"])
        per.setdefault(key, {})[row["classification"]] = row["total"]
    negative = [k for k, v in per.items() if v.get("expenditure", Decimal(0)) + v.get("refund", Decimal(0)) < 0]
    assert len(negative) >= 3
