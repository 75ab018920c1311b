"""The lab's chart style: one colour per partition, node and group in every chart of a
process, readable fonts, sharp pictures on HiDPI screens, and a presenter size.

Colours: a name ending in a number after ``p``, ``partition`` or ``node`` ("p0", "node 2")
takes that number's place in a fixed palette, so partition 1 has the same colour in every
chart; any other name (a topic, a group, a member) gets the next colour of a second palette the
first time it is drawn, and keeps it for the life of the process.

Sizes: figures are laid out for a display at ``DISPLAY_DPI`` and rendered at twice that
(``HIDPI``) and shown at the intended width. ``LABKIT_PRESENTER=1`` makes them larger, with
larger fonts, for a projector.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

NUMBERED = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
            "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
"""Matplotlib's tab10: colour of p0/node 0, p1/node 1, ... (cycling)."""

NAMED = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d",
         "#666666", "#386cb0", "#f0027f")
"""Colours of other names (topics, groups, members), in first-seen order (cycling)."""

MARK_COLOUR = "#333333"
DISPLAY_DPI = 100
"""Pixels per inch of the intended display size."""
HIDPI = 2.0
"""The final picture has this many pixels per displayed pixel."""

_NUMBER = re.compile(r"^(?:p|partition\s*|node\s*)(\d+)$", re.IGNORECASE)
_SEEN: dict[str, str] = {}
_SEEN_LOCK = threading.Lock()


def colour(name: str) -> str:
    """The colour of ``name`` in every chart of this process."""
    found = _NUMBER.match(name.strip())
    if found:
        return NUMBERED[int(found.group(1)) % len(NUMBERED)]
    with _SEEN_LOCK:
        if name not in _SEEN:
            _SEEN[name] = NAMED[len(_SEEN) % len(NAMED)]
        return _SEEN[name]


@dataclass(frozen=True)
class Style:
    """Sizes of a figure: ``size`` in inches (at DISPLAY_DPI), font sizes in points."""

    size: tuple[float, float]
    font: float
    presenter: bool = False

    @property
    def small(self) -> float:
        return self.font * 0.85

    @property
    def title(self) -> float:
        return self.font * 1.2

    def pixels(self, size: tuple[float, float] | None = None) -> tuple[int, int]:
        """The displayed size in (CSS) pixels."""
        w, h = size or self.size
        return round(w * DISPLAY_DPI), round(h * DISPLAY_DPI)


REGULAR = Style(size=(9.0, 4.2), font=10.0)
PRESENTER = Style(size=(12.5, 5.8), font=14.0, presenter=True)


def current() -> Style:
    """The style to draw with now: presenter size if ``LABKIT_PRESENTER`` is on."""
    from labkit.settings import Settings

    return PRESENTER if Settings.from_env().presenter else REGULAR


def row_height(style: Style, rows: int) -> float:
    """Inches a strip chart needs for ``rows`` rows (at least the style's height)."""
    return max(style.size[1], 1.6 + rows * style.font * 2.1 / 72)
