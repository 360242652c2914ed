"""A seeded generator of WSJ-like business news sentences, already spelt out for character models.

No business-news corpus can be redistributed or downloaded here, so the domain is synthesised from templates
with company names, people, markets and verbalised numbers (money, percentages, years, share counts).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from werbench.demo.build.normalise import number_words, year_words

PREFIXES = (
    "northwind",
    "meridian",
    "pinnacle",
    "harbor",
    "summit",
    "atlas",
    "keystone",
    "granite",
    "sterling",
    "beacon",
    "evergreen",
    "frontier",
    "liberty",
    "oakmont",
    "redwood",
    "silverline",
    "crescent",
    "horizon",
    "ironwood",
    "lakeshore",
    "madison",
    "pioneer",
    "westfield",
    "brighton",
    "cedar",
    "continental",
    "consolidated",
    "allied",
    "national",
    "american",
    "pacific",
    "atlantic",
    "union",
    "federal",
    "general",
    "global",
)
SUFFIXES = (
    "holdings",
    "industries",
    "corporation",
    "bancorp",
    "group",
    "systems",
    "partners",
    "energy",
    "capital",
    "financial",
    "technologies",
    "airlines",
    "motors",
    "pharmaceuticals",
    "communications",
    "foods",
    "insurance",
    "steel",
    "resources",
    "electric",
    "chemical",
    "securities",
    "trust",
    "realty",
    "semiconductor",
    "media",
)
FIRST_NAMES = (
    "john",
    "robert",
    "michael",
    "william",
    "david",
    "richard",
    "thomas",
    "james",
    "mary",
    "patricia",
    "linda",
    "barbara",
    "elizabeth",
    "susan",
    "margaret",
    "karen",
    "peter",
    "paul",
    "george",
    "helen",
    "carol",
    "frank",
    "henry",
    "alice",
    "edward",
    "ruth",
    "walter",
    "anne",
    "charles",
    "joan",
)
LAST_NAMES = (
    "smith",
    "johnson",
    "williams",
    "brown",
    "miller",
    "davis",
    "wilson",
    "anderson",
    "taylor",
    "thomas",
    "moore",
    "martin",
    "jackson",
    "thompson",
    "white",
    "harris",
    "clark",
    "lewis",
    "walker",
    "hall",
    "allen",
    "young",
    "king",
    "wright",
    "scott",
    "green",
    "baker",
    "adams",
    "nelson",
    "carter",
    "mitchell",
    "roberts",
    "campbell",
)
TITLES = (
    "chief executive officer",
    "chief financial officer",
    "chairman",
    "president",
    "vice president",
    "treasurer",
    "chief economist",
    "senior analyst",
    "managing director",
    "general counsel",
)
AGENCIES = (
    "the federal reserve",
    "the securities and exchange commission",
    "the treasury department",
    "the commerce department",
    "the labor department",
    "the justice department",
    "the federal trade commission",
    "congress",
    "the white house",
    "the european central bank",
    "the bank of england",
    "the bank of japan",
)
EXCHANGES = ("new york stock exchange", "nasdaq", "american stock exchange", "over the counter", "london")
INDEXES = (
    "the dow jones industrial average",
    "the standard and poor's five hundred index",
    "the nasdaq composite index",
    "the russell two thousand index",
    "the new york stock exchange composite index",
)
COMMODITIES = (
    ("crude oil", "a barrel"),
    ("gold", "an ounce"),
    ("silver", "an ounce"),
    ("copper", "a pound"),
    ("wheat", "a bushel"),
    ("corn", "a bushel"),
    ("natural gas", "per million british thermal units"),
)
CURRENCIES = ("yen", "mark", "franc", "pound", "euro", "canadian dollar", "swiss franc")
SECTORS = (
    "banking",
    "airline",
    "automobile",
    "steel",
    "semiconductor",
    "insurance",
    "retail",
    "housing",
    "energy",
    "telecommunications",
    "pharmaceutical",
    "real estate",
    "utility",
    "chemical",
    "media",
    "software",
)
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
QUARTERS = ("first", "second", "third", "fourth")
UP_VERBS = ("rose", "climbed", "gained", "jumped", "advanced", "increased", "surged")
DOWN_VERBS = ("fell", "dropped", "declined", "slipped", "tumbled", "decreased", "eased")
ANALYST_VERBS = ("said", "noted", "added", "warned", "predicted", "argued", "estimated")
SAY_VERBS = ("said", "announced", "reported", "disclosed", "confirmed")
DEALS = ("acquire", "buy", "merge with", "sell its stake in", "take over", "form a joint venture with")
EVENTS = (
    "a restructuring",
    "a cost cutting program",
    "the merger",
    "a plant closing",
    "the spinoff",
    "a stock buyback",
    "a debt offering",
    "the takeover bid",
    "a proxy fight",
    "an accounting review",
)


class BusinessGenerator:
    """Draws sentences from templates; the same seed always yields the same sequence."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        companies = sorted({f"{p} {s}" for p in PREFIXES for s in SUFFIXES})
        self.companies = random.Random(seed).sample(companies, 80)
        self.templates: tuple[Callable[[], str], ...] = (
            self._earnings,
            self._shares,
            self._index,
            self._deal,
            self._executive,
            self._rates,
            self._revenue,
            self._commodity,
            self._currency,
            self._jobs,
            self._analyst,
            self._offering,
            self._sector,
            self._forecast,
            self._dividend,
            self._economy,
        )

    def pick(self, options: tuple[str, ...] | list[str]) -> str:
        return self.rng.choice(options)

    def company(self) -> str:
        return self.pick(self.companies)

    def person(self) -> str:
        return f"{self.pick(FIRST_NAMES)} {self.pick(LAST_NAMES)}"

    def pct(self) -> str:
        if self.rng.random() < 0.4:
            return f"{number_words(self.rng.randint(1, 40))} percent"
        return f"{number_words(round(self.rng.uniform(0.1, 15), 1))} percent"

    def price(self) -> str:
        dollars = self.rng.randint(2, 180)
        cents = self.rng.choice((0, 0, 25, 50, 75, self.rng.randint(1, 99)))
        if cents == 0:
            return f"{number_words(dollars)} dollars"
        return f"{number_words(dollars)} dollars and {number_words(cents)} cents"

    def amount(self) -> str:
        scale = self.pick(("million", "million", "billion"))
        value = round(self.rng.uniform(1.1, 9.9), 1) if self.rng.random() < 0.5 else self.rng.randint(2, 900)
        return f"{number_words(value)} {scale} dollars"

    def cents(self) -> str:
        return f"{number_words(self.rng.randint(2, 99))} cents"

    def year(self) -> str:
        return year_words(self.rng.randint(1985, 2024))

    def move(self) -> str:
        return self.pick(UP_VERBS if self.rng.random() < 0.5 else DOWN_VERBS)

    def period(self) -> str:
        return self.pick(
            (
                f"{self.pick(QUARTERS)} quarter",
                f"fiscal {self.year()}",
                f"the {self.pick(QUARTERS)} quarter",
                f"the year ended in {self.pick(MONTHS)}",
            )
        )

    def _earnings(self) -> str:
        return (
            f"{self.company()} {self.pick(SAY_VERBS)} {self.period()} net income {self.move()} "
            f"{self.pct()} to {self.amount()}"
        )

    def _shares(self) -> str:
        return (
            f"shares of {self.company()} {self.move()} {self.cents()} to {self.price()} in "
            f"{self.pick(EXCHANGES)} composite trading"
        )

    def _index(self) -> str:
        points = number_words(round(self.rng.uniform(1, 90), 2))
        level = number_words(self.rng.randint(900, 12000))
        return f"{self.pick(INDEXES)} {self.move()} {points} points to {level}"

    def _deal(self) -> str:
        return (
            f"{self.company()} agreed to {self.pick(DEALS)} {self.company()} for about {self.amount()} "
            f"{self.pick(('in cash', 'in stock', 'in cash and stock', 'including debt'))}"
        )

    def _executive(self) -> str:
        who = f"{self.person()} {self.company()}'s {self.pick(TITLES)}"
        return self.pick(
            (
                f"{who} will retire in {self.pick(MONTHS)}",
                f"{who} resigned after {self.pick(EVENTS)}",
                f"{self.company()} named {self.person()} {self.pick(TITLES)} effective in "
                f"{self.pick(MONTHS)}",
            )
        )

    def _rates(self) -> str:
        return self.pick(
            (
                f"{self.pick(AGENCIES)} left interest rates unchanged at {self.pct()}",
                f"the yield on the ten year treasury note {self.move()} to {self.pct()}",
                f"the prime rate {self.move()} to {self.pct()} in {self.pick(MONTHS)}",
            )
        )

    def _revenue(self) -> str:
        return (
            f"revenue for the {self.pick(QUARTERS)} quarter {self.move()} to {self.amount()} from "
            f"{self.amount()} a year earlier"
        )

    def _commodity(self) -> str:
        name, unit = self.pick(COMMODITIES)
        return (
            f"{name} for {self.pick(MONTHS)} delivery {self.move()} {self.cents()} to {self.price()} {unit}"
        )

    def _currency(self) -> str:
        value = number_words(round(self.rng.uniform(0.5, 150), 2))
        return f"the dollar {self.move()} against the {self.pick(CURRENCIES)} to {value} in late trading"

    def _jobs(self) -> str:
        jobs = number_words(self.rng.choice((self.rng.randint(2, 90) * 100, self.rng.randint(1, 20) * 1000)))
        return f"{self.company()} plans to cut {jobs} jobs as part of {self.pick(EVENTS)}"

    def _analyst(self) -> str:
        return (
            f"{self.person()} a {self.pick(TITLES)} at {self.company()} {self.pick(ANALYST_VERBS)} the "
            f"{self.pick(SECTORS)} industry will {self.pick(('recover', 'slow', 'grow', 'shrink'))} next year"
        )

    def _offering(self) -> str:
        shares = number_words(round(self.rng.uniform(1, 9.9), 1))
        return (
            f"{self.company()} will offer {shares} million shares at {self.price()} each through "
            f"{self.company()}"
        )

    def _sector(self) -> str:
        return (
            f"{self.pick(SECTORS)} stocks {self.move()} after {self.pick(AGENCIES)} "
            f"{self.pick(SAY_VERBS)} {self.pick(EVENTS)} at {self.company()}"
        )

    def _forecast(self) -> str:
        return (
            f"analysts expect {self.company()} to report earnings of {self.cents()} a share for the "
            f"{self.pick(QUARTERS)} quarter"
        )

    def _dividend(self) -> str:
        return (
            f"{self.company()} raised its quarterly dividend to {self.cents()} a share payable in "
            f"{self.pick(MONTHS)}"
        )

    def _economy(self) -> str:
        measure = self.pick(
            (
                "consumer prices",
                "retail sales",
                "factory orders",
                "housing starts",
                "industrial production",
                "the trade deficit",
                "personal income",
            )
        )
        return f"{measure} {self.move()} {self.pct()} in {self.pick(MONTHS)} {self.pick(AGENCIES)} said"

    def sentence(self) -> str:
        return self.pick(self.templates)()

    def sentences(self, count: int, max_words: int = 22) -> list[str]:
        """``count`` distinct sentences of at most ``max_words`` words."""
        seen: dict[str, None] = {}
        while len(seen) < count:
            text = self.sentence()
            if len(text.split()) <= max_words:
                seen.setdefault(text, None)
        return list(seen)
