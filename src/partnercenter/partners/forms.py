from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from partnercenter import scoping
from partnercenter.accounts.models import User
from partnercenter.core import clock, masking
from partnercenter.core.errors import DomainError

from . import selectors, services
from .models import AssociationType, CustomerAssociation, PartnerKind

UNASSIGNED = "unassigned"


def _manager_label(u: User) -> str:
    return f"{u.get_full_name()} ({u.username})" if u.get_full_name() else u.username


class CustomerFilterForm(forms.Form):
    """Search options of the customer lists; every field is optional."""

    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("Name, account ID or email")}),
    )
    association_type = forms.ChoiceField(label=_("Association type"), required=False)
    manager = forms.ChoiceField(label=_("Account manager"), required=False)
    partner = forms.ChoiceField(label=_("Partner"), required=False)

    def __init__(self, *args: Any, user: User, own_partner_first: bool = False, **kwargs: Any) -> None:
        """``own_partner_first``: a distributor starts from its own customers and picks a
        second-level reseller to view theirs (there is no "all"); otherwise "all" is the default."""
        super().__init__(*args, **kwargs)
        # Only users who may reveal contact data may search it (E5): the hint says what a search covers.
        self.search_hint = (
            _("Name, account ID, email or mobile") if masking.may_reveal(user) else _("Account ID or name as shown")
        )
        self.fields["q"].widget.attrs["placeholder"] = self.search_hint
        self.default_partner = ""
        self.fields["association_type"].choices = [("", _("All")), *AssociationType.choices]  # type: ignore[attr-defined]
        self._init_partner(user, own_partner_first)
        managers = [(str(u.pk), _manager_label(u)) for u in selectors.account_managers(user)]
        self.fields["manager"].choices = [  # type: ignore[attr-defined]
            ("", _("All")),
            (UNASSIGNED, _("Unassigned")),
            *managers,
        ]

    def _init_partner(self, user: User, own_partner_first: bool) -> None:
        """A distributor chooses between its own customers and each second-level reseller's."""
        own = user.partner
        if own is None or own.kind != PartnerKind.DISTRIBUTOR:
            del self.fields["partner"]
            return
        resellers = scoping.partners_for(user).exclude(pk=own.pk).order_by("name")
        choices = [(own.code, _("%(name)s (own customers)") % {"name": own.name})]
        choices += [(p.code, p.name) for p in resellers]
        field = self.fields["partner"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices if own_partner_first else [("", _("All")), *choices]
        if own_partner_first:
            self.default_partner = own.code

    def partner_label(self, code: str) -> str:
        field = self.fields.get("partner")
        for value, label in getattr(field, "choices", []):
            if value == code:
                return str(label)
        return code

    def to_filter(self) -> selectors.CustomerFilter:
        self.is_valid()  # invalid fields are left out of cleaned_data and do not filter
        manager = self.cleaned_data.get("manager") or ""
        partner: str = self.cleaned_data.get("partner") or self.default_partner
        return selectors.CustomerFilter(
            search=(self.cleaned_data.get("q") or "").strip(),
            association_type=self.cleaned_data.get("association_type") or "",
            manager_id=int(manager) if manager.isdigit() else None,
            unassigned=manager == UNASSIGNED,
            partner_code=partner,
        )


class ManagerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return _manager_label(obj)


class AssignmentForm(forms.Form):
    """The account manager to assign the chosen customers to; customers come as ``customer`` values."""

    # No manager is preselected: assigning to whoever sorts first would be a silent mistake.
    manager = ManagerChoiceField(
        label=_("Account manager"),
        queryset=User.objects.none(),
        empty_label=_("Choose an account manager"),
        error_messages={"required": _("Choose the account manager to assign the selected customers to.")},
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "assign_%s")  # the filter form on the same page has its own manager field
        super().__init__(*args, **kwargs)
        field = self.fields["manager"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = selectors.account_managers(user)
        field.error_messages["invalid_choice"] = _("Choose one of your partner's account managers.")


class AssociationAdminForm(forms.ModelForm):
    """A new association entered by a platform operator in the admin: the same rules as the API
    and the CLI (``services.check_association``), shown as form errors."""

    valid_from_day = forms.DateField(
        label=_("Valid from"),
        help_text=_("A day in the billing time zone; the association starts at its 00:00."),
    )

    class Meta:
        model = CustomerAssociation
        fields = ("customer", "partner", "association_type")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        customer, partner, kind, day = (
            data.get(k) for k in ("customer", "partner", "association_type", "valid_from_day")
        )
        if not (customer and partner and kind and day):
            return data
        valid_from = clock.start_of_day(day)
        try:
            # The admin runs this form and the save in one transaction, so the check holds for the save.
            current = services.check_association(
                customer=customer, partner=partner, association_type=kind, valid_from=valid_from
            )
        except services.HistoryRecorded as e:
            raise forms.ValidationError(
                {
                    "valid_from_day": _(
                        "The association cannot start on %(day)s: the customer's charges from then on are "
                        "already recorded, or the month is already billed. Choose %(earliest)s or later."
                    )
                    % {"day": day.isoformat(), "earliest": e.earliest.isoformat()}
                }
            ) from None
        except DomainError as e:
            raise forms.ValidationError(e.message) from None
        if current is not None and current.partner_id == partner.pk and current.association_type == kind:
            raise forms.ValidationError(_("The customer already has this association."))
        data["valid_from"] = valid_from
        return data
