"""Request and response bodies of the partner, customer and assignment routes.

Customer name, email and mobile are sensitive (rule E5): the API returns them masked.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from ninja import Field, Schema

from partnercenter.core.pagination import offset_field

AssociationTypeLiteral = Literal["reseller", "referral"]


class PartnerOut(Schema):
    code: str
    name: str
    kind: str
    parent: str | None = Field(description="The distributor of a second-level reseller.")


class PartnerIn(Schema):
    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["solution_provider", "referral", "distributor", "second_level_reseller"]
    parent: str | None = Field(default=None, description="Required for a second-level reseller: its distributor.")


class CustomerQuery(Schema):
    search: str = Field(default="", max_length=200, description="Part of the name, account id or email.")
    association_type: AssociationTypeLiteral | None = None
    manager: str | None = Field(default=None, description="Username of the current account manager.")
    unassigned: bool = Field(default=False, description="Only customers without an account manager.")
    partner: str | None = Field(default=None, description="Partner code (a distributor viewing a reseller).")
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = offset_field()


class CustomerItem(Schema):
    account_id: str
    name: str = Field(description="Masked.")
    email: str = Field(description="Masked.")
    mobile: str = Field(description="Masked.")
    association_type: str | None = Field(description="Of the association in force; null if none is.")
    partner: str | None = Field(description="Code of the partner holding the customer now; null if none does.")
    account_manager: str | None = Field(description="Username of the current account manager.")


class CustomerPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[CustomerItem]


class AssociationOut(Schema):
    partner: str
    association_type: str
    valid_from: dt.datetime
    valid_to: dt.datetime | None


class AssignmentOut(Schema):
    manager: str
    assigned_at: dt.datetime
    effective_from: dt.datetime = Field(description="The manager sees expenditure from this instant (rule E3).")
    ended_at: dt.datetime | None


class CustomerDetail(CustomerItem):
    associations: list[AssociationOut]
    assignments: list[AssignmentOut]


class CustomerIn(Schema):
    account_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(default="", max_length=254)
    mobile: str = Field(default="", max_length=32)
    partner: str = Field(min_length=1, max_length=64)
    association_type: AssociationTypeLiteral
    valid_from: dt.date | None = Field(
        default=None,
        description="Day in the billing time zone; the association starts at its 00:00. Default: now.",
    )


class AssociationIn(Schema):
    partner: str = Field(min_length=1, max_length=64)
    association_type: AssociationTypeLiteral
    valid_from: dt.date | None = Field(
        default=None,
        description="Day in the billing time zone; the association starts at its 00:00. Default: now.",
    )


class AssignmentIn(Schema):
    account_ids: list[str] = Field(min_length=1, max_length=1000)
    manager: str = Field(min_length=1, max_length=150, description="Username of an account manager of the partner.")


class AssignedCustomer(Schema):
    account_id: str
    assigned_at: dt.datetime
    effective_from: dt.datetime


class AssignmentResult(Schema):
    manager: str
    assignments: list[AssignedCustomer] = Field(description="The customers' open assignments after the request.")


class UnassignmentIn(Schema):
    account_ids: list[str] = Field(min_length=1, max_length=1000)


class UnassignedCustomer(Schema):
    account_id: str
    manager: str = Field(description="Username of the account manager removed.")
    ended_at: dt.datetime = Field(
        description="00:00 of the next day in the billing time zone: the manager sees the customer until then."
    )


class UnassignmentResult(Schema):
    unassigned: list[UnassignedCustomer] = Field(
        description="The requested customers whose account manager is removed (by this request or an earlier "
        "one not yet in effect); customers without an account manager are not listed."
    )
