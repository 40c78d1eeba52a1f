"""The reference for tests/test_c2st.py and its timing: the C2ST computed with scikit-learn exactly
as sbibm does (z-scored with x's mean and standard deviation, MLPClassifier, shuffled KFold)."""

import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, cross_val_score
from sklearn.neural_network import MLPClassifier


def sklearn_c2st(x: torch.Tensor, y: torch.Tensor, seed: int = 0, folds: int = 5) -> float:
    """sbibm's `c2st(X, Y, seed, n_folds)`: mean held-out accuracy over the folds."""
    a, b = x.double().numpy(), y.double().numpy()
    mean, std = a.mean(0), a.std(0, ddof=1)
    data = (np.concatenate([a, b]) - mean) / std
    labels = np.concatenate([np.zeros(len(a)), np.ones(len(b))])
    dim = data.shape[1]
    classifier = MLPClassifier(
        hidden_layer_sizes=(10 * dim, 10 * dim),
        activation="relu",
        solver="adam",
        max_iter=1000,
        random_state=seed,
    )
    split = KFold(n_splits=folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():  # it often stops at max_iter, as in sbibm
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(classifier, data, labels, cv=split, scoring="accuracy")
    return float(np.mean(scores))
