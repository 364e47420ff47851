"""Sampling that favours likely outputs: the categorical temperature / top-k / top-p and the Gaussian shrink.

Monte-Carlo checks assert |z| < 4, z from the standard error (of the sample, or of the multinomial where it
is known), and chi-square p-values above 1e-3.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import stats

from helpers import experiment, simulate, z_score
from modelcollapse._rng import Streams
from modelcollapse.data import Part
from modelcollapse.models.base import Metric
from modelcollapse.models.discrete import CategoricalModelConfig, biased
from modelcollapse.models.gaussian import GaussianModelConfig
from modelcollapse.run.engine import simulate as run_chain
from modelcollapse.run.loading import ConfigError
from modelcollapse.sources import GaussianSource
from modelcollapse.workflows import replace

Z = 4.0
ALPHA = 1e-3  # per chi-square / KS test
KEY = "5b1a5b1a"


def _row(p: list[float], **bias: Any) -> np.ndarray:
    return biased(np.array([p]), **bias)[0]


# --- the transform ---------------------------------------------------------------------------------------


def test_temperature_is_a_power_renormalised() -> None:
    p = np.array([0.5, 0.3, 0.2, 0.0])
    np.testing.assert_allclose(_row(list(p), temperature=0.5), p**2 / (p**2).sum(), rtol=1e-12)
    np.testing.assert_allclose(_row(list(p), temperature=2.0), np.sqrt(p) / np.sqrt(p).sum(), rtol=1e-12)
    assert _row(list(p), temperature=0.5)[3] == 0.0  # zero stays zero
    # A very low temperature leaves the most likely symbol (0.5^10000 underflows: no 0/0 here).
    assert _row([0.5, 0.3, 0.2], temperature=1e-4).tolist() == [1.0, 0.0, 0.0]


def test_top_k_keeps_the_k_most_likely() -> None:
    np.testing.assert_allclose(_row([0.2, 0.5, 0.0, 0.3], top_k=2), [0.0, 0.625, 0.0, 0.375], rtol=1e-12)
    assert _row([0.25] * 4, top_k=2).tolist() == [0.5, 0.5, 0.0, 0.0]  # ties: the lower index first
    # More slots than positive symbols: the zeros stay zero.
    assert _row([0.0, 1.0, 0.0], top_k=2).tolist() == [0.0, 1.0, 0.0]


def test_top_p_boundary() -> None:
    p = [0.5, 0.25, 0.125, 0.125]  # exact in binary: the cumulative masses are exact too
    # A symbol stays while the mass ranked above it is at most top_p (filter_logits: dropped when > top_p).
    np.testing.assert_allclose(_row(p, top_p=0.5), [2 / 3, 1 / 3, 0.0, 0.0], rtol=1e-12)
    np.testing.assert_allclose(_row(p, top_p=0.75), [4 / 7, 2 / 7, 1 / 7, 0.0], rtol=1e-12)
    assert _row(p, top_p=0.49).tolist() == [1.0, 0.0, 0.0, 0.0]  # the most likely symbol always stays
    np.testing.assert_allclose(_row(p, top_p=0.875), p, rtol=1e-12)
    # Ties in index order: the mass above symbols 0..3 is 0, 0.25, 0.5, 0.75.
    np.testing.assert_allclose(_row([0.25] * 4, top_p=0.5), [1 / 3, 1 / 3, 1 / 3, 0.0], rtol=1e-12)


def test_order_temperature_then_top_k_then_nucleus() -> None:
    p = [0.5, 0.3, 0.2]
    # Temperature first: squared, p is (0.658, 0.237, 0.105); the mass above symbol 1 (0.658) exceeds 0.6.
    # Had the nucleus come first, symbol 1 (mass 0.5 above it) would have stayed.
    assert _row(p, temperature=0.5, top_p=0.6).tolist() == [1.0, 0.0, 0.0]
    # The nucleus is taken of the top-k distribution (0.625, 0.375): the mass above symbol 1 is 0.625 > 0.6.
    assert _row(p, top_k=2, top_p=0.6).tolist() == [1.0, 0.0, 0.0]
    np.testing.assert_allclose(_row(p, top_k=2, top_p=0.65), [0.625, 0.375, 0.0], rtol=1e-12)
    sq = np.array([0.25, 0.09])
    np.testing.assert_allclose(_row(p, temperature=0.5, top_k=2), [*(sq / sq.sum()), 0.0], rtol=1e-12)


def test_rows_are_independent_and_defaults_are_the_identity() -> None:
    p = np.array([[0.5, 0.3, 0.2, 0.0], [0.1, 0.2, 0.3, 0.4]])
    both = biased(p, temperature=0.7, top_k=3, top_p=0.8)
    for b in range(2):
        assert np.array_equal(both[b], biased(p[b : b + 1], temperature=0.7, top_k=3, top_p=0.8)[0])
    np.testing.assert_allclose(both.sum(1), 1.0, rtol=1e-12)
    # At the defaults (and when nothing is cut) the sampler gets ``p`` itself: the old code path.
    assert biased(p) is p
    assert biased(p, 1.0, 4, 1.0) is p


# --- the sampler -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rows", [False, True])
@pytest.mark.parametrize(
    "bias",
    [{"temperature": 0.6}, {"top_k": 3}, {"top_p": 0.5}, {"temperature": 1.5, "top_k": 4, "top_p": 0.9}],
)
def test_sampler_frequencies_follow_q(rows: bool, bias: dict[str, Any]) -> None:
    p = np.array([[0.3, 0.25, 0.2, 0.1, 0.08, 0.05, 0.02, 0.0], [0.02, 0.05, 0.08, 0.1, 0.2, 0.25, 0.3, 0.0]])
    fam = CategoricalModelConfig(**bias).build(_Size(p.shape[1]))
    q = biased(p, **bias)
    n = 200_000
    out = fam.sample(p, n, Streams.keyed(seed=1, key=KEY, first=0, count=len(p)), None, rows=rows)
    counts = np.stack([np.bincount(x, minlength=p.shape[1]) for x in out.cols["x"]]) if rows else out.sums
    assert counts.sum(1).tolist() == [n, n]
    for c, qb in zip(counts, q, strict=True):
        kept = qb > 0
        assert (c[~kept] == 0).all()  # nothing of a dropped (or zero-probability) symbol
        pvalue = stats.chisquare(c[kept], n * qb[kept]).pvalue
        assert pvalue > ALPHA, (bias, rows, pvalue)


class _Size:
    def __init__(self, size: int) -> None:
        self.size = size


# --- defaults leave everything as it was --------------------------------------------------------------------

CATEGORICAL = {"kind": "categorical", "categories": 8}


@pytest.mark.parametrize(
    ("source", "model", "defaults"),
    [
        (CATEGORICAL, {"kind": "categorical"}, {"temperature": 1.0, "top_k": None, "top_p": None}),
        (CATEGORICAL, {"kind": "categorical", "smoothing": 0.5}, {"temperature": 1, "top_p": None}),
        ({"kind": "gaussian", "dim": 2}, {"kind": "gaussian"}, {"shrink": 1.0}),
        ({"kind": "gaussian", "dim": 2}, {"kind": "gaussian", "covariance": "diagonal"}, {"shrink": 1}),
    ],
)
def test_defaults_change_nothing(source: dict, model: dict, defaults: dict) -> None:
    fields = {"source": source, "workflow": ["replace", "accumulate", "accumulate-subsample"], "replicates": 6}
    plain, explicit = experiment(model=model, **fields), experiment(model={**model, **defaults}, **fields)
    # The random streams are keyed by the config's dump: the new fields at their defaults are not in it.
    assert plain.model_dump(mode="json") == explicit.model_dump(mode="json")
    assert not set(defaults) & set(plain.model_dump(mode="json")["model"])
    a, b = simulate(model=model, **fields), simulate(model={**model, **defaults}, **fields)
    assert a.keys() == b.keys()
    for wf in a:
        for metric in a[wf]:
            assert np.array_equal(a[wf][metric], b[wf][metric], equal_nan=True), (wf, metric)


def test_set_fields_are_in_the_dump() -> None:
    cat = experiment(source=CATEGORICAL, model={"kind": "categorical", "temperature": 0.5, "top_k": 3})
    assert cat.model_dump(mode="json")["model"] == {
        "kind": "categorical",
        "smoothing": 0.0,
        "estimator": "mle",
        "temperature": 0.5,
        "top_k": 3,
    }
    assert experiment(model={"kind": "gaussian", "shrink": 0.5}).model_dump()["model"]["shrink"] == 0.5


# --- the Gaussian shrink --------------------------------------------------------------------------------------

N, SHRINK, GENS, REPS = 20, 0.9, 6, 2000


def _expected_var(t: int) -> float:
    """E sigma_hat_t^2 / sigma^2 under replace, MLE: ((n-1)/n)^t shrink^(t-1) (generation 1: the real fit)."""
    return ((N - 1) / N) ** t * SHRINK ** (t - 1)


def _expected_mse(t: int) -> float:
    """E (mu_hat_t - mu)^2 / sigma^2: the real fit's 1/n, then shrink sigma_hat_{s-1}^2 / n a generation."""
    return sum((SHRINK * (N - 1) / N) ** (s - 1) for s in range(1, t + 1)) / N


@pytest.mark.parametrize("covariance", ["full", "diagonal"])  # Bartlett and chi-square statistics
def test_shrink_replace_statistics(covariance: str) -> None:
    fields = {
        "source": {"kind": "gaussian", "dim": 1},
        "samples_per_generation": N,
        "generations": GENS,
        "replicates": REPS,
        "seed": 3,
    }
    out = simulate(model={"kind": "gaussian", "covariance": covariance, "shrink": SHRINK}, **fields)["replace"]
    plain = simulate(model={"kind": "gaussian", "covariance": covariance}, **fields)["replace"]
    # Generation 1 is the fit to the real data, which the shrink does not touch.
    assert np.array_equal(out["cov_trace_ratio"][0], plain["cov_trace_ratio"][0])
    for t in range(1, GENS + 1):
        assert abs(z_score(out["cov_trace_ratio"][t - 1], _expected_var(t))) < Z, t
        assert abs(z_score(out["mean_sq_error"][t - 1], _expected_mse(t))) < Z, t


def test_shrink_replace_rows() -> None:
    # The same law through the rows branch of ``sample`` (replace made to hold rows).
    fam = GaussianModelConfig(shrink=SHRINK).build(None)
    world = GaussianSource(np.zeros(1), np.eye(1)).world(REPS, N, Streams.keyed(seed=4, key=KEY, first=0, count=REPS))
    wf = replace(N)._replace(needs_rows=True)
    metrics = {m: fam.metrics[m] for m in ("cov_trace_ratio", "mean_sq_error")}
    out = run_chain(world, fam, wf, GENS, Streams.keyed(seed=5, key=KEY, first=0, count=REPS), metrics)
    for t in range(1, GENS + 1):
        assert abs(z_score(out["cov_trace_ratio"][t - 1], _expected_var(t))) < Z, t
        assert abs(z_score(out["mean_sq_error"][t - 1], _expected_mse(t))) < Z, t


def test_shrink_rows_are_normal_with_shrunk_covariance() -> None:
    cov = np.array([[2.0, 0.6], [0.6, 1.0]])
    world = GaussianSource(np.array([1.0, -1.0]), cov).world(3, 50, Streams.keyed(seed=6, key=KEY, first=0, count=3))
    fam = GaussianModelConfig(shrink=0.3).build(None)
    params = fam.fit([Part(fam.prepare(world.train, world))], world, Streams.keyed(7, KEY, 0, 3))
    m = 5000
    x = fam.sample(params, m, Streams.keyed(seed=8, key=KEY, first=0, count=3), world, rows=True).cols["x"]
    assert x.shape == (3, m, 2)
    # Whitened by the shrunk fitted covariance, the rows are independent standard normals.
    chol = np.linalg.cholesky(0.3 * params.cov)
    white = np.linalg.solve(chol, np.swapaxes(x - params.mean[:, None, :], 1, 2))
    assert stats.kstest(white.ravel(), "norm").pvalue > ALPHA


def test_shrink_accumulate_subsample() -> None:
    fields = {
        "source": {"kind": "gaussian", "dim": 1},
        "samples_per_generation": N,
        "workflow": ["accumulate-subsample"],
        "generations": GENS,
        "replicates": 400,
        "seed": 9,
    }
    shrunk = simulate(model={"kind": "gaussian", "shrink": 0.5}, **fields)["accumulate-subsample"]
    plain = simulate(model={"kind": "gaussian"}, **fields)["accumulate-subsample"]
    assert (shrunk["train_size"] == N).all()
    assert np.array_equal(shrunk["cov_trace_ratio"][0], plain["cov_trace_ratio"][0])  # the same real fit
    # Later generations fit samples drawn at half the variance: the fitted variance falls behind.
    last = shrunk["cov_trace_ratio"][-1] - plain["cov_trace_ratio"][-1]
    assert z_score(last, 0.0) < -Z


# --- the temperature in the population limit -------------------------------------------------------------------


def test_temperature_population_limit() -> None:
    # Replace with temperature 1/2 squares the fitted p each generation: p_t -> p^(2^(t-1)) normalised.
    p0 = np.array([0.4, 0.3, 0.2, 0.1])
    n, reps, gens = 100_000, 20, 3
    exp = experiment(
        source={"kind": "categorical", "probabilities": p0.tolist()},
        model={"kind": "categorical", "temperature": 0.5},
        samples_per_generation=n,
    )
    fam = exp.family()
    world = exp.source.build().world(reps, n, Streams.keyed(seed=10, key=KEY, first=0, count=reps))
    metrics = {f"p{i}": Metric(lambda p, w, i=i: p[:, i], "") for i in range(len(p0))}
    out = run_chain(world, fam, replace(n), gens, Streams.keyed(seed=11, key=KEY, first=0, count=reps), metrics)
    fitted = np.stack([out[f"p{i}"] for i in range(len(p0))], axis=-1)  # (generations, replicates, K)
    # Delta method: the multinomial covariance of each fit, carried through q -> q^2 / sum q^2.
    target, cov = p0, (np.diag(p0) - np.outer(p0, p0)) / n
    for t in range(1, gens + 1):
        if t > 1:
            sq = target**2 / (target**2).sum()
            jac = 2 * (np.diag(sq) - np.outer(sq, sq)) / target
            target = sq
            cov = jac @ cov @ jac.T + (np.diag(target) - np.outer(target, target)) / n
        np.testing.assert_allclose(target, p0 ** (2 ** (t - 1)) / (p0 ** (2 ** (t - 1))).sum(), rtol=1e-12)
        z = (fitted[t - 1].mean(0) - target) / np.sqrt(np.diag(cov) / reps)
        assert (np.abs(z) < Z).all(), (t, z)


# --- validation ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "field"),
    [
        ({"kind": "categorical", "temperature": 0}, "temperature"),
        ({"kind": "categorical", "top_p": 0}, "top_p"),
        ({"kind": "categorical", "top_p": 1.5}, "top_p"),
        ({"kind": "categorical", "top_k": 0}, "top_k"),
        ({"kind": "gaussian", "shrink": 0}, "shrink"),
    ],
)
def test_bad_values_are_refused(model: dict, field: str) -> None:
    source = CATEGORICAL if model["kind"] == "categorical" else {"kind": "gaussian"}
    with pytest.raises(ConfigError, match=f"model.{field}"):
        experiment(source=source, model=model)


# --- the n-gram sampler's truncation and the tale of tails ------------------------------------------------


@pytest.mark.parametrize("bias", [{"top_k": 5}, {"top_p": 0.5}, {"top_k": 8, "temperature": 0.7}])
def test_ngram_truncated_next_word_distribution_is_exact(bias: dict[str, Any]) -> None:
    """Drawn words follow biased(p(. | h)) (temperature, then top-k, then nucleus): chi-square on the kept
    words, and no word outside them is ever drawn."""
    from collections import Counter

    from modelcollapse.models.ngram import NGramModel, count_tables

    rng = np.random.default_rng(3)
    docs = [rng.integers(1, 30, rng.integers(2, 9)) for _ in range(40)]
    tables = count_tables(docs, [1.0] * len(docs), 2, "kneser-ney")
    model = NGramModel(2, 30, "kneser-ney", 0.5, 0.75, tables, **bias)
    ctx, n = (4,), 30_000
    q = biased(model.distribution(ctx)[None] / model.distribution(ctx).sum(), **bias)[0]
    drawn = Counter(model.draw_reweighted(ctx, 4, rng) for _ in range(n))
    observed = np.array([drawn[w] for w in range(30)])
    kept = q > 0
    assert observed[~kept].sum() == 0 and kept.sum() < 30
    assert stats.chisquare(observed[kept], q[kept] * n).pvalue > ALPHA


def test_missing_mass_is_the_truth_of_the_symbols_never_generated() -> None:
    from modelcollapse.models.discrete import CATEGORICAL_METRICS
    from modelcollapse.sources.base import World

    truth = np.array([0.5, 0.3, 0.15, 0.05])
    world = World(None, None, truth, None)  # type: ignore[arg-type]
    fitted = np.array([[0.6, 0.4, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]])
    assert CATEGORICAL_METRICS["missing_mass"].fn(fitted, world).tolist() == [0.2, 0.0]
