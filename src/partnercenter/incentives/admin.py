"""Operator screens of incentive programs (I1): a program is defined here with its rates and the
partners enrolled in it, and checked as :mod:`.programs` checks it. Once a period of a program
has been generated its definition and rates are read-only (the incentives were computed from
them); partners can still join and leave. Generated incentives, their lines and transitions are
shown read-only: they change only through the reconciliation workflow."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from partnercenter.core import audit, clock
from partnercenter.core.errors import DomainError

from . import programs
from .models import Enrolment, Incentive, Line, Program, Rate, Transition

_PROGRAM_FIELDS = (
    "code",
    "name",
    "description",
    "period",
    "currency",
    "association_type",
    "service_types",
    "product_types",
    "partner_kinds",
    "confirmation_days",
    "valid_from",
    "valid_to",
)


def _generated(program: Program | None) -> bool:
    return program is not None and program.pk is not None and Incentive.objects.filter(program=program).exists()


class ProgramForm(forms.ModelForm):
    class Meta:
        model = Program
        fields = _PROGRAM_FIELDS

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        problems = programs.check_definition({name: data.get(name) for name in _PROGRAM_FIELDS}, self.instance.pk)
        for name, message in problems.items():
            self.add_error(name if name in self.fields else None, message)
        return data


class RateFormSet(forms.BaseInlineFormSet):
    """The rates together: at least one, and one for every product type the program covers."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        kept = [f.cleaned_data for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        specs = [programs.RateSpec(r["rate"], r.get("min_base") or "0", r.get("product_type") or "") for r in kept]
        product_types = self.instance.product_types or []
        problems = programs.check_rates(specs, product_types)
        if problems:
            raise forms.ValidationError([f"{name}: {message}" for name, message in problems.items()])


class RateInline(admin.TabularInline):
    model = Rate
    formset = RateFormSet
    fields = ("product_type", "min_base", "rate")
    extra = 2

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not _generated(obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not _generated(obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not _generated(obj)


class EnrolmentInline(admin.TabularInline):
    model = Enrolment
    fields = ("partner", "joined_at", "left_at")
    autocomplete_fields = ("partner",)
    extra = 1

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # leaving sets left_at: the year until expiry counts from it (I8)


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin):
    form = ProgramForm
    inlines = (RateInline, EnrolmentInline)
    list_display = ("code", "name", "period", "currency", "association_type", "valid_from", "valid_to")
    list_filter = ("period", "association_type", "currency")
    search_fields = ("code", "name")
    actions = ("enrol_by_kind",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return _PROGRAM_FIELDS if _generated(obj) else ()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Program, form: Any, change: bool) -> None:
        if not change:
            obj.created_at = clock.now()
            obj.created_by = request.user if request.user.pk else None  # type: ignore[assignment]
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        program = form.instance
        audit.record(
            request.user,
            "incentives.change_program" if change else "incentives.create_program",
            target=program.code,
            rates=[[p, str(m), str(r)] for p, m, r in program.rates.values_list("product_type", "min_base", "rate")],
            partners=sorted(Enrolment.objects.filter(program=program).values_list("partner__code", flat=True)),
        )

    @admin.action(description="Enrol every partner of the program's partner kinds")
    def enrol_by_kind(self, request: HttpRequest, queryset: QuerySet[Program]) -> None:
        from partnercenter.partners.models import Partner

        for program in queryset:
            codes = Partner.objects.filter(kind__in=program.partner_kinds).values_list("code", flat=True)
            try:
                made = programs.enrol(program, list(codes), actor=request.user)  # type: ignore[arg-type]
            except DomainError as e:
                self.message_user(request, f"{program.code}: {e.message}", messages.ERROR)
            else:
                self.message_user(request, f"{program.code}: {len(made)} partner(s) enrolled")


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class LineInline(_ReadOnlyInline):
    model = Line
    fields = ("customer", "order_id", "service_type", "product_type", "base_amount", "rate", "amount")
    readonly_fields = fields


class TransitionInline(_ReadOnlyInline):
    model = Transition
    fields = ("from_state", "to_state", "at", "actor", "reason")
    readonly_fields = fields


@admin.register(Incentive)
class IncentiveAdmin(_ReadOnly):
    inlines = (LineInline, TransitionInline)
    list_display = ("number", "program", "partner", "period_start", "kind", "currency", "amount", "state")
    list_filter = ("state", "kind", "program", "period_start")
    search_fields = ("number", "partner__code")
