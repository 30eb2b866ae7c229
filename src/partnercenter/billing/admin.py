"""Operator screens of partner bills' payments: top-ups, bank transfers and the decisions on
third-party payment agreements. Every write goes through :mod:`.payment_services`; the account
statement, payments and decisions are append-only, so nothing here edits or deletes a row."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from partnercenter.core.errors import DomainError

from . import payment_selectors as sel
from . import payment_services as svc
from .models import AgreementStatus, Payment, PaymentAgreement, StatementEntry


class _ServiceForm(forms.ModelForm):
    """Runs its service in ``clean``: a refusal is shown on the form and nothing is written."""

    request: HttpRequest
    result: Any = None

    def call(self, data: dict[str, Any]) -> Any:
        raise NotImplementedError

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors:
            try:
                self.result = self.call(data)
            except DomainError as e:
                raise forms.ValidationError(e.message) from None
        return data

    def _post_clean(self) -> None:
        # The model instance is never saved from this form (the service wrote the row).
        return None


class TopUpForm(_ServiceForm):
    amount = forms.CharField(max_length=40)

    class Meta:
        model = StatementEntry
        fields = ("partner", "currency", "amount", "remark")

    def call(self, data: dict[str, Any]) -> StatementEntry:
        return svc.top_up(
            actor=self.request.user,  # type: ignore[arg-type]
            partner=data["partner"],
            currency=data["currency"],
            amount=data["amount"],
            remark=data.get("remark", ""),
        )


class TransferForm(_ServiceForm):
    amount = forms.CharField(max_length=40)
    bill_id = forms.IntegerField(required=False, help_text="Settle this bill only (else the oldest first).")

    class Meta:
        model = Payment
        fields = ("partner", "currency", "amount", "payer_name", "received_on", "reference")

    def call(self, data: dict[str, Any]) -> Payment:
        return svc.record_transfer(
            actor=self.request.user,  # type: ignore[arg-type]
            partner=data["partner"],
            currency=data["currency"],
            amount=data["amount"],
            payer_name=data.get("payer_name", ""),
            received_on=data.get("received_on"),
            reference=data.get("reference", ""),
            bill_id=data.get("bill_id"),
        )


class _AppendOnlyAdmin(admin.ModelAdmin):
    service_form: type[_ServiceForm] | None = None

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None and self.service_form is not None:
            form = self.service_form

            class Bound(form):  # type: ignore[valid-type,misc]
                pass

            Bound.request = request
            kwargs["form"] = Bound
            kwargs["fields"] = [*form.Meta.fields, *getattr(form, "extra_fields", ())]  # type: ignore[attr-defined]
        return super().get_form(request, obj, change, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # The service already wrote the row (in the form's clean); show that one.
        obj.pk = form.result.pk

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        return None


@admin.register(StatementEntry)
class StatementEntryAdmin(_AppendOnlyAdmin):
    """The account statement; "add" is a top-up of the prepaid balance."""

    service_form = TopUpForm
    list_display = ("created_at", "partner", "currency", "kind", "amount", "balance_after", "remark")
    list_filter = ("kind", "currency")
    search_fields = ("partner__code", "remark")


@admin.register(Payment)
class PaymentAdmin(_AppendOnlyAdmin):
    """Payments; "add" records a bank transfer."""

    service_form = TransferForm
    list_display = ("created_at", "partner", "method", "currency", "amount", "payer_name", "reference")
    list_filter = ("method", "currency")
    search_fields = ("partner__code", "payer_name", "reference")


TransferForm.extra_fields = ("bill_id",)  # type: ignore[attr-defined]


@admin.register(PaymentAgreement)
class PaymentAgreementAdmin(admin.ModelAdmin):
    """Third-party payment agreements: the operator approves or rejects (a decision is appended)."""

    list_display = ("principal", "principal_type", "partner", "status", "created_at")
    search_fields = ("principal", "partner__code")
    actions = ("approve", "reject")

    def get_queryset(self, request: HttpRequest) -> QuerySet[PaymentAgreement]:
        return sel.with_status(super().get_queryset(request))

    @admin.display(description="status")
    def status(self, obj: PaymentAgreement) -> str:
        return str(AgreementStatus(sel.status_of(obj)).label)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def _decide(self, request: HttpRequest, queryset: QuerySet[PaymentAgreement], status: str) -> None:
        for agreement in queryset:
            try:
                svc.decide_agreement(actor=request.user, agreement_id=agreement.pk, status=status)  # type: ignore[arg-type]
            except DomainError as e:
                self.message_user(request, f"{agreement.principal}: {e.message}", messages.ERROR)
            else:
                self.message_user(request, f"{agreement.principal}: {AgreementStatus(status).label}")

    @admin.action(description="Approve the selected agreements")
    def approve(self, request: HttpRequest, queryset: QuerySet[PaymentAgreement]) -> None:
        self._decide(request, queryset, AgreementStatus.APPROVED)

    @admin.action(description="Reject the selected agreements")
    def reject(self, request: HttpRequest, queryset: QuerySet[PaymentAgreement]) -> None:
        self._decide(request, queryset, AgreementStatus.REJECTED)
