"""The tuned view's selection: held-out likelihood alone picks a method's variant."""

import numpy as np
import pandas as pd

from benchmark.reporting.selection import select_variants


def runs(rows: list[tuple[str, int, str, float, float]]) -> pd.DataFrame:
    """(variant, seed, status, held-out log-likelihood, mode-weight TV) rows of one method."""
    frame = pd.DataFrame(rows, columns=["variant", "seed", "status", "heldout_loglik", "mw_tv"])
    return frame.assign(target="four_modes", method="ula_ebm")


def test_the_highest_mean_held_out_likelihood_wins_whatever_the_truth_says():
    frame = runs(
        [
            ("a", 0, "ok", -2.0, 0.01),
            ("a", 1, "ok", -2.2, 0.01),
            ("b", 0, "ok", -1.0, 0.40),
            ("b", 1, "ok", -1.4, 0.40),
        ]
    )
    (row,) = select_variants(frame).to_dict("records")
    assert row["variant"] == "b" and row["criterion_mean"] == -1.2  # though b's TV is worse
    assert (row["n_estimable"], row["n_seeds"], row["n_variants"]) == (2, 2, 2)


def test_a_variant_failing_on_a_seed_loses_to_one_that_never_fails():
    frame = runs(
        [
            ("fails", 0, "ok", -0.5, np.nan),
            ("fails", 1, "failed", np.nan, np.nan),
            ("steady", 0, "ok", -3.0, np.nan),
            ("steady", 1, "ok", -3.0, np.nan),
        ]
    )
    assert select_variants(frame).variant.tolist() == ["steady"]


def test_not_estimable_counts_as_missing_and_ties_go_to_the_first_listed():
    frame = runs(
        [("x", 0, "ok", np.nan, 0.0), ("y", 0, "ok", -1.0, 0.0), ("z", 0, "ok", -1.0, 0.0)]
    )
    (row,) = select_variants(frame).to_dict("records")
    assert row["variant"] == "y" and row["n_estimable"] == 1


def test_nothing_estimable_still_names_a_variant_without_a_number():
    frame = runs([("x", 0, "failed", np.nan, np.nan), ("y", 0, "failed", np.nan, np.nan)])
    (row,) = select_variants(frame).to_dict("records")
    assert row["variant"] == "x" and np.isnan(row["criterion_mean"]) and row["n_estimable"] == 0


def test_a_variant_whose_normaliser_was_refused_on_a_seed_is_never_picked():
    # "inflated" has the higher held-out likelihood on seed 0 — what a log Z that misses mass
    # gives — and its log Z was not estimable on seed 1: excluded, with the reason.
    frame = runs(
        [
            ("inflated", 0, "ok", 5.0, 0.0),
            ("inflated", 1, "ok", np.nan, 0.0),
            ("honest", 0, "ok", -1.2, 0.0),
            ("honest", 1, "ok", -1.3, 0.0),
        ]
    ).assign(log_z_ne=[None, "normalisers disagree", None, None])
    (row,) = select_variants(frame).to_dict("records")
    assert row["variant"] == "honest" and row["n_variants"] == 2
    assert row["excluded"] == (("inflated", "seed 1: normalisers disagree"),)


def test_every_variant_refused_selects_none():
    frame = runs([("x", 0, "ok", np.nan, 0.0)]).assign(log_z_ne=["IS ESS 3 < 100"])
    (row,) = select_variants(frame).to_dict("records")
    assert row["variant"] is None and np.isnan(row["criterion_mean"]) and row["n_seeds"] == 0
