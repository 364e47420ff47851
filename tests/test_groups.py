"""Group-aware sources, per-group metrics, the downstream classifier loop and reparation.

Monte-Carlo checks assert |z| < 4 with z from the binomial or sample standard error.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from helpers import experiment, simulate
from modelcollapse._rng import Streams
from modelcollapse.metrics.groups import group_series, measure
from modelcollapse.registry import SOURCES
from modelcollapse.run.loading import ConfigError
from modelcollapse.sources.groups import Groups, bayes_assign, nearest_value, under_represent

Z = 4.0
MIXTURE: dict[str, Any] = {"kind": "mixture"}


def _world(source: dict[str, Any], batch: int = 2, n: int = 4000):  # type: ignore[no-untyped-def]
    return SOURCES.parse(source).build().world(batch, n, Streams.keyed(0, "9a0b9a0b", 0, batch))


def _binomial_z(hits: np.ndarray, p: float) -> float:
    n = hits.size
    return float((hits.sum() - n * p) / np.sqrt(n * p * (1 - p)))


@pytest.mark.parametrize(
    "source",
    [
        MIXTURE,
        {"kind": "shapes", "shape": "blobs", "centers": 3, "weights": [0.8, 0.15, 0.05]},
        {"kind": "tabular", "name": "digits", "groups": "class", "class_shares": {3: 0.1}},
    ],
)
def test_real_group_shares_are_the_truth(source: dict[str, Any]) -> None:
    """The real rows of each group come in the shares the world states (a binomial z per group)."""
    w = _world(source, n=1000)
    g = w.train.cols["group"]
    for i, share in enumerate(w.groups.shares):
        if source["kind"] == "tabular":  # rows drawn without replacement from a finite table: within 2 rows
            assert abs((g == i).mean() - share) < 0.02
        else:
            assert abs(_binomial_z(g == i, share)) < Z


def test_mixture_groups_and_bayes_rule() -> None:
    """The default mixture: shares 0.9 / 0.1; the Bayes rule agrees with the true group on >= 97% of rows,
    and equals the argmax of the posterior computed by hand at a few points."""
    w = _world(MIXTURE)
    assert w.groups.names == ("majority", "minority") and np.allclose(w.groups.shares, [0.9, 0.1])
    assert (w.groups.assign(w.train.cols["x"]) == w.train.cols["group"]).mean() > 0.97
    assert set(w.train.cols) == {"x", "group", "target"} and set(w.test.cols) == {"x", "group", "target", "label"}
    means, std, wts = np.array([[0.0], [3.0]]), np.array([1.0, 1.0]), np.array([0.9, 0.1])
    rule = bayes_assign(means, std, wts, np.array([0, 1]))
    # the boundary: log(0.9/0.1) = (x - 0)^2/2 - (x - 3)^2/2 = 3x - 4.5  ->  x = (4.5 + log 9) / 3
    edge = (4.5 + np.log(9)) / 3
    assert rule(np.array([[[edge - 1e-6], [edge + 1e-6]]])).tolist() == [[0, 1]]


def test_attribute_groups_and_under_representation() -> None:
    """diabetes grouped by sex: two groups, every real row's nearest code is its own; under_represent keeps
    exactly round(share * count) of a class, in order."""
    w = _world({"kind": "tabular", "name": "diabetes", "groups": "attribute"}, n=200)
    assert w.groups.names == ("sex1", "sex2")
    assert (w.groups.assign(w.train.cols["x"]) == w.train.cols["group"]).all()
    assert set(np.unique(w.train.cols["target"])) == {0, 1}
    y = np.array([0, 1, 1, 0, 1, 1, 1])
    assert under_represent(y, {1: 0.4}).tolist() == [0, 1, 2, 3]  # 5 ones -> 2 kept, the first two
    assign = nearest_value(0, [-1.0, 1.0])
    assert assign(np.array([[[-0.2, 9.0], [0.1, -9.0]]])).tolist() == [[0, 1]]


def test_measure_is_exact() -> None:
    g = Groups(("a", "b"), np.array([0.8, 0.2]), lambda x: (x[..., 0] > 0).astype(int))
    samples = np.array([[[-1.0]] * 9 + [[1.0]]])  # 10% in b
    losses = np.array([[1.0, 2.0, 3.0, 10.0]])
    v = measure(g, samples, losses, np.array([[0, 0, 0, 1]]))
    assert set(v) == set(group_series(("a", "b")))
    assert v["group_share_b"][0] == pytest.approx(0.1) and v["minority_share"][0] == pytest.approx(0.5)
    assert v["group_share_tv"][0] == pytest.approx(0.1) and v["groups_lost"][0] == 0
    assert v["group_loss_a"][0] == pytest.approx(2.0) and v["group_loss_b"][0] == pytest.approx(10.0)
    lost = measure(g, np.full((1, 50, 1), -1.0), None, np.array([[0, 1]]))
    assert lost["groups_lost"][0] == 1 and np.isnan(lost["group_loss_a"][0])


def test_group_values_are_recorded_and_change_no_chain_number() -> None:
    """A group-aware run records every per-group series; measuring them draws from streams of their own, so
    the chain's numbers are those of the same run without them (here: the same source with metrics only)."""
    base = {"source": MIXTURE, "model": {"kind": "gmm", "components": 4}, "samples_per_generation": 200}
    out = simulate(**base, metrics=["test_nll"], generations=4, replicates=3, workflow=["replace", "accumulate"])
    names = experiment(**base, metrics=["test_nll"]).recorded()
    assert set(out["replace"]) == set(names)
    assert {"group_share_minority", "minority_share", "groups_lost", "group_loss_minority"} <= set(names)
    assert np.isfinite(out["replace"]["group_loss_minority"]).all()
    # the model's share of the minority at generation 1 is its fitted weight: about 0.1 (mean of 3 x 500 rows)
    assert abs(out["replace"]["group_share_minority"][0].mean() - 0.1) < 0.05


def test_minority_is_lost_under_replace_with_few_rows() -> None:
    """Blobs with a 5% minority and 100 rows a generation: under replace a GMM has lost the minority (less
    than a tenth of its share) in most replicates after 20 generations; under accumulate in none."""
    source = {"kind": "shapes", "shape": "blobs", "centers": 2, "weights": [0.95, 0.05], "cluster_std": 0.5}
    out = simulate(
        source=source,
        model={"kind": "gmm", "components": 2},
        samples_per_generation=100,
        workflow=["replace", "accumulate"],
        generations=20,
        replicates=10,
        metrics=["test_nll"],
    )
    assert out["replace"]["groups_lost"][0].sum() == 0 and out["replace"]["groups_lost"][-1].mean() > 0.4
    assert out["accumulate"]["groups_lost"].sum() == 0


def test_classifier_loop_against_sklearn_and_fairlearn() -> None:
    """Generation 1's classifier values equal those of a LogisticRegression fitted to the real rows and scored
    with fairlearn by hand; synthetic rows are labelled by the previous classifier."""
    from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference
    from sklearn.linear_model import LogisticRegression

    exp = experiment(
        source=MIXTURE,
        model={"kind": "gmm", "components": 4},
        samples_per_generation=300,
        generations=3,
        replicates=2,
        metrics=["test_nll"],
        downstream={"kind": "classifier"},
    )
    from modelcollapse.run.chunk import real_key, run_block

    out = run_block(exp, 0)["replace"]
    w = exp.source.build().world(2, 300, Streams.keyed(exp.seed, real_key(exp), 0, 2))
    for b in range(2):
        clf = LogisticRegression(max_iter=1000).fit(w.train.cols["x"][b], w.train.cols["target"][b])
        pred = clf.predict(w.test.cols["x"][b])
        y, g = w.test.cols["target"][b], w.test.cols["group"][b]
        assert out["clf_accuracy"][0, b] == pytest.approx((pred == y).mean())
        assert out["clf_accuracy_minority"][0, b] == pytest.approx((pred == y)[g == 1].mean())
        dp = demographic_parity_difference(y, pred, sensitive_features=g)
        assert out["clf_dp_difference"][0, b] == pytest.approx(dp)
        assert out["clf_eo_difference"][0, b] == pytest.approx(equalized_odds_difference(y, pred, sensitive_features=g))
    assert np.isfinite(out["clf_accuracy"]).all()


def test_fairness_feedback_loop_hurts_the_minority_under_replace() -> None:
    """Boosted trees on the default mixture: under replace the minority's accuracy falls over 8 generations
    (paired over replicates, z > 4) while the majority's stays within 0.02; accumulate holds the minority."""
    out = simulate(
        source=MIXTURE,
        model={"kind": "gmm", "components": 4},
        samples_per_generation=200,
        workflow=["replace", "accumulate"],
        generations=8,
        replicates=10,
        metrics=["test_nll"],
        downstream={"kind": "classifier", "model": "boosting"},
    )
    r, a = out["replace"], out["accumulate"]
    drop = r["clf_accuracy_minority"][0] - r["clf_accuracy_minority"][-1]
    assert drop.mean() / (drop.std(ddof=1) / np.sqrt(len(drop))) > Z
    assert abs(r["clf_accuracy_majority"][-1].mean() - r["clf_accuracy_majority"][0].mean()) < 0.02
    assert a["clf_accuracy_minority"][-1].mean() > r["clf_accuracy_minority"][-1].mean() + 0.2


def test_reparation_restores_the_target_shares() -> None:
    """A model that over-generates the minority 4x: reparation's kept rows are in the truth's shares (binomial
    z on the synthetic training set), and it records the model's minority share before."""
    exp = experiment(
        source={"kind": "shapes", "shape": "blobs", "centers": 2, "weights": [0.9, 0.1]},
        model={"kind": "kde", "bandwidth": 0.1},
        samples_per_generation=400,
        workflow=["replace"],
        generations=2,
        replicates=4,
        metrics=["test_nll"],
        selection=[{"kind": "reparation", "shares": [0.5, 0.5]}],
    )
    out = simulate_one(exp)
    # target 50/50 from a model at ~10% minority: acceptance of the majority ~ 0.1/0.9, of the minority 1
    assert abs(out["reparation_model_minority_share"][1].mean() - 0.1) < 0.03
    assert abs(out["reparation_score_after"][1].mean() - 0.5) < 0.05
    assert out["reparation_score_before"][1].mean() < 0.15
    assert abs(out["acceptance"][1].mean() - 2 * 0.1) < 0.05  # keeps all minority rows + as many majority


def simulate_one(exp):  # type: ignore[no-untyped-def]
    from modelcollapse import simulate_experiment

    return simulate_experiment(exp)[exp.workflow[0].label]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"downstream": {"kind": "classifier"}}, "downstream: a classifier needs a source whose rows have classes"),
        ({"selection": [{"kind": "reparation"}]}, "stage 'reparation' needs a source with groups"),
    ],
)
def test_refusals(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        experiment(**fields)


def test_bad_group_configs_are_refused() -> None:
    with pytest.raises(ConfigError, match="weights has 3 entries but means has 4"):
        experiment(source={"kind": "mixture", "weights": [1, 1, 1]}, model={"kind": "gmm"})
    with pytest.raises(ConfigError, match="weights: give one per blob"):
        experiment(source={"kind": "shapes", "shape": "moons", "weights": [1, 2]}, model={"kind": "gmm"})
    with pytest.raises(ConfigError, match="groups: attribute needs a table with one: diabetes"):
        experiment(source={"kind": "tabular", "groups": "attribute"}, model={"kind": "gmm"})
