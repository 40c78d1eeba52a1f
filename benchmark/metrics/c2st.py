"""Classifier two-sample test as sbibm computes it: cross-validated accuracy of an MLP telling two
samples apart; 0.5 means indistinguishable, 1.0 fully separable."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.model_selection import KFold, cross_val_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

__all__ = ["c2st"]


def c2st(x: torch.Tensor, y: torch.Tensor, seed: int = 0, folds: int = 5) -> float:
    """Mean accuracy over `folds` folds; x (n, d) and y (m, d), z-scored with x's statistics."""
    a, b = x.detach().cpu().double().numpy(), y.detach().cpu().double().numpy()
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return float("nan")
    data = np.concatenate([a, b])
    labels = np.concatenate([np.zeros(len(a)), np.ones(len(b))])
    dim = data.shape[1]
    classifier = make_pipeline(
        StandardScaler(),
        MLPClassifier(
            hidden_layer_sizes=(10 * dim, 10 * dim),
            max_iter=1000,
            solver="adam",
            activation="relu",
            random_state=seed,
        ),
    )
    split = KFold(n_splits=folds, shuffle=True, random_state=seed)
    return float(np.mean(cross_val_score(classifier, data, labels, cv=split, scoring="accuracy")))
