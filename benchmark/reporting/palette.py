"""Each shown method's colour and marker in the figures, fixed by its place in the registry, so that
a method keeps them in every report; a code name the registry does not hold (a variant of a grid, a
plugin not importable here) takes the places after the registry's, in the order given."""

from __future__ import annotations

from collections.abc import Iterable

import seaborn as sns

__all__ = ["Colour", "method_palette", "method_markers"]

Colour = tuple[float, float, float]

#: The methods' colours in registry order: tab10, then navy and Dark2's ochre (each ≥ 39 CIELAB
#: units, ΔE*ab, from every other colour here); a suite with more methods takes the rest from husl.
_PALETTE = [*sns.color_palette("tab10"), *sns.color_palette(["#000080", "#a6761d"])]
#: The methods' markers in the same order (cycled beyond), so that points at one place differ.
_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "<", ">", "p", "h", "*"]


def _places(codes: list[str], registered: Iterable[str]) -> dict[str, int]:
    """Place of each code name: a registered method's in `registered` (the registry's order),
    then the others in the order given."""
    known = list(registered)
    known += [c for c in codes if c not in known]
    return {c: known.index(c) for c in codes}


def method_palette(codes: list[str], registered: Iterable[str] = ()) -> dict[str, Colour]:
    """Colour of each code name, fixed by its place (`_places`)."""
    places = _places(codes, registered)
    extra = sns.color_palette("husl", max(0, max(places.values(), default=0) + 1 - len(_PALETTE)))
    colours = [*_PALETTE, *extra]
    return {c: tuple(colours[i]) for c, i in places.items()}


def method_markers(codes: list[str], registered: Iterable[str] = ()) -> dict[str, str]:
    """Marker of each code name, fixed by its place (`_places`)."""
    return {c: _MARKERS[i % len(_MARKERS)] for c, i in _places(codes, registered).items()}
