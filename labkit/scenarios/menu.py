"""The pizza shop's fixed data (menu, prices, names, streets, loyalty tiers), its draws
(``random``'s choice, randint and weighted choice in one Python call each) and
``round_ms``."""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable, Sequence
from typing import TypeVar

from labkit.events import LoyaltyTier, PaymentMethod, Size

T = TypeVar("T")

MENU = {
    "margherita": 9.0,
    "marinara": 8.0,
    "funghi": 10.5,
    "diavola": 11.5,
    "hawaii": 11.0,
    "vegetariana": 11.0,
    "capricciosa": 12.5,
    "quattro formaggi": 12.0,
}
SIZES: dict[Size, float] = {"small": 0.8, "medium": 1.0, "large": 1.3}
# fmt: off
FIRST = ["Ada", "Alan", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Frances",
         "Edsger", "Radia", "Tim", "Katherine", "Guido", "Anita", "John", "Sophie", "Niklaus"]
LAST = ["Lovelace", "Turing", "Hopper", "Torvalds", "Liskov", "Thompson", "Hamilton",
        "Ritchie", "Allen", "Dijkstra", "Perlman", "Berners", "Johnson", "Rossum", "Borg",
        "Backus", "Wilson", "Wirth"]
STREETS = ["Kafka Lane", "Broker Street", "Offset Road", "Partition Way", "Topic Avenue",
           "Replica Close", "Commit Row", "Producer Place", "Consumer Court", "Log Hill"]
# fmt: on
CITIES = [("Springfield", "SP"), ("Riverton", "RV"), ("Lakeside", "LK"), ("Hillview", "HV")]
COURIERS = ["Mia", "Noah", "Zoe", "Omar", "Lena", "Ravi"]
METHODS: tuple[list[PaymentMethod], list[int]] = (["card", "paypal", "voucher"], [6, 9, 10])
PIZZAS_PER_ORDER = ([1, 2, 3, 4], [4, 7, 9, 10])
"""(population, cumulative weights) for ``rng.choices(population, weights=...)``."""
TIERS: list[tuple[int, LoyaltyTier]] = [(10, "gold"), (5, "silver"), (2, "bronze"), (0, "none")]
"""Delivered orders needed for each loyalty tier."""
TIER_AFTER: list[LoyaltyTier] = [next(name for needed, name in TIERS if n >= needed)
                                 for n in range(TIERS[0][0] + 1)]
"""The tier after n delivered orders (the last for n and more)."""


MENU_NAMES, SIZE_NAMES = list(MENU), list(SIZES)
PRICES = {(n, z): round(MENU[n] * SIZES[z] * 2) / 2 for n in MENU for z in SIZES}
MENU_N, SIZE_N = len(MENU_NAMES), len(SIZE_NAMES)
MENU_BITS, SIZE_BITS = MENU_N.bit_length(), SIZE_N.bit_length()  # as random's choice


def round_ms(now: float) -> float:
    """``round(now, 3)`` (correctly rounded, via decimal text: slow), done with floats where
    that gives the same float: ``now * 1000`` is within 1e-4 of the exact product below 1e8 s,
    so away from a half it rounds to the same whole number r, and ``r / 1000`` is the float
    nearest to that decimal, as ``round`` returns."""
    scaled = now * 1000.0
    whole = round(scaled)
    if 0.0 <= now < 1e8 and -0.4998 < scaled - whole < 0.4998:
        return whole / 1000
    return round(now, 3)


def draws(rng: random.Random) -> tuple[Callable[[Sequence[T]], T], Callable[[int, int], int],
                                         Callable[[tuple[list[T], list[int]]], T]]:
    """``rng.choice``, ``rng.randint`` and ``rng.choices(...)[0]`` in one Python call each
    instead of three: the same draws from the same generator, so the same story (CPython's
    ``random`` algorithms for these; a test pins the bytes they make)."""
    getrandbits, uniform = rng.getrandbits, rng.random

    def choice(seq: Sequence[T]) -> T:
        n = len(seq)
        k = n.bit_length()
        r = getrandbits(k)
        while r >= n:
            r = getrandbits(k)
        return seq[r]

    def randint(a: int, b: int) -> int:
        n = b - a + 1
        k = n.bit_length()
        r = getrandbits(k)
        while r >= n:
            r = getrandbits(k)
        return a + r

    def weighted(table: tuple[list[T], list[int]]) -> T:
        population, cum = table
        return population[bisect.bisect(cum, uniform() * (cum[-1] + 0.0), 0, len(cum) - 1)]

    return choice, randint, weighted
