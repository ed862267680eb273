"""`make demo`: a demo organisation loaded into a running Salesplane through the gateway's public
HTTP JSON API only (no database, no gRPC), so that a newcomer signing in to the console sees a
living sales team in the first minute.

What it makes (money is always integer minor units with its currency):

- the organisation: the administrator `admin`, the VP `vp`, three managers reporting to the VP and
  four reps under each manager, with names and e-mails;
- the forecast settings (include from 70 %, upside from 40 %) when they differ, and EUR and PLN
  rates to the base currency;
- quotas for this fiscal quarter and the next, top-down: the admin sets the VP's, the VP splits it
  among the managers and each manager among their reps, each through a quota-plan draft and commit;
- lead sources and campaigns with recorded costs; leads with touches in every status, some
  qualified, some converted into deals;
- 8-12 deals a rep, in USD, EUR and PLN, created as the rep: open in several stages this quarter
  and the next, some won and lost this quarter. One rep (tomasz.wojcik, BEHIND_REP) is behind: few
  small deals, stuck in the first stage, one past due, one pushed out of the quarter;
- worksheet commits for this quarter: every rep, then every manager, then the VP.

Running it again is harmless: a run that finds the VP's commit for this quarter (the last thing a
run makes) says "already loaded" and changes nothing. A run stopped before that resumes, because
every create carries an idempotency key (or is looked up by name) and every later step brings a
record to its target state instead of repeating itself.

    SALESPLANE_ENV=development .venv/bin/python scripts/load_demo.py [--gateway URL]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from salesplane_platform.authentication import auth_settings_from
from salesplane_platform.errors import ConfigurationError
from salesplane_platform.identity import issue_token

DEFAULT_GATEWAY = "http://127.0.0.1:8080"
# (user id, roles) -> a bearer token the gateway accepts for that user.
TokenFor = Callable[[str, tuple[str, ...]], str]
Json = dict[str, Any]

# Enough threads to keep the gateway's 8 workers busy, few enough for a 2-core laptop.
WORKERS = 6
REQUEST_TIMEOUT_SECONDS = 30.0
# Users, and reports-to lines, reach leads and opportunities by event: their refusals of a user
# created a moment ago (422 OWNER_NOT_ACTIVE, a manager's 403) end within a second or so.
REPLICATION_WAIT_SECONDS = 45.0
# Deals reach forecasting by event too: a worksheet is committed once it shows them all.
WORKSHEET_WAIT_SECONDS = 90.0
TRANSIENT_STATUSES = frozenset({502, 503, 504})

# --------------------------------------------------------------------------------------------
# The organisation


@dataclass(frozen=True)
class Person:
    user_id: str
    display_name: str
    roles: tuple[str, ...]
    manager: str = ""
    email_name: str = ""

    @property
    def email(self) -> str:
        return f"{self.email_name or self.user_id}@example.com"


ADMIN = Person("admin", "Administrator", ("admin",))
VP = Person("vp", "Katarzyna Wiśniewska", ("manager",), email_name="katarzyna.wisniewska")
MANAGERS = (
    Person("marek.kowalski", "Marek Kowalski", ("manager",), "vp"),
    Person("sarah.chen", "Sarah Chen", ("manager",), "vp"),
    Person("piotr.zielinski", "Piotr Zieliński", ("manager",), "vp"),
)
_TEAMS = {
    "marek.kowalski": (
        ("anna.nowak", "Anna Nowak"),
        ("jan.kaminski", "Jan Kamiński"),
        ("magdalena.lewandowska", "Magdalena Lewandowska"),
        ("tomasz.wojcik", "Tomasz Wójcik"),
    ),
    "sarah.chen": (
        ("emma.johnson", "Emma Johnson"),
        ("lucas.martin", "Lucas Martin"),
        ("olivia.brown", "Olivia Brown"),
        ("noah.garcia", "Noah Garcia"),
    ),
    "piotr.zielinski": (
        ("zofia.szymanska", "Zofia Szymańska"),
        ("lukas.schmidt", "Lukas Schmidt"),
        ("agnieszka.dabrowska", "Agnieszka Dąbrowska"),
        ("mateo.rossi", "Mateo Rossi"),
    ),
}
REPS = tuple(
    Person(user_id, name, ("rep",), manager) for manager, team in _TEAMS.items() for user_id, name in team
)
# The rep the pipeline inspection should flag: few, small, early deals that do not move.
BEHIND_REP = "tomasz.wojcik"
# Managers come after the VP and reps after their managers: a manager must exist to be reported to.
ORGANISATION = (ADMIN, VP, *MANAGERS, *REPS)
ROLES = {person.user_id: person.roles for person in ORGANISATION}


def team_of(manager: str) -> tuple[Person, ...]:
    return tuple(person for person in ORGANISATION if person.manager == manager)


# --------------------------------------------------------------------------------------------
# Plans and money

# Quotas in the base currency's minor units, (this quarter, next quarter): each level gives away
# less than it holds, so every plan shows something unallocated.
VP_QUOTA = (300_000_000, 350_000_000)
MANAGER_QUOTA = (95_000_000, 110_000_000)
REP_QUOTA = (22_000_000, 26_000_000)

# What one unit of each demo currency is worth in US dollars; rates to any of them derive from it.
USD_VALUE = {"USD": Decimal("1"), "EUR": Decimal("1.0825"), "PLN": Decimal("0.2512")}
DEAL_CURRENCIES = ("USD", "USD", "USD", "EUR", "EUR", "PLN", "PLN")
# Amount ranges per currency in major units: PLN deals are about four times the digits.
AMOUNT_RANGE = {"USD": (15_000, 120_000), "EUR": (12_000, 100_000), "PLN": (60_000, 450_000)}
SMALL_RANGE = {"USD": (6_000, 14_000), "EUR": (5_000, 12_000), "PLN": (25_000, 55_000)}

DEMO_RANGES = (
    {"name": "Include", "min_probability": 70, "max_probability": 100, "commit_stage": "include"},
    {"name": "Upside", "min_probability": 40, "max_probability": 69, "commit_stage": "upside"},
    {"name": "Exclude", "min_probability": 0, "max_probability": 39, "commit_stage": "exclude"},
)

ACCOUNTS = (
    "Vistula Retail", "Baltic Logistics", "Kraków Software House", "Helios Energy", "Mazovia Bank",
    "Tatra Outdoor", "Silesia Steel", "Gdańsk Port Services", "Wrocław Robotics", "Poznań Motors",
    "Nordic Foods", "Alpine Insurance", "Lumen Analytics", "Delta Pharma", "Amber Travel",
    "Rhine Chemicals", "Harbour Telecom", "Orbit Media",
)  # fmt: skip
PRODUCTS = ("CRM rollout", "renewal", "analytics add-on", "expansion", "pilot", "support upgrade")
NEXT_STEPS = (
    "Send the revised proposal",
    "Demo for the IT team",
    "Spotkanie z zarządem",
    "Legal review of the MSA",
    "Negocjacje cenowe",
    "Security questionnaire",
    "Call with procurement",
)
WON_REASONS = ("Best fit for the sales team", "Wygrana dzięki pilotażowi", "Price and support")
LOST_REASONS = ("Went with a competitor", "No budget this year", "Wybrali konkurencję", "Project postponed")
COMMIT_NOTES = (
    "Two deals in negotiation; the rest follows in January.",
    "Umowy w negocjacjach, reszta w styczniu.",
    "Confident on the included deals.",
)


@dataclass(frozen=True)
class Period:
    period_id: str
    start: date
    end: date


@dataclass(frozen=True)
class Calendar:
    today: date
    current: Period
    next: Period

    def day_between(self, rng: random.Random, first: date, last: date) -> date:
        if last <= first:
            return first
        return first + timedelta(days=rng.randrange((last - first).days + 1))

    def closing_this_quarter(self, rng: random.Random) -> date:
        """An open deal's date: between tomorrow and the quarter's end (its end on the last day)."""
        return self.day_between(rng, min(self.today + timedelta(days=1), self.current.end), self.current.end)

    def closed_this_quarter(self, rng: random.Random) -> date:
        return self.day_between(rng, self.current.start, self.today)

    def closing_next_quarter(self, rng: random.Random) -> date:
        return self.day_between(rng, self.next.start, self.next.end)


@dataclass(frozen=True)
class DealPlan:
    key: str
    name: str
    account: str
    currency: str
    amount_minor: int
    stage: str  # the open stage it ends in (won and lost: the one it is closed from)
    close_date: date
    outcome: str = "open"  # open, won, lost
    reason: str = ""
    next_step: str = ""
    campaign: str = ""  # a CAMPAIGNS name: the deal's lead source and campaign
    created_stage: str = ""  # the stage it is created in, when it moves on afterwards
    created_close_date: date | None = None  # the date it is created with, when pushed afterwards


@dataclass(frozen=True)
class CampaignPlan:
    name: str
    source: str
    channel: str
    currency: str
    budget_minor: int
    costs_minor: tuple[int, ...]


SOURCES = (
    ("Webinary", "web"),
    ("Targi i konferencje", "event"),
    ("Paid search", "paid_search"),
    ("Partner referrals", "partner"),
)
CAMPAIGNS = (
    CampaignPlan("Webinar: forecasts that hold", "Webinary", "web", "USD", 1_500_000, (420_000, 310_000)),
    CampaignPlan(
        "Targi Poznań Sales Expo", "Targi i konferencje", "event", "PLN", 12_000_000, (5_500_000, 2_750_000)
    ),
    CampaignPlan(
        "Google Ads Q4", "Paid search", "paid_search", "EUR", 2_000_000, (640_000, 710_000, 580_000)
    ),
    CampaignPlan("Partner programme", "Partner referrals", "partner", "USD", 500_000, (150_000,)),
)


def money(currency: str, amount_minor: int) -> Json:
    return {"currency_code": currency, "amount_minor": amount_minor}


def minor(value: Json | None) -> int:
    return int((value or {}).get("amount_minor") or 0)


def random_amount(rng: random.Random, currency: str, ranges: Mapping[str, tuple[int, int]]) -> int:
    low, high = ranges[currency]
    return rng.randrange(low, high, 500) * 100  # round hundreds of major units, in minor units


def rep_rng(user_id: str, purpose: str) -> random.Random:
    # A string seed is hashed the same in every process: a rerun plans exactly the same records.
    return random.Random(f"salesplane-demo:{purpose}:{user_id}")


def plan_deals(rep: Person, stages: Sequence[str], calendar: Calendar) -> list[DealPlan]:
    if rep.user_id == BEHIND_REP:
        return plan_behind_deals(rep, stages, calendar)
    rng = rep_rng(rep.user_id, "deals")
    late, early = stages[3:] or stages, stages[1:-2] or stages
    shapes = [("won", stages[-1])] * 2 + [("lost", rng.choice(stages[2:] or stages))]
    shapes += [("open", rng.choice(late)) for _ in range(4)]
    shapes += [("next", rng.choice(early)) for _ in range(3)]
    plans = []
    for number, (shape, stage) in enumerate(shapes):
        currency = rng.choice(DEAL_CURRENCIES)
        account = rng.choice(ACCOUNTS)
        plans.append(
            DealPlan(
                key=f"demo:deal:{rep.user_id}:{number}",
                name=f"{account} {rng.choice(PRODUCTS)}",
                account=account,
                currency=currency,
                amount_minor=random_amount(rng, currency, AMOUNT_RANGE),
                stage=stage,
                close_date=close_date_of(shape, calendar, rng),
                outcome="open" if shape in ("open", "next") else shape,
                reason=rng.choice(WON_REASONS if shape == "won" else LOST_REASONS),
                next_step=rng.choice(NEXT_STEPS) if shape in ("open", "next") else "",
                campaign=CAMPAIGNS[number % len(CAMPAIGNS)].name if number % 3 == 0 else "",
                # Won deals walk from the first stage: their short stays there are what makes the
                # behind rep's deals, sitting in it all along, count as stalled.
                created_stage=stages[0] if shape == "won" else "",
            )
        )
    return plans


def close_date_of(shape: str, calendar: Calendar, rng: random.Random) -> date:
    """Open deals close ahead (this quarter or the next); won and lost ones closed already."""
    if shape == "next":
        return calendar.closing_next_quarter(rng)
    if shape == "open":
        return calendar.closing_this_quarter(rng)
    return calendar.closed_this_quarter(rng)


def plan_behind_deals(rep: Person, stages: Sequence[str], calendar: Calendar) -> list[DealPlan]:
    """Few small deals, all in the first stage and without a next step: one past due, one pushed
    out of the quarter, one lost."""
    rng = rep_rng(rep.user_id, "deals")
    past_due = max(calendar.current.start, calendar.today - timedelta(days=12))
    shapes = [
        ("open", stages[0], past_due, None),
        ("open", stages[0], calendar.closing_this_quarter(rng), None),
        ("open", stages[0], calendar.closing_next_quarter(rng), calendar.closing_this_quarter(rng)),
        ("lost", stages[1 % len(stages)], calendar.closed_this_quarter(rng), None),
    ]
    plans = []
    for number, (outcome, stage, close_date, created_close_date) in enumerate(shapes):
        currency = DEAL_CURRENCIES[number * 2]
        account = ACCOUNTS[-1 - number]
        plans.append(
            DealPlan(
                key=f"demo:deal:{rep.user_id}:{number}",
                name=f"{account} pilot",
                account=account,
                currency=currency,
                amount_minor=random_amount(rng, currency, SMALL_RANGE),
                stage=stage,
                close_date=close_date,
                outcome=outcome,
                reason="No budget this year",
                created_close_date=created_close_date,
            )
        )
    return plans


# Leads: what each rep's leads become, in order; the behind rep only gets one, never worked.
LEAD_GOALS = ("converted", "in_process", "assigned", "put_aside")
FIRST_NAMES = (
    "Ewa", "Paweł", "Julia", "Michał", "Karolina", "Krzysztof", "Natalia", "Adam",
    "Laura", "Daniel", "Sophie", "Jonas", "Maria", "Oskar", "Hanna", "Igor",
)  # fmt: skip
LAST_NAMES = (
    "Kowalczyk", "Mazur", "Krawczyk", "Wróbel", "Kaczmarek", "Becker", "Dubois", "Novak",
    "Walker", "Rossi", "Lindqvist", "Pawlak", "Wieczorek", "Keller", "Zając", "Duda",
)  # fmt: skip
TITLES = ("Head of Sales", "CFO", "IT Director", "Dyrektor handlowy", "COO", "Procurement Manager")
_ASCII = str.maketrans("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ", "acelnoszzACELNOSZZ")


@dataclass(frozen=True)
class LeadPlan:
    key: str
    number: int  # unique across the demo: makes the person, e-mail and phone unique
    goal: str  # converted, in_process, assigned, put_aside, new
    campaigns: tuple[str, ...]
    assignee: str = ""
    won: bool = False  # a converted lead whose deal is then won

    @property
    def first_name(self) -> str:
        return FIRST_NAMES[self.number % len(FIRST_NAMES)]

    @property
    def last_name(self) -> str:
        # Shifted by the row: every number below 256 gets its own first and last name pair.
        return LAST_NAMES[(self.number // len(FIRST_NAMES) + self.number) % len(LAST_NAMES)]

    @property
    def company(self) -> str:
        return ACCOUNTS[self.number % len(ACCOUNTS)]

    @property
    def email(self) -> str:
        domain = self.company.lower().replace(" ", "-").translate(_ASCII)
        return f"{self.first_name}.{self.last_name}@{domain}.example".lower().translate(_ASCII)

    @property
    def phone(self) -> str:
        return f"+48 600 {100 + self.number // 100:03d} {self.number % 100:03d}"


def plan_rep_leads(rep_index: int, rep: Person) -> list[LeadPlan]:
    goals = ("assigned",) if rep.user_id == BEHIND_REP else LEAD_GOALS
    plans = []
    for position, goal in enumerate(goals):
        number = rep_index * len(LEAD_GOALS) + position
        first, second = CAMPAIGNS[number % len(CAMPAIGNS)], CAMPAIGNS[(number + 1) % len(CAMPAIGNS)]
        plans.append(
            LeadPlan(
                key=f"demo:lead:{rep.user_id}:{position}",
                number=number,
                goal=goal,
                campaigns=(first.name, second.name) if goal == "converted" else (first.name,),
                assignee=rep.user_id,
                won=goal == "converted" and rep_index % 2 == 0,
            )
        )
    return plans


def plan_new_leads(count: int = 6) -> list[LeadPlan]:
    """Unassigned leads from the trade show, waiting for a manager to hand them out."""
    start = len(REPS) * len(LEAD_GOALS)
    return [
        LeadPlan(f"demo:lead:new:{n}", start + n, "new", ("Targi Poznań Sales Expo",)) for n in range(count)
    ]


# --------------------------------------------------------------------------------------------
# The gateway over HTTP


class DemoLoadError(RuntimeError):
    """A request the gateway refused for good, or a wait that did not end."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: Json
    retry_after: float


class Gateway:
    """The gateway as an HTTP client reaches it: JSON in and out, a bearer token per user, one
    keep-alive connection per thread (a fresh TCP connection per call would double the cost)."""

    def __init__(self, base_url: str, token_for: TokenFor) -> None:
        parts = urllib.parse.urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DemoLoadError(f"not an http(s) URL: {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path
        self._token_for = token_for
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    def token(self, user: str) -> str:
        # One token per user: the gateway remembers verified tokens, so reuse saves it a signature check.
        with self._lock:
            if user not in self._tokens:
                self._tokens[user] = self._token_for(user, ROLES.get(user, ("rep",)))
            return self._tokens[user]

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            connection = kind(self._host, self._port, timeout=REQUEST_TIMEOUT_SECONDS)
            self._local.connection = connection
        return connection

    def _drop_connection(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
        self._local.connection = None

    def send(self, method: str, path: str, user: str, body: Json | None = None) -> Answer:
        """One request; a connection the server closed while idle is reopened once."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {self.token(user)}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        try:
            return self._exchange(method, path, data, headers)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # waitress closes connections idle for a while: that one is gone, not the gateway.
            self._drop_connection()
            return self._exchange(method, path, data, headers)

    def _exchange(self, method: str, path: str, data: bytes | None, headers: Mapping[str, str]) -> Answer:
        connection = self._connection()
        connection.request(method, self._prefix + path, body=data, headers=dict(headers))
        response = connection.getresponse()
        raw = response.read()
        parsed = json.loads(raw) if raw else {}
        body = parsed if isinstance(parsed, dict) else {"value": parsed}
        return Answer(response.status, body, float(response.getheader("Retry-After") or 1))

    def call(
        self, method: str, path: str, user: str, body: Json | None = None, *, replicated: bool = False
    ) -> Json:
        """The answer of a 2xx; waits out rate limits, a restarting upstream and a user not yet
        replicated (bounded). `replicated`: a 403 may be a reports-to line still on its way too."""
        deadline = time.monotonic() + REPLICATION_WAIT_SECONDS
        pause = 0.1
        while True:
            answer = self.send(method, path, user, body)
            if 200 <= answer.status < 300:
                return answer.body
            if time.monotonic() > deadline or not self._worth_retrying(answer, replicated):
                raise DemoLoadError(
                    f"{method} {path} as {user}: {answer.status} "
                    f"{answer.body.get('detail') or answer.body.get('title') or answer.body}"
                )
            if answer.status == 429:  # the per-user rate limit of `make run`'s gateway
                time.sleep(min(answer.retry_after, 5.0))
            else:
                time.sleep(pause)
                pause = min(pause * 2, 1.0)

    @staticmethod
    def _worth_retrying(answer: Answer, replicated: bool) -> bool:
        if answer.status == 429 or answer.status in TRANSIENT_STATUSES:
            return True
        if answer.status == 422 and answer.body.get("reason") == "OWNER_NOT_ACTIVE":
            return True
        return replicated and answer.status == 403

    def list_all(self, path: str, user: str, key: str, query: Mapping[str, str] | None = None) -> list[Json]:
        """Every item of a paged list."""
        items: list[Json] = []
        params = {"page_size": "500", **(query or {})}
        while True:
            page = self.call("GET", f"{path}?{urllib.parse.urlencode(params)}", user)
            items.extend(page.get(key) or [])
            token = page.get("next_page_token")
            if not token:
                return items
            params["page_token"] = token


def segment(value: str) -> str:
    return urllib.parse.quote(value, safe="")


# --------------------------------------------------------------------------------------------
# Loading, step by step


@dataclass
class Context:
    api: Gateway
    calendar: Calendar
    base_currency: str
    stages: list[str]
    sources: dict[str, str] = field(default_factory=dict)  # name -> id
    campaigns: dict[str, Json] = field(default_factory=dict)  # name -> campaign

    @property
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class DemoSummary:
    gateway: str
    already_loaded: bool
    seconds: float
    current_period: str
    next_period: str
    users: tuple[str, ...]
    deals: int
    won: int
    lost: int
    currencies: tuple[str, ...]
    leads: int
    converted_leads: int
    campaigns_with_cost: int
    rep_commits: int
    manager_commits: int

    @property
    def console_url(self) -> str:
        return f"{self.gateway}/"


def period_of(api: Gateway, day: date) -> Period:
    quarter = api.call("GET", f"/v1/periods:of-date?date={day.isoformat()}", ADMIN.user_id)["quarter"]
    return Period(
        quarter["period_id"],
        date.fromisoformat(quarter["start_date"]),
        date.fromisoformat(quarter["end_date"]),
    )


def calendar_of(api: Gateway, today: date) -> Calendar:
    current = period_of(api, today)
    return Calendar(today, current, period_of(api, current.end + timedelta(days=1)))


def already_loaded(api: Gateway, calendar: Calendar) -> bool:
    """The VP's manager commit for this quarter is the last thing a complete run makes."""
    path = f"/v1/forecast-commits/{VP.user_id}/{calendar.current.period_id}?kind=manager"
    return bool(api.call("GET", path, ADMIN.user_id).get("commits"))


def ensure_forecast_settings(api: Gateway) -> str:
    """Include from 70 %, upside from 40 % (the defaults: usually nothing to do). The base currency."""
    settings = api.call("GET", "/v1/forecast-settings", ADMIN.user_id)
    ranges = [{k: r.get(k) for k in DEMO_RANGES[0]} for r in settings.get("ranges") or []]
    if settings.get("range_scheme") != "three_buckets" or ranges != list(DEMO_RANGES):
        body = {
            "fiscal_year_start_month": settings.get("fiscal_year_start_month") or 1,
            "range_scheme": "three_buckets",
            "ranges": list(DEMO_RANGES),
            "show_likely": True,
            "show_best": True,
            "show_worst": True,
        }
        api.call("PUT", "/v1/forecast-settings", ADMIN.user_id, body)
    return str(settings.get("currency_code") or "USD")


def set_exchange_rates(api: Gateway, base_currency: str, calendar: Calendar) -> None:
    if base_currency not in USD_VALUE:
        raise DemoLoadError(f"the demo has rates to USD, EUR and PLN only, not to {base_currency}")
    # From the start of last year: every demo deal's close date finds it, and so do older reports.
    effective = date(calendar.today.year - 1, 1, 1).isoformat()
    for currency, value in USD_VALUE.items():
        if currency != base_currency:
            rate = (value / USD_VALUE[base_currency]).quantize(Decimal("0.000001"))
            path = f"/v1/exchange-rates/{currency}/{effective}"
            api.call("PUT", path, ADMIN.user_id, {"rate": str(rate.normalize())})


def upsert_users(api: Gateway) -> None:
    for person in ORGANISATION:
        body = {
            "display_name": person.display_name,
            "email": person.email,
            "roles": list(person.roles),
            "manager_user_id": person.manager,
            "active": True,
        }
        api.call("PUT", f"/v1/users/{segment(person.user_id)}", ADMIN.user_id, body)


def commit_split(ctx: Context, manager: str, period: Period, shares: Mapping[str, int]) -> None:
    """The manager's split of their quota: a draft (only they see it), then committed."""
    plan = f"/v1/quota-plans/{segment(manager)}/{period.period_id}"
    allocations = [
        {"user_id": user, "kind": "assigned", "amount": money(ctx.base_currency, amount)}
        for user, amount in shares.items()
    ]
    ctx.api.call("PUT", f"{plan}/draft", manager, {"allocations": allocations})
    ctx.api.call("POST", f"{plan}:commit", manager, {})


def set_quotas(ctx: Context, pool: ThreadPoolExecutor) -> None:
    periods = (ctx.calendar.current, ctx.calendar.next)
    for index, period in enumerate(periods):
        path = f"/v1/quotas/{VP.user_id}/{period.period_id}"
        ctx.api.call("PUT", path, ADMIN.user_id, {"amount": money(ctx.base_currency, VP_QUOTA[index])})
        commit_split(ctx, VP.user_id, period, {m.user_id: MANAGER_QUOTA[index] for m in MANAGERS})
    # The managers split theirs at once: each plan touches only its own team (a manager's own
    # saves and commits take turns in forecasting, so each manager's two quarters go in turn).
    for job in [pool.submit(split_team_quotas, ctx, manager.user_id, periods) for manager in MANAGERS]:
        job.result()


def split_team_quotas(ctx: Context, manager: str, periods: Sequence[Period]) -> None:
    for index, period in enumerate(periods):
        commit_split(ctx, manager, period, {rep.user_id: REP_QUOTA[index] for rep in team_of(manager)})


def ensure_marketing(ctx: Context) -> None:
    """Lead sources and campaigns (looked up by name, so a rerun makes none twice) and their costs
    (idempotent by request id)."""
    admin = ADMIN.user_id
    existing = {
        s["name"]: s["id"] for s in ctx.api.call("GET", "/v1/lead-sources", admin).get("lead_sources") or []
    }
    for name, channel in SOURCES:
        if name not in existing:
            existing[name] = ctx.api.call(
                "POST", "/v1/lead-sources", admin, {"name": name, "channel": channel}
            )["id"]
    ctx.sources = existing
    campaigns = {c["name"]: c for c in ctx.api.call("GET", "/v1/campaigns", admin).get("campaigns") or []}
    for plan in CAMPAIGNS:
        campaign = campaigns.get(plan.name) or create_campaign(ctx, plan)
        for number, amount in enumerate(plan.costs_minor):
            campaign = record_cost(ctx, plan, campaign["id"], number, amount)
        ctx.campaigns[plan.name] = campaign


def create_campaign(ctx: Context, plan: CampaignPlan) -> Json:
    body = {
        "name": plan.name,
        "lead_source_id": ctx.sources[plan.source],
        "channel": plan.channel,
        "budget": money(plan.currency, plan.budget_minor),
        "expected_cost": money(plan.currency, plan.budget_minor * 9 // 10),
        "expected_revenue": money(plan.currency, plan.budget_minor * 8),
        "start_date": ctx.calendar.current.start.isoformat(),
        "end_date": ctx.calendar.next.end.isoformat(),
    }
    return ctx.api.call("POST", "/v1/campaigns", ADMIN.user_id, body)


def record_cost(ctx: Context, plan: CampaignPlan, campaign_id: str, number: int, amount: int) -> Json:
    incurred = min(ctx.calendar.today, ctx.calendar.current.start + timedelta(days=3 + 20 * number))
    body = {
        "incurred_on": incurred.isoformat(),
        "amount": money(plan.currency, amount),
        "note": f"Invoice {number + 1}",
        "request_id": f"demo:cost:{campaign_id}:{number}",
    }
    return ctx.api.call("POST", f"/v1/campaigns/{campaign_id}:record-cost", ADMIN.user_id, body)


# ---- deals


def realise_deal(ctx: Context, rep: Person, plan: DealPlan) -> Json:
    """Create the deal as its owner, then bring it to the plan: moved on, pushed, closed."""
    deal = create_deal(ctx, rep, plan)
    if deal.get("status") != "open":
        return deal  # a rerun: this one was closed already
    changes: Json = {}
    if deal.get("sales_stage") != plan.stage:
        changes["sales_stage"] = plan.stage
    if deal.get("expected_close_date") != plan.close_date.isoformat():
        changes["expected_close_date"] = plan.close_date.isoformat()
    path = f"/v1/opportunities/{deal['id']}"
    if changes:
        deal = ctx.api.call("PATCH", path, rep.user_id, changes)
    if plan.outcome != "open":
        body = {"outcome": plan.outcome, "reason": plan.reason}
        deal = ctx.api.call("POST", f"{path}:close", rep.user_id, body)
    return deal


def create_deal(ctx: Context, rep: Person, plan: DealPlan) -> Json:
    body: Json = {
        "name": plan.name,
        "account_name": plan.account,
        "owner_user_id": rep.user_id,
        "amount": money(plan.currency, plan.amount_minor),
        "expected_close_date": (plan.created_close_date or plan.close_date).isoformat(),
        "sales_stage": plan.created_stage or plan.stage,
        "next_step": plan.next_step,
        # A rerun gets the deal the first run made, whatever became of it since.
        "request_id": plan.key,
    }
    if plan.campaign:
        campaign = ctx.campaigns[plan.campaign]
        body["campaign_id"] = campaign["id"]
        body["lead_source_id"] = campaign["lead_source_id"]
    # The rep may be a moment old: opportunities learns of them by event.
    return ctx.api.call("POST", "/v1/opportunities", rep.user_id, body, replicated=True)


# ---- leads


def realise_lead(ctx: Context, plan: LeadPlan) -> Json | None:
    """Create the lead with its touches, then bring it to its goal. The deal of a converted lead."""
    actor = plan.assignee or ADMIN.user_id
    lead = create_lead(ctx, plan, actor)
    path = f"/v1/leads/{lead['id']}"
    status = lead.get("status")
    if plan.goal == "in_process" and status == "assigned":
        ctx.api.call("POST", f"{path}:change-status", actor, {"status": "in_process"})
    if plan.goal in ("in_process", "converted") and status != "converted":
        ctx.api.call("POST", f"{path}:qualify", actor, {"qualification": qualification(ctx, plan)})
    if plan.goal == "put_aside" and status == "assigned":
        body = (
            {"status": "dead", "reason": "No budget until 2028"}
            if (plan.number // len(LEAD_GOALS)) % 2
            else {"status": "recycled", "reason": "Call again in spring"}
        )
        ctx.api.call("POST", f"{path}:change-status", actor, body)
    if plan.goal != "converted":
        return None
    return convert_lead(ctx, plan, lead, actor)


def create_lead(ctx: Context, plan: LeadPlan, actor: str) -> Json:
    campaign = ctx.campaigns[plan.campaigns[0]]
    touches = [
        {
            "campaign_id": ctx.campaigns[name]["id"],
            "kind": "event" if name.startswith("Targi") else ("form", "email_click", "ad")[step],
            "touch_time": touch_time(ctx, plan, step),
            "touch_key": f"{plan.key}:{step}",
        }
        for step, name in enumerate(plan.campaigns)
    ]
    body = {
        "lead": {
            "first_name": plan.first_name,
            "last_name": plan.last_name,
            "company": plan.company,
            "email": plan.email,
            "phone": plan.phone,
            "title": TITLES[plan.number % len(TITLES)],
            "lead_source_id": campaign["lead_source_id"],
            "campaign_id": campaign["id"],
        },
        "assigned_user_id": plan.assignee,
        "request_id": plan.key,
        "touches": touches,
    }
    lead: Json = ctx.api.call("POST", "/v1/leads", actor, body, replicated=True)["lead"]
    return lead


def touch_time(ctx: Context, plan: LeadPlan, step: int) -> str:
    """Days into the quarter, never in the future (the service refuses those)."""
    start = datetime.combine(ctx.calendar.current.start, datetime.min.time(), UTC)
    moment = start + timedelta(days=2 + plan.number % 20 + 5 * step, hours=9 + step)
    return min(moment, ctx.now - timedelta(minutes=10 - step)).strftime("%Y-%m-%dT%H:%M:%SZ")


def qualification(ctx: Context, plan: LeadPlan) -> Json:
    hot = plan.goal == "converted"
    currency = DEAL_CURRENCIES[plan.number % len(DEAL_CURRENCIES)]
    return {
        "authority": "decision_maker" if hot else "influencer",
        "need": "high" if hot else "medium",
        "budget": money(currency, (50_000 if hot else 12_000) * 100 * (4 if currency == "PLN" else 1)),
        "timeline": (ctx.calendar.today + timedelta(days=30 if hot else 120)).isoformat(),
    }


def convert_lead(ctx: Context, plan: LeadPlan, lead: Json, actor: str) -> Json:
    rng = rep_rng(plan.key, "conversion")
    if lead.get("status") == "converted":
        deal_id = lead["converted_opportunity_id"]
    else:
        currency = DEAL_CURRENCIES[plan.number % len(DEAL_CURRENCIES)]
        close = ctx.calendar.closing_this_quarter(rng) if plan.won else ctx.calendar.closing_next_quarter(rng)
        body = {
            "opportunity_name": f"{plan.company} first order",
            "amount": money(currency, random_amount(rng, currency, AMOUNT_RANGE)),
            "expected_close_date": close.isoformat(),
            "sales_stage": ctx.stages[min(2, len(ctx.stages) - 1)],
            "next_step": "Kick-off call",
        }
        # Leads creates the deal in opportunities for the rep: it too must know the rep by then.
        deal_id = ctx.api.call("POST", f"/v1/leads/{lead['id']}:convert", actor, body, replicated=True)[
            "opportunity_id"
        ]
    deal = ctx.api.call("GET", f"/v1/opportunities/{deal_id}", actor)
    if plan.won and deal.get("status") == "open":
        body = {"outcome": "won", "reason": "Came from the campaign, signed fast"}
        deal = ctx.api.call("POST", f"/v1/opportunities/{deal_id}:close", actor, body)
    return deal


# ---- a rep's whole day, and the commits


def load_rep(ctx: Context, rep_index: int, rep: Person) -> None:
    deals = [realise_deal(ctx, rep, plan) for plan in plan_deals(rep, ctx.stages, ctx.calendar)]
    for plan in plan_rep_leads(rep_index, rep):
        deal = realise_lead(ctx, plan)
        if deal is not None:
            deals.append(deal)
    current = ctx.calendar.current
    # The current period's deals as this run left them (lost deals leave the worksheet).
    expected = {
        deal["id"]: int(deal["version"])
        for deal in deals
        if current.start <= date.fromisoformat(deal["expected_close_date"]) <= current.end
        and deal.get("status") != "lost"
    }
    worksheet = await_worksheet(ctx, rep.user_id, expected)
    if rep.user_id != BEHIND_REP:
        include_largest_upside(ctx, rep.user_id, worksheet)
    commit_once(ctx, rep.user_id, "rep", COMMIT_NOTES[rep_index % len(COMMIT_NOTES)])


def await_worksheet(ctx: Context, user: str, expected: Mapping[str, int]) -> list[Json]:
    """The worksheet's deals once forecasting shows every deal at the version this run left it:
    a commit made earlier would snapshot a worksheet still missing some."""
    path = f"/v1/worksheets/{segment(user)}/{ctx.calendar.current.period_id}"
    deadline = time.monotonic() + WORKSHEET_WAIT_SECONDS
    while True:
        deals: list[Json] = ctx.api.call("GET", path, user)["deals"]
        shown = {deal["opportunity_id"]: int(deal["opportunity_version"]) for deal in deals}
        missing = [deal for deal, version in expected.items() if shown.get(deal, 0) < version]
        if not missing:
            return deals
        if time.monotonic() > deadline:
            raise DemoLoadError(f"forecasting did not show {len(missing)} of {user}'s deals in time")
        time.sleep(0.2)


def include_largest_upside(ctx: Context, user: str, deals: Sequence[Json]) -> None:
    """A rep who believes in their biggest upside deal includes it by hand, as reps do: without
    it every commit sits well below the expected figure and the inspection calls them all
    sandbaggers, drowning out the one rep who is really behind."""
    upside = [deal for deal in deals if deal.get("status") == "open" and deal.get("commit_stage") == "upside"]
    if upside:
        largest = max(upside, key=lambda deal: minor(deal.get("likely")))
        path = f"/v1/opportunities/{largest['opportunity_id']}/commit-stage"
        ctx.api.call("PUT", path, user, {"commit_stage": "include"})


def commit_once(ctx: Context, user: str, kind: str, note: str) -> bool:
    """Commit the worksheet unless an earlier run did. Whether this run committed it."""
    period = ctx.calendar.current.period_id
    history = ctx.api.call("GET", f"/v1/forecast-commits/{segment(user)}/{period}?kind={kind}", user)
    if history.get("commits"):
        return False
    ctx.api.call(
        "POST", f"/v1/worksheets/{segment(user)}/{period}:commit", user, {"kind": kind, "note": note}
    )
    return True


def create_new_leads(ctx: Context) -> None:
    for plan in plan_new_leads():
        realise_lead(ctx, plan)


def commit_managers(ctx: Context, pool: ThreadPoolExecutor) -> None:
    """Each manager once their reps have committed, the VP once the managers have."""
    notes = {m.user_id: f"Team {m.display_name}: included deals plus the safest upside." for m in MANAGERS}
    for job in [pool.submit(commit_once, ctx, user, "manager", note) for user, note in notes.items()]:
        job.result()
    commit_once(ctx, VP.user_id, "manager", "Quarter on track without the trade-show leads.")


# --------------------------------------------------------------------------------------------
# The whole load and its summary


def load_demo(base_url: str, token_for: TokenFor, *, today: date | None = None) -> DemoSummary:
    """Load the demo organisation through the gateway at `base_url`, as the users `token_for`
    mints tokens for; nothing when it is loaded already."""
    started = time.monotonic()
    api = Gateway(base_url, token_for)
    calendar = calendar_of(api, today or datetime.now(UTC).date())
    if already_loaded(api, calendar):
        return summarise(api, calendar, already=True, started=started)
    base_currency = ensure_forecast_settings(api)
    calendar = calendar_of(api, calendar.today)  # the settings may have moved the fiscal year
    stages = open_stages(api)
    set_exchange_rates(api, base_currency, calendar)
    upsert_users(api)
    ctx = Context(api, calendar, base_currency, stages)
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        set_quotas(ctx, pool)
        ensure_marketing(ctx)
        jobs = [pool.submit(load_rep, ctx, index, rep) for index, rep in enumerate(REPS)]
        jobs.append(pool.submit(create_new_leads, ctx))
        for job in jobs:
            job.result()
        commit_managers(ctx, pool)
    return summarise(api, calendar, already=False, started=started)


def open_stages(api: Gateway) -> list[str]:
    """The open sales stages in order: the deals are spread over whatever stages are configured."""
    stages = api.call("GET", "/v1/sales-stages", ADMIN.user_id).get("sales_stages") or []
    names = [
        s["name"]
        for s in sorted(stages, key=lambda s: s.get("order", 0))
        if not (s.get("is_won") or s.get("is_lost"))
    ]
    if len(names) < 2:
        raise DemoLoadError("the demo needs at least two open sales stages")
    return names


def summarise(api: Gateway, calendar: Calendar, *, already: bool, started: float) -> DemoSummary:
    """What the system now holds, read back through the API."""
    admin = ADMIN.user_id
    deals = api.list_all("/v1/opportunities", admin, "opportunities")
    leads = api.list_all("/v1/leads", admin, "leads")
    campaigns = api.call("GET", "/v1/campaigns", admin).get("campaigns") or []
    period = calendar.current.period_id

    def commits(user: str, kind: str) -> int:
        path = f"/v1/forecast-commits/{segment(user)}/{period}?kind={kind}"
        return 1 if api.call("GET", path, admin).get("commits") else 0

    return DemoSummary(
        gateway=api.base_url,
        already_loaded=already,
        seconds=round(time.monotonic() - started, 1),
        current_period=period,
        next_period=calendar.next.period_id,
        users=tuple(person.user_id for person in ORGANISATION),
        deals=len(deals),
        won=sum(1 for d in deals if d.get("status") == "won"),
        lost=sum(1 for d in deals if d.get("status") == "lost"),
        currencies=tuple(sorted({d["amount"]["currency_code"] for d in deals})),
        leads=len(leads),
        converted_leads=sum(1 for lead in leads if lead.get("status") == "converted"),
        campaigns_with_cost=sum(1 for c in campaigns if minor(c.get("actual_cost")) > 0),
        rep_commits=sum(commits(rep.user_id, "rep") for rep in REPS),
        manager_commits=sum(commits(m.user_id, "manager") for m in (VP, *MANAGERS)),
    )


def describe(summary: DemoSummary) -> str:
    headline = (
        f"The demo organisation is already loaded ({summary.gateway}): nothing changed."
        if summary.already_loaded
        else f"Demo organisation loaded through {summary.gateway} in {summary.seconds:.1f} s."
    )
    behind = next(rep for rep in REPS if rep.user_id == BEHIND_REP)
    return "\n".join(
        [
            headline,
            f"  {len(summary.users)} users; quotas for {summary.current_period} and {summary.next_period}; "
            f"{summary.deals} deals ({summary.won} won, {summary.lost} lost) "
            f"in {', '.join(summary.currencies)};",
            f"  {summary.leads} leads ({summary.converted_leads} converted), "
            f"{summary.campaigns_with_cost} campaigns with costs; {summary.rep_commits} rep and "
            f"{summary.manager_commits} manager commits for {summary.current_period}.",
            f"Open the console at {summary.console_url} and sign in as:",
            f"  {VP.user_id:<16} {VP.display_name}, VP of sales: the whole organisation",
            f"  {MANAGERS[0].user_id:<16} {MANAGERS[0].display_name}, a manager ({behind.display_name} "
            f"on his team is behind)",
            f"  {REPS[0].user_id:<16} {REPS[0].display_name}, a rep",
            f"  {ADMIN.user_id:<16} the administrator (settings, rates, users, audit log)",
        ]
    )


def development_token_for() -> TokenFor:
    """Tokens minted with the development secret the local services accept (SALESPLANE_ENV=development)."""
    secret = auth_settings_from(os.environ).shared_secret
    if not secret:
        raise DemoLoadError("no development secret: run with SALESPLANE_ENV=development (make demo does)")
    return lambda user, roles: issue_token(secret, user, roles)


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Load a demo organisation through a running gateway.")
    parser.add_argument(
        "--gateway",
        default=os.environ.get("GATEWAY") or DEFAULT_GATEWAY,
        help=f"the gateway's base URL (default: $GATEWAY or {DEFAULT_GATEWAY})",
    )
    args = parser.parse_args(None if argv is None else list(argv))
    try:
        summary = load_demo(args.gateway, development_token_for())
    except (DemoLoadError, ConfigurationError) as error:
        print(f"load_demo: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(
            f"load_demo: cannot reach the gateway at {args.gateway} ({error}); is `make run` going?",
            file=sys.stderr,
        )
        return 1
    print(describe(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
