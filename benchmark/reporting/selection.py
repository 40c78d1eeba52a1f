"""Choosing a method's variant without reading the truth (docs/SCIENCE.md §5, "Choosing a method's
hyperparameters without the truth"): per (target, method), the variant whose EBM gives held-out
target draws the highest mean log-likelihood under its normalised density, `heldout_loglik` — a
number a practitioner holding a validation set could compute, unlike every error against p★.

The rule, in order: a variant whose normaliser was refused on some seed (`log_z` not estimable:
too few effective draws, a quadrature that did not converge, estimators that disagree, a held-out
likelihood above the truth's) is excluded — its criterion cannot be trusted, and a missed mass
raises it; variants whose every seed finished with an estimable held-out likelihood come next (a
variant that fails on some seed loses to one that never does); among those, the highest mean
over seeds; ties go to the variant listed first in the config. Every variant stays in
results.csv; the selection only decides which one a "tuned" table shows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .frames import NE_SUFFIX

__all__ = ["CRITERION", "NORMALISER", "select_variants"]

CRITERION = "heldout_loglik"
#: The metric whose "not estimable" on a seed excludes a variant: the EBM's log Z.
NORMALISER = "log_z"


def _refusals(runs_of: pd.DataFrame) -> list[str]:
    """ "seed s: reason" for each finished seed whose normaliser was not estimable."""
    column = f"{NORMALISER}{NE_SUFFIX}"
    if column not in runs_of:
        return []
    ok = runs_of[(runs_of.status == "ok") & runs_of[column].notna()]
    return [f"seed {seed}: {reason}" for seed, reason in zip(ok.seed, ok[column], strict=True)]


def select_variants(runs: pd.DataFrame, criterion: str = CRITERION) -> pd.DataFrame:
    """One row per (target, method): the chosen `variant` (None when every variant is excluded),
    its criterion's mean over seeds, `n_estimable` seeds of `n_seeds`, how many variants
    competed, and `excluded`: a tuple of (variant, "seed s: reason; …") for each variant left
    out because its normaliser was not estimable on a seed.

    Arguments:
        runs: One row per run with columns target, method, variant, seed, status, `criterion`,
            and `log_z_ne` (the reason log Z was not estimable) where some run has one.

    Example:
        >>> runs = pd.DataFrame({
        ...     "target": ["t"] * 4, "method": ["m"] * 4, "seed": [0, 1, 0, 1],
        ...     "variant": ["m[lr=1]", "m[lr=1]", "m[lr=2]", "m[lr=2]"],
        ...     "status": ["ok"] * 4, "heldout_loglik": [-1.0, -1.2, -0.9, float("nan")]})
        >>> select_variants(runs)[["variant", "criterion_mean", "n_estimable"]].to_dict("records")
        [{'variant': 'm[lr=1]', 'criterion_mean': -1.1, 'n_estimable': 2}]
    """
    rows = []
    for (target, method), group in runs.groupby(["target", "method"], sort=False):
        candidates, excluded = [], []
        for order, (variant, runs_of) in enumerate(group.groupby("variant", sort=False)):
            refused = _refusals(runs_of)
            if refused:
                excluded.append((variant, "; ".join(refused)))
                continue
            values = runs_of[criterion].where(runs_of.status == "ok").astype(float)
            finite = values[np.isfinite(values)]
            mean = finite.mean() if len(finite) else -np.inf
            candidates.append((len(finite) == len(runs_of), mean, -order, variant, len(finite)))
        if candidates:
            _, mean, _, variant, estimable = max(candidates)
        else:
            mean, variant, estimable = np.nan, None, 0
        rows.append(
            {
                "target": target,
                "method": method,
                "variant": variant,
                "criterion_mean": mean if np.isfinite(mean) else np.nan,
                "n_estimable": estimable,
                "n_seeds": int((group.variant == variant).sum()) if variant is not None else 0,
                "n_variants": len(candidates) + len(excluded),
                "excluded": tuple(excluded),
            }
        )
    return pd.DataFrame(rows)
