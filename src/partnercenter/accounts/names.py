"""How a person's name is shown: the one rule for users and account managers everywhere.

Chinese (and other CJK) names are written surname first without a space (``张`` + ``小明`` →
``张小明``); Latin names as "First Last". ``User.get_full_name`` (templates, forms, exports and
the API) uses :func:`person_name`; queries that show a name straight from the database use
:func:`person_name_sql`, which gives the same text.
"""

from __future__ import annotations

import re

from django.db.models import Case, CharField, Q, Value, When
from django.db.models.functions import Concat, Trim

# CJK radicals, kana, ideographs (with extension A), Hangul syllables, compatibility ideographs.
CJK_CLASS = "[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff]"
_CJK = re.compile(CJK_CLASS)


def person_name(first_name: str, last_name: str) -> str:
    first, last = (first_name or "").strip(), (last_name or "").strip()
    if _CJK.search(first) or _CJK.search(last):
        return f"{last}{first}"
    return f"{first} {last}".strip()


def person_name_sql(prefix: str = "") -> Case:
    """:func:`person_name` of the user reached by ``prefix`` (e.g. ``"manager__"``), in SQL."""
    first, last = Trim(f"{prefix}first_name"), Trim(f"{prefix}last_name")
    cjk = Q(**{f"{prefix}first_name__regex": CJK_CLASS}) | Q(**{f"{prefix}last_name__regex": CJK_CLASS})
    return Case(
        When(cjk, then=Concat(last, first)),
        default=Trim(Concat(first, Value(" "), last)),
        output_field=CharField(),
    )
