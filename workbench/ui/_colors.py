"""One colour per run, the same in every chart, panel, page and session.

:func:`run_colors` gives each run of a selection a colour: a run's preferred slot in
:data:`PALETTE` comes from a hash of its id, so a run keeps its colour when other runs join or
leave the selection; when two runs of one selection want the same slot, the later one (in
selection order) takes the next free slot. Up to ``len(PALETTE)`` runs therefore never share a
colour; beyond that, colours are spread over the hue circle (golden angle, three lightness bands)
from the id's hash, again skipping any colour already taken. Views that show a run's colour (a
chart, the runs table) pass the same ordered ids, e.g. the selection, and get the same answer.

>>> run_colors(["a", "b"]) == run_colors(["a", "b"])
True
>>> len(set(run_colors([str(i) for i in range(100)]).values()))
100
"""

from __future__ import annotations

import colorsys
import hashlib
from collections.abc import Iterable

__all__ = ["PALETTE", "run_color", "run_colors"]

#: 24 colours told apart on a white background (Tableau 10, then darker and lighter companions)
PALETTE: list[str] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#e7ba52", "#637939", "#ad494a", "#7b4173", "#3182bd",
    "#f16913", "#31a354", "#843c39", "#6baed6", "#fd8d3c", "#74c476", "#de9ed6", "#9c9ede",
]

_GOLDEN = 0.618033988749895
_LIGHTNESS = (0.42, 0.30, 0.55)


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


def _spread(n: int) -> str:
    """The ``n``-th colour past the palette: hues by the golden angle, lightness in bands."""
    hue = (n * _GOLDEN) % 1.0
    lightness = _LIGHTNESS[(n // 7) % len(_LIGHTNESS)]
    r, g, b = colorsys.hls_to_rgb(hue, lightness, 0.75)
    return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


def run_color(run_id: str) -> str:
    """The colour ``run_id`` gets when no other run of its selection wants the same one."""
    return PALETTE[_hash(str(run_id)) % len(PALETTE)]


def run_colors(run_ids: Iterable[str], *, ordered: bool = False) -> dict[str, str]:
    """``{run id: colour}`` for the runs of one view, distinct for every run, in the order given.

    ``ordered``: the palette in order instead of by hash (for a few groups: the most distinct
    colours first; a group's colour then depends on its place, not its name).
    """
    colors: dict[str, str] = {}
    taken: set[str] = set()
    for i, rid in enumerate(dict.fromkeys(str(r) for r in run_ids)):
        h = _hash(rid)
        if len(taken) < len(PALETTE):
            start = i if ordered else h % len(PALETTE)
            color = next(PALETTE[(start + i) % len(PALETTE)] for i in range(len(PALETTE))
                         if PALETTE[(start + i) % len(PALETTE)] not in taken)
        else:
            n = h % 4096
            while _spread(n) in taken or _spread(n) in PALETTE:
                n += 1
            color = _spread(n)
        colors[rid] = color
        taken.add(color)
    return colors
