import datetime as dt

from partnercenter import scoping
from partnercenter.core import clock
from partnercenter.partners import services as partner_services
from tests.conftest import T0


def codes(qs):
    return sorted(qs.values_list("code", flat=True))


def accounts(qs):
    return sorted(qs.values_list("account_id", flat=True))


def test_operator_sees_everything(org):
    op = org.users["op"]
    assert codes(scoping.partners_for(op)) == ["dist", "ref", "sp-a", "sp-b", "sub1", "sub2"]
    assert len(accounts(scoping.customers_for(op))) == 8


def test_partner_admin_sees_only_own_customers(org):
    assert accounts(scoping.customers_for(org.users["sp-a-admin"])) == ["a1", "a2", "a3"]
    assert codes(scoping.partners_for(org.users["sp-a-admin"])) == ["sp-a"]


def test_distributor_views_second_level_but_acts_only_on_direct(org):
    u = org.users["dist-admin"]
    assert codes(scoping.partners_for(u, scoping.Purpose.VIEW)) == ["dist", "sub1", "sub2"]
    assert codes(scoping.partners_for(u, scoping.Purpose.ACT)) == ["dist"]
    assert accounts(scoping.customers_for(u, scoping.Purpose.VIEW)) == ["d1", "s1", "s2"]
    assert accounts(scoping.customers_for(u, scoping.Purpose.ACT)) == ["d1"]


def test_second_level_reseller_sees_only_its_own(org):
    u = org.users["sub1-admin"]
    assert codes(scoping.partners_for(u)) == ["sub1"]
    assert accounts(scoping.customers_for(u)) == ["s1"]


def test_account_manager_sees_assigned_customers_and_figures_from_next_day(org):
    mgr = org.users["sp-a-account_manager"]
    admin = org.users["sp-a-admin"]
    assert accounts(scoping.customers_for(mgr)) == []
    # 23:59:59 on 2026-03-10 in Asia/Shanghai is 15:59:59 UTC.
    at = dt.datetime(2026, 3, 10, 15, 59, 59, tzinfo=dt.UTC)
    with clock.frozen_at(at):
        partner_services.assign_customers(actor=admin, customers=[org.customers["a1"]], manager=mgr)
        assert accounts(scoping.customers_for(mgr)) == ["a1"]
        (window,) = scoping.assignment_windows(mgr)
    # figures from 00:00:00 of 2026-03-11 Asia/Shanghai = 16:00:00 UTC on the 10th
    assert window.start == dt.datetime(2026, 3, 10, 16, 0, 0, tzinfo=dt.UTC)
    assert scoping.assignment_windows(admin) is None


def test_account_manager_loses_customer_reassigned_to_someone_else(org):
    admin = org.users["sp-a-admin"]
    mgr = org.users["sp-a-account_manager"]
    other = partner_services  # noqa: F841
    from partnercenter.accounts import services as account_services

    mgr2 = account_services.create_user(
        username="sp-a-am2", password="Test-pass-1234", partner_code="sp-a", role="account_manager"
    )
    with clock.frozen_at(T0):
        partner_services.assign_customers(actor=admin, customers=[org.customers["a1"]], manager=mgr)
    with clock.frozen_at(T0 + dt.timedelta(days=3)):
        partner_services.assign_customers(actor=admin, customers=[org.customers["a1"]], manager=mgr2)
        assert accounts(scoping.customers_for(mgr)) == []
        assert accounts(scoping.customers_for(mgr2)) == ["a1"]
    # history is kept
    assert org.customers["a1"].assignments.count() == 2


def test_menus_follow_role_presets_and_grants(org):
    from partnercenter.accounts import services as account_services

    op = org.users["sp-a-operator"]
    assert scoping.has_menu(op, "customer_management")
    assert not scoping.has_menu(op, "partner_bills")
    account_services.set_menus(actor=org.users["sp-a-admin"], user=op, menu_codes=["partner_bills"])
    op.refresh_from_db()
    assert scoping.has_menu(op, "partner_bills")
    assert not scoping.has_menu(op, "customer_management")
    assert scoping.has_menu(org.users["sp-a-admin"], "user_management")
    assert not scoping.has_menu(org.users["sp-a-finance"], "user_management")
