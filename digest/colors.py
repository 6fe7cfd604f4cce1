"""Colours as WCAG 2 measures them: shared by config (an operator's accent is checked when the
file is read) and render (the email's and the pages' palette derives its dark-mode accent).

In: `#rrggbb` strings. Out: contrast ratios and mixed colours. Pure functions, no state.
"""

from __future__ import annotations

import re

_HEX = re.compile(r"#([0-9a-fA-F]{6})")
TEXT_CONTRAST = 4.5  # WCAG 2 AA for text under 18 pt: what axe-core's color-contrast checks


def is_hex_color(value: str) -> bool:
    """Whether `value` is written `#rrggbb`, the one form every email client reads."""
    return bool(_HEX.fullmatch(value))


def _channels(color: str) -> tuple[int, int, int]:
    found = _HEX.fullmatch(color)
    if not found:
        raise ValueError(f"{color!r} is not a colour written #rrggbb")
    digits = found.group(1)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def luminance(color: str) -> float:
    """Relative luminance (WCAG 2), 0 for black to 1 for white."""

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in _channels(color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(first: str, second: str) -> float:
    """The WCAG 2 contrast ratio of two colours, 1 to 21."""
    a, b = sorted((luminance(first), luminance(second)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def mix(color: str, other: str, share: float) -> str:
    """`color` moved `share` (0..1) of the way towards `other`."""
    pairs = zip(_channels(color), _channels(other), strict=True)
    return "#" + "".join(f"{round(a + (b - a) * share):02x}" for a, b in pairs)


def readable_on(color: str, background: str, minimum: float = TEXT_CONTRAST) -> str:
    """`color`, lightened or darkened just enough to be read as text on `background`.

    A brand colour chosen for white paper is usually too dark for a dark-mode background;
    this keeps its hue and moves it towards white (or black) in small steps until it reads.
    """
    if contrast(color, background) >= minimum:
        return color
    target = "#ffffff" if luminance(background) < 0.5 else "#000000"
    for step in range(1, 21):
        candidate = mix(color, target, step / 20)
        if contrast(candidate, background) >= minimum:
            return candidate
    return target
