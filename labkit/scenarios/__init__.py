"""Seeded, deterministic event generators for the lessons.

>>> from labkit.scenarios import get_scenario
>>> for e in get_scenario("pizza-orders", seed=7, limit=3):
...     print(e.type, e.key)

Names: ``pizza`` (every stream), ``pizza-accounts`` (thin account events),
``pizza-customers`` (fat CustomerUpdated), ``pizza-orders`` (order lifecycle).
"""

from __future__ import annotations

from labkit.scenarios.base import (
    DEFAULT_START,
    POISON_KINDS,
    Scenario,
    ScenarioEvent,
    get_scenario,
    register_scenario,
    scenario_names,
)
from labkit.scenarios.pizza import PizzaShop

__all__ = [
    "DEFAULT_START",
    "POISON_KINDS",
    "PizzaShop",
    "Scenario",
    "ScenarioEvent",
    "get_scenario",
    "register_scenario",
    "scenario_names",
]
