"""A deterministic, realistic synthetic customer base of any size, for demos, tests and benchmarks.

The generator only produces rows; they are written through the import path, so generated data
obeys exactly the rules imported data does.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.text import slugify

from csops.customers.models import internal_slack_channel

GEO_WEIGHTS = {"AMER": 0.50, "EMEA": 0.28, "APJ": 0.12, "LATAM": 0.05, "PubSec": 0.05}
INDUSTRIES = ["Software", "Financial Services", "Healthcare", "Retail", "Manufacturing",
              "Telecommunications", "Education", "Government", "Media", "Energy", "Automotive",
              "Logistics", "Insurance", "Biotech", "Consulting"]
NAME_HEADS = ["Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Tyrell", "Cyberdyne",
              "Soylent", "Hooli", "Vandelay", "Wonka", "Aperture", "Massive", "Oscorp", "Gringotts",
              "Nakatomi", "Monarch", "Pied Piper", "Blue Sun", "Kaiju", "Northwind", "Contoso",
              "Fabrikam", "Tailspin", "Litware", "Proseware", "Adatum", "Wingtip", "Lucerne",
              "Alpine", "Cascade", "Summit", "Harbor", "Evergreen", "Redwood", "Granite", "Meridian",
              "Aurora", "Zenith", "Polaris", "Vertex", "Quantum", "Nimbus", "Helix", "Orbit",
              "Beacon", "Pioneer", "Sterling", "Atlas"]
NAME_TAILS = ["Systems", "Labs", "Analytics", "Bank", "Health", "Logistics", "Networks", "Foods",
              "Motors", "Media", "Energy", "Software", "Insurance", "Retail", "Robotics",
              "Pharma", "Capital", "Telecom", "Cloud", "Dynamics"]
SUFFIXES = ["Inc", "Ltd", "GmbH", "SA", "AG", "BV", "LLC", "plc", "KK", "Pty"]
FIRST = ["Alex", "Sam", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Avery", "Quinn",
         "Priya", "Wei", "Fatima", "Lars", "Sofia", "Mateo", "Yuki", "Amara", "Noah", "Elena",
         "Omar", "Ines", "Kofi", "Hana", "Luca", "Maya", "Ravi", "Zoe", "Ivan", "Leila"]
LAST = ["Garcia", "Smith", "Chen", "Kumar", "Okafor", "Muller", "Rossi", "Tanaka", "Silva",
        "Novak", "Haddad", "Johansson", "Kowalski", "Nguyen", "Dubois", "Kim", "Levi", "Moreau",
        "Santos", "Fischer", "Ahmed", "Costa", "Ivanova", "Park", "Brown", "Lopez", "Singh"]
PERSONAS = ["GitLab Admin", "Sold-to", "Dev Lead", "Security Lead", "Executive Sponsor"]
RISK_IMPACTS = ["Customer Churn", "Tier Downgrade", "Seat Churn", "Customer Sentiment (Impact Unknown)",
                "Competitor"]
RISK_REASONS = ["Lack of adoption", "Product Value / Gaps", "Product Quality / Availability",
                "Lack of Engagement / Sponsor", "Loss of Budget", "Corporate Decision", "Other"]
USE_CASES = ["SCM", "CI", "CD", "DevSecOps", "Agile Planning"]
SEAT_PRICE = {"premium": 348, "ultimate": 1188}
TAM_SCALE = "tam-scale"


@dataclass
class Person:
    username: str
    first_name: str
    last_name: str
    function: str
    role: str
    geo: str | None = None
    pool: str | None = None
    manager: str | None = None
    is_pool: bool = False

    @property
    def email(self) -> str:
        return "" if self.is_pool else f"{self.username}@example.com"


@dataclass
class Dataset:
    people: list[Person] = field(default_factory=list)
    accounts: list[dict] = field(default_factory=list)
    contacts: list[dict] = field(default_factory=list)
    opportunities: list[dict] = field(default_factory=list)
    tickets: list[dict] = field(default_factory=list)
    made: Counter = field(default_factory=Counter)  # ids handed out so far, across chunks

    def next_number(self, kind: str) -> int:
        self.made[kind] += 1
        return self.made[kind] - 1


def _people(rng: random.Random, accounts: int) -> list[Person]:
    people = [Person(TAM_SCALE, "TAM", "Scale", "pool", "csm", is_pool=True)]
    scale = max(1, round(math.sqrt(accounts / 500)))
    for geo in GEO_WEIGHTS:
        share = GEO_WEIGHTS[geo]
        code = slugify(geo)
        manager = Person(f"cs-manager.{code}", rng.choice(FIRST), rng.choice(LAST), "leader", "viewer", geo)
        people.append(manager)
        counts = {"csm": 6, "cse": 3, "ae": 8, "sa": 3, "renewals": 2}
        for function, base in counts.items():
            for index in range(1, max(1, round(base * share * 2 * scale)) + 1):
                role = "account_owner" if function in ("ae", "renewals", "sa") else "csm"
                people.append(Person(
                    f"{function}.{code}.{index}", rng.choice(FIRST), rng.choice(LAST), function, role,
                    geo, pool=TAM_SCALE if function == "cse" else None,
                    manager=manager.username if function in ("csm", "cse") else None,
                ))
    return people


def _renewal_after(start: dt.date, today: dt.date) -> dt.date:
    years = max(1, today.year - start.year)
    renewal = start.replace(year=start.year + years) if not (start.month == 2 and start.day == 29) \
        else dt.date(start.year + years, 2, 28)
    while renewal < today - dt.timedelta(days=20):
        renewal = renewal.replace(year=renewal.year + 1)
    return renewal


def _company_names(rng: random.Random, count: int) -> Iterator[str]:
    seen: set[str] = set()
    for index in range(count):
        name = f"{rng.choice(NAME_HEADS)} {rng.choice(NAME_TAILS)} {rng.choice(SUFFIXES)}"
        if name in seen:
            name = f"{name} {index}"
        seen.add(name)
        yield name


def generate(accounts: int, seed: int = 1, today: dt.date | None = None) -> Dataset:
    """Rows for `accounts` accounts with their contacts, opportunities and tickets."""
    return next(generate_chunks(accounts, seed, today, chunk_size=accounts))


def generate_chunks(accounts: int, seed: int = 1, today: dt.date | None = None,
                    chunk_size: int = 50_000) -> Iterator[Dataset]:
    """The same rows as `generate`, a chunk of accounts at a time, so any size fits in memory.

    The team comes with the first chunk; the rows do not depend on the chunk size.
    """
    rng = random.Random(seed)
    today = today or dt.date.today()
    data = Dataset(people=_people(rng, accounts))
    by_function: dict[tuple[str, str], list[str]] = {}
    for person in data.people:
        if person.geo:
            by_function.setdefault((person.function, person.geo), []).append(person.username)
    geos, weights = list(GEO_WEIGHTS), list(GEO_WEIGHTS.values())
    parents: list[str] = []
    for index, name in enumerate(_company_names(rng, accounts)):
        external_id = f"0015e{index:010d}"
        geo = rng.choices(geos, weights)[0]
        arr = round(min(max(rng.lognormvariate(math.log(40_000), 1.25), 1_200), 25_000_000), -2)
        segment = "PubSec" if geo == "PubSec" else _segment(arr)
        tier = "ultimate" if rng.random() < min(0.85, 0.2 + arr / 1_000_000) else "premium"
        start = today - dt.timedelta(days=rng.randint(5, 3 * 365))
        renewal = _renewal_after(start, today)
        employees = max(5, int(arr / rng.uniform(60, 400)))
        team = {
            "ae": rng.choice(by_function[("ae", geo)]),
            "renewals_manager": rng.choice(by_function[("renewals", geo)]),
            "sa": rng.choice(by_function[("sa", geo)]) if arr >= 150_000 else "",
            "csm": "", "cse": "",
        }
        if segment in ("Growth", "Strategic", "PubSec"):
            team["csm"] = rng.choice(by_function[("csm", geo)])
        elif segment == "Scale":
            team["csm"] = TAM_SCALE
            team["cse"] = rng.choice(by_function[("cse", geo)])
        has_csm = bool(team["csm"]) and team["csm"] != TAM_SCALE
        sentiment = rng.choices(["green", "yellow", "red"], [0.6, 0.28, 0.12])[0] if has_csm else ""
        parent = rng.choice(parents) if parents and rng.random() < 0.04 else ""
        priority = {"Strategic": "P1" if rng.random() < 0.7 else "P2", "Growth": "P2",
                    "PubSec": "P2", "Scale": "P3", "Digital": "P4"}[segment]
        if parent:
            priority = "P3"
        age = (today - start).days
        stage = ("onboarding" if age < 90 else "renewal" if (renewal - today).days < 120
                 else "expansion" if rng.random() < 0.2 else "adoption")
        seats = max(5, int(arr / SEAT_PRICE[tier]))
        data.accounts.append({
            "external_id": external_id, "name": name, "parent_external_id": parent,
            "segment": segment if segment == "PubSec" else "", "geo": geo,
            "industry": "Government" if geo == "PubSec" else rng.choice(INDUSTRIES),
            "employees": employees, "arr": Decimal(str(arr)),
            "lam": Decimal(str(round(arr * rng.uniform(1.5, 6), -2))),
            "tier": tier, "deployment": "saas" if rng.random() < 0.55 else "self_managed",
            "lifecycle_stage": stage, "csm_priority": priority, "contract_start": start,
            "renewal_date": renewal, "licensed_users": seats, **team,
            "csm_sentiment": sentiment,
            "csm_sentiment_date": today - dt.timedelta(days=rng.randint(0, 150)) if sentiment else None,
            "cs_project_url": f"https://gitlab.example.com/cs/{slugify(name)}" if has_csm else "",
            "slack_channel": internal_slack_channel(name) if has_csm else "",
            "primary_use_case": rng.choice(USE_CASES),
        })
        if arr > 300_000 and len(parents) < 500:
            parents.append(external_id)
        _contacts(rng, data, external_id, name, arr)
        _opportunities(rng, data, external_id, name, arr, start, renewal, today)
        _tickets(rng, data, external_id, arr, today)
        if len(data.accounts) == chunk_size:
            yield data
            data = Dataset(made=data.made)
    if data.accounts:
        yield data


def _segment(arr: float) -> str:
    return ("Digital" if arr < 30_000 else "Scale" if arr < 150_000
            else "Growth" if arr < 500_000 else "Strategic")


def _contacts(rng: random.Random, data: Dataset, account: str, name: str, arr: float) -> None:
    domain = slugify(name).replace("-", "") + ".example"
    count = min(5, 1 + int(math.log10(max(arr, 10)) - 3) + rng.randint(0, 2))
    personas = PERSONAS if rng.random() < 0.8 else PERSONAS[1:]
    for position in range(max(1, count)):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        data.contacts.append({
            "external_id": f"0035e{data.next_number('contacts'):010d}", "account_external_id": account,
            "first_name": first, "last_name": last,
            "email": f"{first}.{last}{position}@{domain}".lower(),
            "title": ["IT Director", "Engineering Manager", "CISO", "VP Engineering",
                      "Procurement"][position % 5],
            "persona": personas[position % len(personas)],
            "email_opt_out": rng.random() < 0.03,
        })


def _opportunities(rng: random.Random, data: Dataset, account: str, name: str, arr: float,
                   start: dt.date, renewal: dt.date, today: dt.date) -> None:
    def add(kind: str, title: str, close: dt.date, basis: float, net: float, stage: str,
            forecast: str, risky: bool = False) -> None:
        data.opportunities.append({
            "external_id": f"0065e{data.next_number('opportunities'):010d}", "account_external_id": account,
            "name": f"{name} - {title}", "type": kind, "arr_basis": Decimal(str(round(basis, -2))),
            "net_arr": Decimal(str(round(net, -2))), "close_date": close, "stage": stage,
            "forecast_category": forecast,
            "risk_impact": rng.choice(RISK_IMPACTS) if risky else "",
            "risk_reason": rng.choice(RISK_REASONS) if risky else "",
        })

    add("new", "New Business", start, 0, arr, "Closed Won", "closed")
    days_out = (renewal - today).days
    risky = rng.random() < 0.12
    stage = ("Closed Won" if days_out < 0 else "Negotiating" if days_out < 45
             else "Proposal" if days_out < 120 else "Discovery")
    forecast = ("closed" if days_out < 0 else "commit" if days_out < 45 and not risky
                else "best_case" if days_out < 120 else "pipeline")
    change = arr * rng.uniform(-0.3, 0.0) if risky else arr * rng.uniform(0, 0.25)
    add("renewal", f"Renewal {renewal.year}", renewal, arr, change, stage, forecast, risky)
    if rng.random() < 0.2:
        close = today + dt.timedelta(days=rng.randint(-200, 200))
        add("add_on", "Add-on seats", close, 0, arr * rng.uniform(0.05, 0.4),
            "Closed Won" if close < today else "Proposal", "closed" if close < today else "best_case")


def _tickets(rng: random.Random, data: Dataset, account: str, arr: float, today: dt.date) -> None:
    expected = min(30.0, arr / 40_000)
    count = sum(1 for _ in range(12) if rng.random() < expected / 12) + (rng.random() < expected % 1)
    for _ in range(count):
        opened = dt.datetime.combine(today - dt.timedelta(days=rng.randint(0, 180)),
                                     dt.time(rng.randint(0, 23), rng.randint(0, 59)), tzinfo=dt.UTC)
        closed = opened + dt.timedelta(hours=rng.randint(1, 400))
        open_now = rng.random() < 0.15 or closed.date() >= today
        data.tickets.append({
            "external_id": f"T{data.next_number('tickets') + 100000}", "account_external_id": account,
            "subject": rng.choice(["Pipeline stuck", "Runner failing", "SSO login error",
                                   "Upgrade help", "Slow merge requests", "License question",
                                   "Backup restore", "Geo replication lag"]),
            "severity": rng.choices(["S1", "S2", "S3", "S4"], [0.03, 0.17, 0.5, 0.3])[0],
            "is_emergency": rng.random() < 0.01,
            "opened_at": opened,
            "closed_at": None if open_now else closed,
        })
