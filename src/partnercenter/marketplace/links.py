"""The shareable URL of a product link: it carries the partner code and the link's ref."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest
from django.urls import reverse

from .models import ProductLink


def link_url(request: HttpRequest, link: ProductLink) -> str:
    path = reverse("marketplace:product", args=[link.product.code])
    return request.build_absolute_uri(f"{path}?{urlencode({'partner': link.partner.code, 'ref': link.token})}")
