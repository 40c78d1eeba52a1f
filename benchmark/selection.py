"""Choosing a method's variant without reading the truth (SPEC §7): per (target, method), the
variant whose EBM gives held-out target draws the highest mean log-likelihood under its normalised
density, `heldout_loglik` — a number a practitioner holding a validation set could compute, unlike
every error against p★.

The rule, in order: variants whose every seed finished with an estimable held-out likelihood come
first (a variant that fails on some seed loses to one that never does); among those, the highest
mean over seeds; ties go to the variant listed first in the config. Every variant stays in
results.csv; the selection only decides which one a "tuned" table shows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["CRITERION", "select_variants"]

CRITERION = "heldout_loglik"


def select_variants(runs: pd.DataFrame, criterion: str = CRITERION) -> pd.DataFrame:
    """One row per (target, method): the chosen `variant`, its criterion's mean over seeds,
    `n_estimable` seeds of `n_seeds`, and how many variants competed.

    Arguments:
        runs: One row per run with columns target, method, variant, seed, status, `criterion`.

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
        candidates = []
        for order, (variant, runs_of) in enumerate(group.groupby("variant", sort=False)):
            values = runs_of[criterion].where(runs_of.status == "ok").astype(float)
            finite = values[np.isfinite(values)]
            mean = finite.mean() if len(finite) else -np.inf
            candidates.append((len(finite) == len(runs_of), mean, -order, variant, len(finite)))
        complete, mean, _, variant, estimable = max(candidates)
        rows.append(
            {
                "target": target,
                "method": method,
                "variant": variant,
                "criterion_mean": mean if np.isfinite(mean) else np.nan,
                "n_estimable": estimable,
                "n_seeds": int((group.variant == variant).sum()),
                "n_variants": len(candidates),
            }
        )
    return pd.DataFrame(rows)
