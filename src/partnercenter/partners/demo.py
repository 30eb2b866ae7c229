"""The demo organisation behind ``partnercenter demo`` (and ``make run`` on an empty database).

Deterministic: every choice comes from ``random.Random(seed)`` and every date is a calendar day in
the billing time zone counted back from ``core.clock.today()``, so the same seed on the same day
builds the same data. Everything is written through the services the product itself uses, with
the clock frozen at the moment each thing "happened", so created/assigned timestamps look like a
history of about 16 months rather than one burst.

``build_demo`` runs one step function after another over a shared :class:`_Demo` state; later
steps (usage line items, bills, …) are meant to be added the same way.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction

from partnercenter.accounts import services as account_services
from partnercenter.accounts.models import User
from partnercenter.accounts.roles import Role
from partnercenter.core import clock
from partnercenter.core.errors import Conflict

from . import services
from .models import (
    AccountManagerAssignment,
    AssociationType,
    Customer,
    CustomerAssociation,
    Partner,
    PartnerKind,
)

DEFAULT_SEED = 20260101


class Writer(Protocol):
    """Where progress goes: a text stream or a management command's ``self.stdout``."""

    def write(self, msg: str, /) -> Any: ...


# --------------------------------------------------------------------------------------------
# The organisation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartnerSpec:
    code: str
    name: str
    kind: str
    parent: str | None
    domain: str
    chinese: bool  # staff and most customers have Chinese names
    customers: int
    referral_share: float  # share of customers associated by referral
    second_account_manager: bool


PARTNERS: tuple[PartnerSpec, ...] = (
    PartnerSpec(
        "huadong-dist",
        "华东云分销有限公司",
        PartnerKind.DISTRIBUTOR,
        None,
        "huadong-dist.example.com",
        True,
        70,
        0.2,
        True,
    ),
    PartnerSpec(
        "hangzhou-cloud",
        "杭州云途信息技术有限公司",
        PartnerKind.SECOND_LEVEL_RESELLER,
        "huadong-dist",
        "hangzhou-cloud.example.com",
        True,
        40,
        0.1,
        False,
    ),
    PartnerSpec(
        "suzhou-tech",
        "苏州智联科技有限公司",
        PartnerKind.SECOND_LEVEL_RESELLER,
        "huadong-dist",
        "suzhou-tech.example.com",
        True,
        40,
        0.1,
        False,
    ),
    PartnerSpec(
        "bluesky-sp",
        "BlueSky Solutions Ltd.",
        PartnerKind.SOLUTION_PROVIDER,
        None,
        "bluesky-solutions.example.com",
        False,
        70,
        0.2,
        True,
    ),
    PartnerSpec(
        "yunfan-sp",
        "云帆科技有限公司",
        PartnerKind.SOLUTION_PROVIDER,
        None,
        "yunfan-tech.example.com",
        True,
        70,
        0.2,
        True,
    ),
    PartnerSpec(
        "pathfinder-ref",
        "Pathfinder Advisory",
        PartnerKind.REFERRAL,
        None,
        "pathfinder-advisory.example.com",
        False,
        30,
        1.0,
        False,
    ),
)
ROLES = (Role.ADMIN, Role.OPERATOR, Role.ACCOUNT_MANAGER, Role.FINANCE)
OPERATOR_USERNAME = "operator"

HISTORY_DAYS = 487  # partners and users were onboarded about 16 months ago
CUSTOMER_DAYS = 456  # customers joined over the past 15 months
MOVES = 10  # customers that changed partner
ASSIGNED_SHARE = 0.6  # share of each partner's customers assigned to an account manager
REASSIGNED = 10  # customers handed over from account manager 1 to account manager 2


def username(partner_code: str, role: str, n: int = 1) -> str:
    name = f"{partner_code}-{role.replace('_', '-')}"
    return name if n == 1 else f"{name}-{n}"


# --------------------------------------------------------------------------------------------
# Names (hanzi, pinyin) — enough variety for a few hundred unique customers
# --------------------------------------------------------------------------------------------

CITIES = [
    ("北京", "beijing"),
    ("上海", "shanghai"),
    ("广州", "guangzhou"),
    ("深圳", "shenzhen"),
    ("杭州", "hangzhou"),
    ("南京", "nanjing"),
    ("成都", "chengdu"),
    ("武汉", "wuhan"),
    ("西安", "xian"),
    ("苏州", "suzhou"),
    ("天津", "tianjin"),
    ("重庆", "chongqing"),
    ("厦门", "xiamen"),
    ("青岛", "qingdao"),
    ("合肥", "hefei"),
    ("宁波", "ningbo"),
    ("无锡", "wuxi"),
    ("长沙", "changsha"),
]
TRADE_NAMES = [
    ("星辰", "xingchen"),
    ("云海", "yunhai"),
    ("华信", "huaxin"),
    ("瑞达", "ruida"),
    ("启明", "qiming"),
    ("远航", "yuanhang"),
    ("博雅", "boya"),
    ("恒通", "hengtong"),
    ("金桥", "jinqiao"),
    ("天成", "tiancheng"),
    ("智汇", "zhihui"),
    ("蓝海", "lanhai"),
    ("盛世", "shengshi"),
    ("鼎新", "dingxin"),
    ("宏图", "hongtu"),
    ("新锐", "xinrui"),
    ("数联", "shulian"),
    ("云启", "yunqi"),
    ("安信", "anxin"),
    ("易达", "yida"),
    ("光合", "guanghe"),
    ("卓越", "zhuoyue"),
    ("领航", "linghang"),
    ("万象", "wanxiang"),
]
INDUSTRIES = [
    ("科技", "tech"),
    ("信息技术", "it"),
    ("网络科技", "net"),
    ("软件", "soft"),
    ("数据服务", "data"),
    ("电子商务", "ecom"),
    ("文化传媒", "media"),
    ("教育科技", "edu"),
    ("医疗科技", "health"),
    ("物流", "logistics"),
    ("智能制造", "mfg"),
    ("游戏", "games"),
]
SURNAMES = [
    ("王", "wang"),
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("黄", "huang"),
    ("赵", "zhao"),
    ("吴", "wu"),
    ("周", "zhou"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("马", "ma"),
    ("朱", "zhu"),
    ("胡", "hu"),
    ("郭", "guo"),
    ("何", "he"),
    ("林", "lin"),
    ("高", "gao"),
    ("罗", "luo"),
]
GIVEN_NAMES = [
    ("伟", "wei"),
    ("芳", "fang"),
    ("娜", "na"),
    ("敏", "min"),
    ("静", "jing"),
    ("磊", "lei"),
    ("强", "qiang"),
    ("洋", "yang"),
    ("勇", "yong"),
    ("艳", "yan"),
    ("杰", "jie"),
    ("军", "jun"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("秀英", "xiuying"),
    ("丽", "li"),
    ("浩然", "haoran"),
    ("子涵", "zihan"),
    ("欣怡", "xinyi"),
    ("一鸣", "yiming"),
    ("思远", "siyuan"),
    ("晓燕", "xiaoyan"),
    ("建国", "jianguo"),
]
EN_STEMS = [
    "Northwind",
    "Contoso",
    "Fabrikam",
    "Tailspin",
    "Wingtip",
    "Litware",
    "Proseware",
    "Lucerne",
    "Woodgrove",
    "Coho",
    "Alpine",
    "Humongous",
    "Trey",
    "Wide World",
    "Blue Yonder",
    "Adatum",
    "Southridge",
    "Relecloud",
    "Silverline",
    "Harbor",
    "Redwood",
    "Maple Leaf",
    "Golden Gate",
    "Orchid",
]
EN_NOUNS = [
    "Traders",
    "Systems",
    "Analytics",
    "Logistics",
    "Labs",
    "Holdings",
    "Media",
    "Software",
    "Retail",
    "Consulting",
    "Foods",
    "Travel",
    "Games",
    "Health",
]
EN_SUFFIXES = ["Ltd.", "Inc.", "Pte. Ltd.", "Co.", "Group", ""]
EN_FIRST = [
    "Emily",
    "James",
    "Olivia",
    "Daniel",
    "Sophia",
    "Michael",
    "Grace",
    "Ethan",
    "Chloe",
    "Ryan",
    "Hannah",
    "Lucas",
    "Amelia",
    "Noah",
    "Isabella",
    "Oliver",
    "Mia",
    "Jack",
]
EN_LAST = [
    "Smith",
    "Johnson",
    "Brown",
    "Taylor",
    "Wilson",
    "Clarke",
    "Walker",
    "Wright",
    "Evans",
    "Turner",
    "Hughes",
    "Tan",
    "Lim",
    "Ng",
    "Wong",
    "Lee",
    "Patel",
    "Murphy",
]
MOBILE_PREFIXES = [
    "130",
    "131",
    "132",
    "133",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "173",
    "176",
    "177",
    "180",
    "181",
    "182",
    "183",
    "185",
    "186",
    "187",
    "188",
    "189",
    "191",
    "198",
    "199",
]


def _slug(text: str) -> str:
    return "-".join("".join(ch if ch.isalnum() else " " for ch in text.lower()).split())


def _mobile(rng: random.Random) -> str:
    prefix, a, b = rng.choice(MOBILE_PREFIXES), rng.randrange(10_000), rng.randrange(10_000)
    return f"+86 {prefix} {a:04d} {b:04d}" if rng.random() < 0.5 else f"{prefix}{a:04d}{b:04d}"


def _customer_identity(rng: random.Random, chinese: bool) -> tuple[str, str]:
    """A (name, email) pair: a company most of the time, sometimes a person."""
    person = rng.random() < 0.25
    if chinese and person:
        (s, s_py), (g, g_py) = rng.choice(SURNAMES), rng.choice(GIVEN_NAMES)
        return s + g, f"{s_py}{g_py}{rng.randint(1, 99)}@mail.example.com"
    if chinese:
        (c, c_py), (t, t_py), (i, i_py) = rng.choice(CITIES), rng.choice(TRADE_NAMES), rng.choice(INDUSTRIES)
        mailbox = rng.choice(["it", "finance", "admin", "ops"])
        return f"{c}{t}{i}有限公司", f"{mailbox}@{t_py}-{i_py}-{c_py}.example.com"
    if person:
        first, last = rng.choice(EN_FIRST), rng.choice(EN_LAST)
        return f"{first} {last}", f"{first.lower()}.{last.lower()}{rng.randint(1, 99)}@mail.example.com"
    stem, noun, suffix = rng.choice(EN_STEMS), rng.choice(EN_NOUNS), rng.choice(EN_SUFFIXES)
    mailbox = rng.choice(["billing", "accounts", "it", "cloud"])
    return f"{stem} {noun} {suffix}".strip(), f"{mailbox}@{_slug(stem + ' ' + noun)}.example.com"


def _person(rng: random.Random, chinese: bool) -> tuple[str, str, str]:
    """(first_name, last_name, email local part) of a partner's staff member."""
    if chinese:
        (s, s_py), (g, g_py) = rng.choice(SURNAMES), rng.choice(GIVEN_NAMES)
        return g, s, f"{g_py}.{s_py}"
    first, last = rng.choice(EN_FIRST), rng.choice(EN_LAST)
    return first, last, f"{first.lower()}.{last.lower()}"


# --------------------------------------------------------------------------------------------
# State and summary
# --------------------------------------------------------------------------------------------


@dataclass
class DemoSummary:
    """What the demo created, by key (partner codes, usernames, account ids, assignment ids)."""

    seed: int
    today: dt.date
    partners: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    customers: list[str] = field(default_factory=list)
    customers_by_partner: dict[str, int] = field(default_factory=dict)  # open associations
    customers_by_association_type: dict[str, int] = field(default_factory=dict)  # open associations
    associations: int = 0  # rows, history included
    moved_customers: list[str] = field(default_factory=list)
    assignments: list[int] = field(default_factory=list)  # AccountManagerAssignment ids, history included
    open_assignments: int = 0
    reassigned_customers: list[str] = field(default_factory=list)
    usage_batches: list[int] = field(default_factory=list)  # IngestBatch ids, one per month
    line_items: int = 0

    def render(self) -> str:
        by_type = ", ".join(f"{n} {t}" for t, n in sorted(self.customers_by_association_type.items()))
        by_partner = ", ".join(f"{code} {n}" for code, n in sorted(self.customers_by_partner.items()))
        return (
            f"Demo loaded (seed {self.seed}, as of {self.today.isoformat()}):\n"
            f"  partners     {len(self.partners)}\n"
            f"  users        {len(self.users)}\n"
            f"  customers    {len(self.customers)} ({by_type})\n"
            f"               {by_partner}\n"
            f"  associations {self.associations} ({len(self.moved_customers)} customers changed partner)\n"
            f"  assignments  {len(self.assignments)} ({self.open_assignments} open, "
            f"{len(self.reassigned_customers)} customers handed to a second account manager)\n"
            f"  usage        {self.line_items} line items in {len(self.usage_batches)} monthly batches\n"
        )


@dataclass
class _Demo:
    rng: random.Random
    today: dt.date
    summary: DemoSummary
    out: Writer | None
    partners: dict[str, Partner] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    customers: list[Customer] = field(default_factory=list)
    # account managers per partner code, manager 1 first
    managers: dict[str, list[User]] = field(default_factory=dict)
    usage_months: int = 13

    def day(self, days_ago: int) -> dt.date:
        return self.today - dt.timedelta(days=days_ago)

    def at(self, day: dt.date, *, earliest_hour: int = 9, latest_hour: int = 18) -> dt.datetime:
        """An office-hours instant on ``day`` (billing time zone), as UTC."""
        minutes = self.rng.randrange(earliest_hour * 60, latest_hour * 60)
        return clock.start_of_day(day) + dt.timedelta(minutes=minutes)

    def log(self, message: str) -> None:
        if self.out is not None:
            self.out.write(message + "\n")

    @property
    def operator(self) -> User:
        return self.users[OPERATOR_USERNAME]

    def admin_of(self, code: str) -> User:
        return self.users[username(code, Role.ADMIN)]


# --------------------------------------------------------------------------------------------
# Steps
# --------------------------------------------------------------------------------------------


def _create_partners(d: _Demo) -> None:
    with clock.frozen_at(d.at(d.day(HISTORY_DAYS))):
        for spec in PARTNERS:
            d.partners[spec.code] = services.create_partner(
                code=spec.code, name=spec.name, kind=spec.kind, parent_code=spec.parent
            )
    d.summary.partners = [spec.code for spec in PARTNERS]
    d.log(f"  partners: {len(d.partners)}")


def _create_users(d: _Demo) -> None:
    # create_user hashes whatever password it gets, which takes ~0.3 s with PBKDF2; the demo hashes
    # the demo password once and gives every user that hash. Passing None makes Django store an
    # unusable password without hashing (it is replaced right away).
    password_hash = make_password(settings.DEMO_PASSWORD)
    no_password = cast(str, None)
    taken: set[tuple[str, str]] = set()

    def add(name: str, *, chinese: bool, domain: str, **kwargs: Any) -> None:
        first, last, local = _person(d.rng, chinese)
        while (first, last) in taken:
            first, last, local = _person(d.rng, chinese)
        taken.add((first, last))
        user = account_services.create_user(
            username=name,
            password=no_password,
            check_password=False,
            email=f"{local}@{domain}",
            first_name=first,
            **kwargs,
        )
        user.last_name = last
        user.password = password_hash
        user.save(update_fields=["last_name", "password"])
        d.users[name] = user

    with clock.frozen_at(d.at(d.day(HISTORY_DAYS))):
        add(OPERATOR_USERNAME, chinese=True, domain="cloud.example.com", is_operator=True)
        for spec in PARTNERS:
            for role in ROLES:
                add(
                    username(spec.code, role),
                    chinese=spec.chinese,
                    domain=spec.domain,
                    partner_code=spec.code,
                    role=role,
                )
            managers = [d.users[username(spec.code, Role.ACCOUNT_MANAGER)]]
            if spec.second_account_manager:
                name = username(spec.code, Role.ACCOUNT_MANAGER, 2)
                add(name, chinese=spec.chinese, domain=spec.domain, partner_code=spec.code, role=Role.ACCOUNT_MANAGER)
                managers.append(d.users[name])
            d.managers[spec.code] = managers
    d.summary.users = list(d.users)
    d.log(f"  users: {len(d.users)}")


def _create_customers(d: _Demo) -> None:
    total = sum(spec.customers for spec in PARTNERS)
    account_numbers = d.rng.sample(range(100_000), total)
    names: set[str] = set()
    plan: list[tuple[dt.date, str, str, str, str, str, str]] = []
    for spec in PARTNERS:
        for _ in range(spec.customers):
            chinese = d.rng.random() < (0.75 if spec.chinese else 0.35)
            name, email = _customer_identity(d.rng, chinese)
            while name in names:
                name, email = _customer_identity(d.rng, chinese)
            names.add(name)
            account_id = f"2100000{account_numbers[len(plan)]:05d}"
            referral = d.rng.random() < spec.referral_share
            kind: str = AssociationType.REFERRAL if referral else AssociationType.RESELLER
            joined = d.day(d.rng.randint(3, CUSTOMER_DAYS))
            plan.append((joined, account_id, name, email, _mobile(d.rng), spec.code, kind))
    # Create them in the order they joined, each at a moment of the day it joined.
    for joined, account_id, name, email, mobile, code, kind in sorted(plan):
        with clock.frozen_at(d.at(joined)):
            d.customers.append(
                services.create_customer(
                    account_id=account_id,
                    name=name,
                    email=email,
                    mobile=mobile,
                    partner_code=code,
                    association_type=kind,
                    valid_from=clock.start_of_day(joined),
                    actor=d.operator,
                )
            )
    d.summary.customers = [c.account_id for c in d.customers]
    d.log(f"  customers: {len(d.customers)}")


def _move_target(d: _Demo, current: CustomerAssociation) -> tuple[Partner, str]:
    """Another partner for a customer, and an association type that partner may hold."""
    others = [p for code, p in d.partners.items() if code != current.partner.code]
    partner = d.rng.choice(others)
    if partner.kind == PartnerKind.REFERRAL:
        return partner, AssociationType.REFERRAL
    if current.partner.kind == PartnerKind.REFERRAL:
        # A referred customer that moves to a reseller usually switches to the reseller model.
        kind = AssociationType.RESELLER if d.rng.random() < 0.7 else AssociationType.REFERRAL
        return partner, kind
    return partner, current.association_type


def _move_customers(d: _Demo) -> None:
    """Some customers changed partner; the account manager the old partner had given them ends there."""
    current = {
        a.customer_id: a for a in CustomerAssociation.objects.select_related("partner").filter(valid_to__isnull=True)
    }
    old_enough = [c for c in d.customers if current[c.pk].valid_from <= clock.start_of_day(d.day(120))]
    moved = sorted(d.rng.sample(old_enough, MOVES), key=lambda c: c.pk)
    for customer in moved:
        assoc = current[customer.pk]
        joined = clock.billing_date(assoc.valid_from)
        move_day = joined + dt.timedelta(days=d.rng.randint(60, (d.day(14) - joined).days))
        # Before the move, the old partner had assigned the customer to its account manager.
        assigned_day = joined + dt.timedelta(days=d.rng.randint(1, (move_day - joined).days - 1))
        with clock.frozen_at(d.at(assigned_day)):
            code = assoc.partner.code
            services.assign_customers(actor=d.admin_of(code), customers=[customer], manager=d.managers[code][0])
        partner, kind = _move_target(d, assoc)
        with clock.frozen_at(d.at(move_day)):
            services.associate_customer(
                customer=customer,
                partner=partner,
                association_type=kind,
                valid_from=clock.start_of_day(move_day),
                actor=d.operator,
            )
    d.summary.moved_customers = [c.account_id for c in moved]
    d.log(f"  customers that changed partner: {len(moved)}")


def _batches(d: _Demo, items: list[Customer]) -> list[list[Customer]]:
    out, i = [], 0
    while i < len(items):
        n = d.rng.randint(4, 12)
        out.append(items[i : i + n])
        i += n
    return out


def _assign_account_managers(d: _Demo) -> None:
    """Each partner's admin assigns ~60% of its customers to its account managers, in batches."""
    current = {a.customer_id: a for a in CustomerAssociation.objects.filter(valid_to__isnull=True)}
    for spec in PARTNERS:
        managers = d.managers[spec.code]
        mine = [c for c in d.customers if current[c.pk].partner_id == d.partners[spec.code].pk]
        chosen = d.rng.sample(mine, round(len(mine) * ASSIGNED_SHARE))
        chosen.sort(key=lambda c: (current[c.pk].valid_from, c.pk))
        for n, batch in enumerate(_batches(d, chosen)):
            # A batch is assigned some days after its newest customer joined (or arrived).
            newest = max(clock.billing_date(current[c.pk].valid_from) for c in batch)
            day = min(newest + dt.timedelta(days=d.rng.randint(0, 30)), d.day(2))
            manager = managers[1] if len(managers) > 1 and n % 3 == 2 else managers[0]
            with clock.frozen_at(d.at(day)):
                services.assign_customers(actor=d.admin_of(spec.code), customers=batch, manager=manager)
    d.log(f"  account-manager assignments: {AccountManagerAssignment.objects.count()}")


def _reassign_customers(d: _Demo) -> None:
    """Later, some customers are handed over from account manager 1 to account manager 2."""
    with_two = [spec.code for spec in PARTNERS if len(d.managers[spec.code]) > 1]
    open_rows = list(
        AccountManagerAssignment.objects.select_related("customer")
        .filter(ended_at__isnull=True, assigned_at__lte=clock.start_of_day(d.day(30)))
        .order_by("customer_id")
    )
    reassigned: list[Customer] = []
    for i, code in enumerate(with_two):
        first, second = d.managers[code]
        share = REASSIGNED // len(with_two) + (1 if i < REASSIGNED % len(with_two) else 0)
        rows = d.rng.sample([a for a in open_rows if a.manager_id == first.pk], share)
        latest = max(clock.billing_date(a.assigned_at) for a in rows)
        day = latest + dt.timedelta(days=d.rng.randint(1, (d.day(1) - latest).days))
        customers = [a.customer for a in rows]
        with clock.frozen_at(d.at(day)):
            services.assign_customers(actor=d.admin_of(code), customers=customers, manager=second)
        reassigned += customers
    d.summary.reassigned_customers = sorted(c.account_id for c in reassigned)
    d.log(f"  customers handed to a second account manager: {len(reassigned)}")


def _summarise(d: _Demo) -> None:
    s = d.summary
    open_assocs = CustomerAssociation.objects.filter(valid_to__isnull=True).select_related("partner")
    s.customers_by_partner = dict(Counter(a.partner.code for a in open_assocs))
    s.customers_by_association_type = dict(Counter(str(a.association_type) for a in open_assocs))
    s.associations = CustomerAssociation.objects.count()
    s.assignments = list(AccountManagerAssignment.objects.order_by("pk").values_list("pk", flat=True))
    s.open_assignments = AccountManagerAssignment.objects.filter(ended_at__isnull=True).count()


def _load_usage(d: _Demo) -> None:
    """Thirteen months of line items, through the same ingestion path as real data."""
    from partnercenter.usage.demo import load_usage

    reports = load_usage(seed=d.summary.seed, today=d.today, months=d.usage_months)
    d.summary.usage_batches = [r.batch_id for r in reports if r.batch_id is not None]
    d.summary.line_items = sum(r.rows_new for r in reports)
    d.log(f"Usage: {d.summary.line_items} line items in {len(reports)} batches")


def _load_incentives(d: _Demo) -> None:
    """Incentive programs from the first month of usage, and their periods generated since."""
    from partnercenter.incentives.demo import load_incentives

    admins = {p.pk: d.admin_of(code) for code, p in d.partners.items()}
    made = load_incentives(
        today=d.today,
        months=d.usage_months,
        operator=d.operator,
        admin=admins.get,
        seed=d.summary.seed,
    )
    d.log(f"Incentives: {made.incentives} in {len(made.periods)} program periods ({made.clawbacks} clawbacks)")


def _load_leads(d: _Demo) -> None:
    """A few leads per partner, some dispatched to its first account manager and followed up."""
    from partnercenter.leads.demo import load_leads

    made = load_leads(
        today=d.today,
        operator=d.operator,
        admin=d.admin_of,
        staff=lambda code: next(iter(d.managers.get(code, [])), None),
        seed=d.summary.seed,
    )
    d.log(f"Leads: {made}")


def _raise_alerts(d: _Demo) -> None:
    """The customer alerts the worker's catch-up would raise by now."""
    from partnercenter.alerts.services import raise_due

    d.log(f"Customer alerts: {raise_due(clock.now())} raised")


def _load_marketplace(d: _Demo) -> None:
    """Marketplace products with a publisher partner, and enrolled service providers (O5)."""
    from partnercenter.marketplace.demo import PROVIDERS, load_marketplace

    months_back = d.today.year * 12 + d.today.month - d.usage_months
    first = dt.date(months_back // 12, months_back % 12 + 1, 1)
    made = load_marketplace(since=first, link_by=d.admin_of(PROVIDERS[0]))
    d.log(f"Marketplace: {made.products} products, {made.providers} service providers")


STEPS = (
    _create_partners,
    _create_users,
    _create_customers,
    _move_customers,
    _assign_account_managers,
    _reassign_customers,
    _load_usage,
    _load_incentives,
    _load_leads,
    _raise_alerts,
    _load_marketplace,
    _summarise,
)


def build_demo(*, seed: int = DEFAULT_SEED, stdout: Writer | None = None, usage_months: int = 13) -> DemoSummary:
    """Build the demo organisation into an empty database, all-or-nothing.

    Raises :class:`Conflict` when partners already exist: the demo never mixes with real data.
    """
    today = clock.today()
    d = _Demo(rng=random.Random(seed), today=today, summary=DemoSummary(seed=seed, today=today), out=stdout)
    d.usage_months = usage_months
    with transaction.atomic():
        if Partner.objects.exists():
            raise Conflict(
                "The database already has partners; the demo only loads into an empty one.", code="demo_already_loaded"
            )
        for step in STEPS:
            step(d)
    return d.summary
