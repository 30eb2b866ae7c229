"""Referral-only partners do not get the Partner Bills menu (they have no partner bill, B1)."""

from __future__ import annotations

from partnercenter.core import menus


def test_referral_partner_users_have_no_partner_bills_menu(org, client):
    admin = org.users["ref-admin"]
    finance = org.users["ref-finance"]
    assert menus.PARTNER_BILLS not in admin.menu_codes()
    assert menus.PARTNER_BILLS not in finance.menu_codes()
    assert menus.CUSTOMER_EXPENDITURE in admin.menu_codes()
    assert menus.PARTNER_BILLS in org.users["sp-a-admin"].menu_codes()
    assert menus.PARTNER_BILLS in org.users["sp-a-finance"].menu_codes()
    assert menus.PARTNER_BILLS in org.users["op"].menu_codes()
    client.force_login(admin)
    assert client.get("/partner-bills/").status_code == 403
    assert "/partner-bills/" not in client.get("/").content.decode()
