"""Adaptive 2-D quadrature of an unnormalised density with an error estimate
(docs/SCIENCE.md §7.2, "The EBM's own weights and log Z").

The box is tiled by square-grid cells (leaves). A leaf's mass is the midpoint rule on its four
children; its error estimate is how far that is from the midpoint rule on the leaf itself (a
conservative one: for a smooth integrand the finer rule's error is about a third of it). Each
round splits the leaves holding half the error, largest first, until the errors sum to at most
`tol` of the mass, the budget of density evaluations is spent or `_ROUNDS` rounds have run. A
peak narrower than a leaf falls between its sample points and looks like nothing; the method's
own draws (`probes`) expose it: where p̃ at a probe times the leaf's area exceeds twice the
leaf's mass, that excess is the leaf's error, so the leaf is split toward the probe until the
peak is resolved — or the budget runs out and the estimate says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch
from scipy.special import logsumexp
from torch import Tensor

__all__ = ["Quadrature", "adaptive_quadrature"]

LogDensity = Callable[[Tensor], Tensor]
_CHUNK = 2**16
_SPIKE_RATIO = 2.0  # a probe's p̃ · area above this many times its leaf's mass: a hidden peak
_MAX_LEVEL = 24  # splits of a first-grid cell, at most (a width of 2⁻²⁴ of it)
_ROUNDS = 64  # rounds of splitting, at most (each costs a pass over the leaves)
_CHILDREN = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # corners, in half-widths


class Quadrature(NamedTuple):
    """The refined tiling: points (m, 2) (the leaves' children's midpoints), their log masses
    (m,) (log p̃ + log area), the relative error estimate of the total, the error estimate per
    point's leaf shared among its children (m,) (as a fraction of the total mass), the density
    evaluations spent, and whether the errors met the tolerance."""

    points: Tensor
    log_mass: np.ndarray
    relative_error: float
    point_error: np.ndarray
    evaluations: int
    converged: bool


def _evaluate(log_density: LogDensity, x: np.ndarray, device: torch.device) -> np.ndarray:
    points = torch.from_numpy(x).float().to(device)
    with torch.no_grad():
        values = [log_density(chunk).double().cpu() for chunk in points.split(_CHUNK)]
    out = torch.cat(values).numpy() if values else np.zeros(0)
    return np.nan_to_num(out, nan=math.inf)  # an undefined density is not small


def _children(corner: np.ndarray, width: np.ndarray) -> np.ndarray:
    """Midpoints of the 4 children of each leaf, (n, 4, 2); leaves (n, 2) corners, (n, 2) widths."""
    return corner[:, None, :] + (_CHILDREN[None] + 0.5) * width[:, None, :] / 2


def adaptive_quadrature(
    log_density: LogDensity,
    lo: Tensor,
    hi: Tensor,
    cells: int,
    probes: Tensor | None,
    tol: float,
    budget: int,
    device: torch.device,
) -> Quadrature:
    """Integrate p̃ = exp(log_density) over the box [lo, hi] (2,), starting from cells × cells
    leaves, refining until the error estimate is at most `tol` of the mass or `budget`
    evaluations are spent; `probes` (n, 2): points where the mass may hide in a peak."""
    lo_np, hi_np = lo.double().numpy(), hi.double().numpy()
    step = (hi_np - lo_np) / cells
    grid = np.stack(np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij"), -1)
    corner = lo_np + grid.reshape(-1, 2) * step
    level = np.zeros(len(corner), dtype=np.int64)
    width = np.broadcast_to(step, corner.shape).copy()
    own = _evaluate(log_density, corner + width / 2, device) + np.log(width.prod(-1))
    kids = _evaluate(log_density, _children(corner, width).reshape(-1, 2), device)
    kids = kids.reshape(-1, 4) + np.log(width.prod(-1) / 4)[:, None]
    spent = len(own) + kids.size
    finite = probes is not None and len(probes) > 0
    probe_x = probes.detach().cpu().double().numpy() if finite else np.zeros((0, 2))
    inside = ((probe_x >= lo_np) & (probe_x < hi_np)).all(-1)
    probe_x = probe_x[inside]
    probe_log = _evaluate(log_density, probe_x, device) if len(probe_x) else np.zeros(0)
    spent += len(probe_x)
    for round_ in range(_ROUNDS + 1):
        fine = logsumexp(kids, axis=1)
        log_total = float(logsumexp(fine))
        if not math.isfinite(log_total):
            error, converged = np.full(len(fine), math.nan), False
            break
        mass, coarse = np.exp(fine - log_total), np.exp(own - log_total)
        error = np.abs(mass - coarse)
        if len(probe_x):
            leaf = _locate(probe_x, corner, level, lo_np, step, cells)
            held, leaf = leaf >= 0, leaf.clip(0)
            point = np.exp(probe_log + np.log(width[leaf].prod(-1)) - log_total)
            hidden = np.where(held & (point > _SPIKE_RATIO * mass[leaf]), point - mass[leaf], 0.0)
            np.maximum.at(error, leaf, hidden)
        total = float(error.sum())
        converged = total <= tol
        order = np.argsort(-error, kind="stable")
        share = np.cumsum(error[order])
        wanted = int(np.searchsorted(share, total / 2)) + 1  # the leaves holding half the error
        afford = max(0, budget - spent) // 20  # a split: 4 new midpoints and 16 children
        split = order[: min(wanted, afford)]
        split = split[level[split] < _MAX_LEVEL]
        if converged or not len(split) or round_ == _ROUNDS:
            break
        half = width[split] / 2
        new_corner = (corner[split][:, None, :] + _CHILDREN[None] * half[:, None, :]).reshape(-1, 2)
        new_width = np.repeat(half, 4, axis=0)
        new_own = kids[split].reshape(-1)
        new_kids = _evaluate(log_density, _children(new_corner, new_width).reshape(-1, 2), device)
        new_kids = new_kids.reshape(-1, 4) + np.log(new_width.prod(-1) / 4)[:, None]
        spent += new_kids.size
        keep = np.ones(len(corner), dtype=bool)
        keep[split] = False
        corner = np.concatenate([corner[keep], new_corner])
        width = np.concatenate([width[keep], new_width])
        level = np.concatenate([level[keep], np.repeat(level[split] + 1, 4)])
        own = np.concatenate([own[keep], new_own])
        kids = np.concatenate([kids[keep], new_kids])
    points = torch.from_numpy(_children(corner, width).reshape(-1, 2)).float()
    return Quadrature(
        points,
        kids.reshape(-1),
        float(error.sum()),
        np.repeat(error / 4, 4),
        spent,
        bool(converged),
    )


def _locate(
    x: np.ndarray,
    corner: np.ndarray,
    level: np.ndarray,
    lo: np.ndarray,
    step: np.ndarray,
    cells: int,
) -> np.ndarray:
    """Index of the leaf holding each point x (n, 2), −1 for none: per level, the points' cell
    keys matched against the leaves' (the leaves tile the box, so one level matches)."""
    found = np.full(len(x), -1, dtype=np.int64)
    for depth in np.unique(level):
        scale, side = step / 2.0**depth, np.int64(cells) << np.int64(depth)
        leaves = np.nonzero(level == depth)[0]
        cell = np.rint((corner[leaves] - lo) / scale).astype(np.int64)
        keys = cell[:, 0] * side + cell[:, 1]
        order = np.argsort(keys)
        at = np.floor((x - lo) / scale).astype(np.int64)
        wanted = at[:, 0] * side + at[:, 1]
        pos = np.clip(np.searchsorted(keys[order], wanted), 0, len(keys) - 1)
        match = keys[order][pos] == wanted
        found[match] = leaves[order[pos[match]]]
    return found
