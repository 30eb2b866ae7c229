"""Marketplace: product links carrying the partner code, attribution of orders, revenue-sharing statements (O5)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from partnercenter.core.money import ExactDecimalField


class MarketplaceProduct(models.Model):
    """A product sold on the cloud marketplace (云商店). Its sales are the ledger's marketplace line
    items whose ServiceName is ``service_name``; ``share_rate`` is the platform's part of them."""

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    service_name = models.CharField(max_length=200, unique=True, help_text="ServiceName of its line items")
    publisher = models.ForeignKey(
        "partners.Partner", null=True, blank=True, on_delete=models.PROTECT, related_name="published_products"
    )
    share_rate = ExactDecimalField(help_text="Platform share of sales, between 0 and 1")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class ServiceProvider(models.Model):
    """A partner enrolled as a marketplace customer service provider: only these share links."""

    partner = models.OneToOneField("partners.Partner", on_delete=models.PROTECT, related_name="marketplace_enrolment")
    since = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.partner.code} since {self.since:%Y-%m-%d}"


class ProductLink(models.Model):
    """One partner's shareable link of one product; ``token`` is the link's ``ref``."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="product_links")
    product = models.ForeignKey(MarketplaceProduct, on_delete=models.PROTECT, related_name="links")
    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["product__code", "partner__code"]
        constraints = [models.UniqueConstraint(fields=["partner", "product"], name="one_link_per_partner_product")]


class MarketplaceOrder(models.Model):
    """An order received from the storefront, kept once per ``order_id`` with the answer it got."""

    class Association(models.TextChoices):
        CREATED = "created"
        UNCHANGED = "unchanged"

    order_id = models.CharField(max_length=100, unique=True)
    product = models.ForeignKey(MarketplaceProduct, on_delete=models.PROTECT, related_name="orders")
    link = models.ForeignKey(ProductLink, null=True, blank=True, on_delete=models.PROTECT, related_name="orders")
    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey("partners.Customer", on_delete=models.PROTECT, related_name="+")
    amount = ExactDecimalField()
    currency = models.CharField(max_length=3)
    association = models.CharField(max_length=16, choices=Association.choices)
    reason = models.CharField(max_length=500)
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(association__in=["created", "unchanged"]), name="order_association")
        ]
