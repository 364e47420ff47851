"""What theory predicts for a simulated experiment: the bridge from configs to ``modelcollapse.theory``.

``predict(exp)`` returns ``{(workflow label, metric): expected mean at generations 1..G}`` for every
pair where THEORY.md has an exact closed form under the experiment's source, model and workflow.
Theory stays free of simulation code; this module reads configs and calls it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from modelcollapse.analysis.scheduled import predict_scheduled
from modelcollapse.analysis.selected import biased, predict_biased
from modelcollapse.run.config import Experiment
from modelcollapse.selection.pipeline import series
from modelcollapse.theory import cardinality, discrete, gaussian, gaussian1d, kde, mixing, regression, strong, tails
from modelcollapse.theory import dey_donoho as dd
from modelcollapse.workflows.base import WorkflowConfig

Curves = dict[str, np.ndarray]


def predict(exp: Experiment) -> dict[tuple[str, str], np.ndarray]:
    """Closed-form predictions of metric means per generation, for every workflow where one applies (exact,
    except the selection rules of :mod:`~modelcollapse.analysis.selected` that say otherwise)."""
    src, mdl = exp.source.kind, exp.model.kind
    rule = predict_biased if biased(exp) else _RULES.get((src, mdl))
    if getattr(exp, "schedule", None) is not None:
        rule = None if biased(exp) else predict_scheduled
    out: dict[tuple[str, str], np.ndarray] = {}
    if rule is None:
        return out
    # None: whatever the store holds; a selection's values are recorded whatever the metrics
    metrics = set(exp.metrics) | set(series(exp.selection)) if exp.metrics is not None else None
    for wf in exp.workflow:
        for metric, curve in rule(exp, wf).items():
            if metrics is None or metric in metrics:
                out[(wf.label, metric)] = curve
    return out


def _gaussian(exp: Any, wf: Any) -> Curves:
    g, n = exp.generations, exp.samples_per_generation
    src = exp.source.build()
    d, tr0 = len(src.mean), float(np.trace(src.cov))
    est, cov = exp.model.estimator, exp.model.covariance
    t = np.arange(1, g + 1)
    if wf.kind == "real-synthetic":
        return _gaussian_grid(exp, wf, src)
    if cov == "known":
        return _gaussian_known(exp, wf, tr0)
    out: Curves = {}
    if est == "mle" and wf.kind in ("accumulate", "accumulate-subsample"):
        out["second_moment"] = np.full(g, tr0)  # s2.3 (replace: below, with the heavy-tail guard)
    if wf.kind == "replace":
        # Raw means of quantities scaled by the random variance (a product of independent factors) are
        # heavy-tailed at large t (THEORY.md s0): compare them only while Var log sigma_t^2 ~ 2t/n <= 1/2.
        # The log determinant is well behaved and compared at every generation.
        ok = t <= max(1, n // 4)
        out["mean_sq_error"] = np.where(ok, gaussian.replace_mean_sq_error(t, n, tr0, est), np.nan)
        out["cov_trace_ratio"] = np.where(ok, gaussian.replace_trace(t, n, tr0, est) / tr0, np.nan)
        if est == "mle":
            out["second_moment"] = np.where(ok, tr0, np.nan)
        if cov == "full":
            out["cov_logdet_change"] = gaussian.replace_logdet_change(t, n, d, est)
        if d == 1:
            out["w2_sq"] = np.where(ok, gaussian1d.curve(gaussian1d.expected_w2_sq, g, n, tr0, est), np.nan)
            if est == "unbiased":
                out["second_moment"] = np.where(ok, gaussian1d.curve(gaussian1d.var_sample, g, n, tr0, est), np.nan)
    elif wf.kind == "accumulate":
        out["cov_trace_ratio"] = gaussian.accumulate_cov_factor(g, n, est)
        out["mean_sq_error"] = gaussian.accumulate_mean_sq_error(g, n, tr0, est)
    elif wf.kind == "accumulate-subsample" and est == "mle" and (wf.budget or n) == n:
        traces, errors = gaussian.subsample_recursion(g, n, tr0)
        out["cov_trace_ratio"], out["mean_sq_error"] = traces / tr0, errors
    elif wf.kind == "fresh" and est == "unbiased" and wf.real_weight is None:
        n_r, n_s = wf.sizes(n)
        if n_r + n_s == n:
            e, v = mixing.fresh_pooled(g, n_r, n_s, tr0)  # s6a, per coordinate and summed
            out["mean_sq_error"], out["cov_trace_ratio"] = e, v / tr0
    return out


def _at_last(exp: Any, values: dict[str, float]) -> Curves:
    """Curves that are NaN (no prediction) before the last generation: a real-synthetic cell's measurement."""
    out = {}
    for metric, value in values.items():
        curve = np.full(exp.generations, np.nan)
        curve[-1] = value
        out[metric] = curve
    return out


def _gaussian_grid(exp: Any, wf: Any, src: Any) -> Curves:
    """A real-synthetic cell: the pooled mean of fresh real points and generator draws (theory.cardinality)."""
    m, k, est = exp.samples_per_generation, wf.generator, exp.model.estimator
    d, tr0 = len(src.mean), float(np.trace(src.cov))
    if exp.model.covariance == "known":  # the generator's draws have the true covariance
        mahal = cardinality.pooled_error(wf.real, wf.synthetic, d, d, k * d / m)
        nll = 0.5 * (d * np.log(2 * np.pi) + np.linalg.slogdet(src.cov)[1] + d + mahal)
        error = cardinality.pooled_error(wf.real, wf.synthetic, tr0, tr0, k * tr0 / m)
        return _at_last(exp, {"mean_sq_error": error, "test_nll": nll})
    v_gen = float(gaussian.replace_trace(k, m, tr0, est))
    e_gen = float(gaussian.replace_mean_sq_error(k, m, tr0, est))
    return _at_last(exp, {"mean_sq_error": cardinality.pooled_error(wf.real, wf.synthetic, tr0, v_gen, e_gen)})


def _gaussian_known(exp: Any, wf: Any, tr0: float) -> Curves:
    """Known covariance: the mean is a linear estimator, so the s4 recursion is exact at every n."""
    g, n = exp.generations, exp.samples_per_generation
    if wf.kind == "fresh":
        n_r, n_s = wf.sizes(n)
        return {"mean_sq_error": mixing.fresh_known_variance(g, n_r, n_s, wf.real_weight, tr0, n0=n)}
    rho = _rho(exp, wf)
    return {} if rho is None else {"mean_sq_error": rho * tr0 / n}


def _rho(exp: Any, wf: Any) -> np.ndarray | None:
    """rho_k of a workflow that weights whole data sets (s4; the workflow states its shares), or None."""
    shares = wf.shares(exp.samples_per_generation, exp.generations) if isinstance(wf, WorkflowConfig) else None
    return None if shares is None else dd.rho(*shares)


def _regression(exp: Any, wf: Any) -> Curves:
    src, mdl = exp.source, exp.model
    d, n, g = src.dim, exp.samples_per_generation, exp.generations
    if mdl.kind == "ridge":
        return _ridge(exp, wf)
    if mdl.kind != "ols" or n <= d + 1:
        return {}
    sigma2 = src.noise_std**2
    if wf.kind == "fresh" and src.design == "fresh" and wf.real_weight is None and sum(wf.sizes(n)) == n:
        chain = strong.fresh_chain(n, wf.sizes(n)[1] / n, d, sigma2, g, mdl.noise, mdl.estimator)  # exact
        return {"excess_risk": chain, "test_mse": chain + sigma2}
    if mdl.noise != "known":
        return {}
    if wf.kind == "real-synthetic":
        if src.design != "fresh":  # the synthetic rows would reuse the generator's own inputs
            return {}
        if wf.real + wf.synthetic <= d + 3:  # the risk's variance is infinite: no standard error to compare with
            return {}
        gen_risk = wf.generator * regression.base_error(d, n, sigma2)  # s3: replace, any design
        risk = cardinality.regression_excess_risk(wf.real, wf.synthetic, d, sigma2, gen_risk)
        return _at_last(exp, {"excess_risk": risk, "test_mse": risk + sigma2})
    base = regression.base_error(d, n, sigma2)
    rho = None
    if wf.kind == "replace":
        rho = _rho(exp, wf)  # any design (s3)
    elif src.design == "fixed" and (wf.kind != "mix" or wf.build(n, g).synthetic_size(2) == n):
        rho = _rho(exp, wf)  # same X in every data set: OLS of the union = weighted mean of the fits
    if rho is None:
        return {}
    return {"excess_risk": rho * base, "test_mse": rho * base + sigma2}


def _ridge(exp: Any, wf: Any) -> Curves:
    """A real-synthetic cell of ridge (theory.strong: exact in three Wishart traces, their deterministic
    equivalents within about 0.1 / d of the risk): isotropic features, known noise, a ridge generator."""
    src, mdl, n = exp.source, exp.model, exp.samples_per_generation
    if wf.kind != "real-synthetic" or wf.generator != 1 or src.design != "fresh" or mdl.noise != "known":
        return {}
    if not np.allclose(src.feature_variance, 1.0):  # the deterministic equivalents are for Sigma = I
        return {}
    d, alpha, sigma2, total = src.dim, mdl.alpha, src.noise_std**2, wf.real + wf.synthetic
    signal = 1.0  # w* ~ N(0, I / d)
    gap = strong.ridge_risk(n, 0.0, d, alpha, sigma2, signal, 0.0)  # the generator's own risk
    cross = -alpha * strong.ridge_moments(n, d, alpha).tr1 / d * signal  # E w*.(w_g - w*): its shrinkage
    risk = strong.ridge_risk(total, wf.synthetic / total, d, alpha, sigma2, signal, gap, cross)
    return _at_last(exp, {"excess_risk": risk, "test_mse": risk + sigma2})


def _categorical(exp: Any, wf: Any) -> Curves:
    p0 = exp.source.build().p
    n, g = exp.samples_per_generation, exp.generations
    if exp.model.smoothing:
        return {}
    if wf.kind == "real-synthetic":
        c = 1.0 - float(p0 @ p0)
        kept = (1 - 1 / n) ** wf.generator  # s8: E Gini-Simpson of the generator, relative to the truth's
        error = cardinality.pooled_error(wf.real, wf.synthetic, c, c * kept, c * (1 - kept))
        return _at_last(exp, {"l2_sq_to_truth": error})
    if wf.kind == "replace":
        t = np.arange(1, g + 1)
        out = {
            "gini_simpson": discrete.expected_gini_simpson(t, n, p0),
        }
        if n <= tails.MAX_EXACT_ROWS:
            out["missing_mass"] = tails.replace_missing_mass(p0, n, g)
            out["support_size"] = tails.expected_support(p0, n, g)
        return out
    if wf.kind == "accumulate":
        return {"missing_mass": tails.accumulate_missing_mass(p0, n, g)}
    if wf.kind == "fresh" and wf.real_weight is None:
        n_r, n_s = wf.sizes(n)
        return {"l2_sq_to_truth": discrete.fresh_real_deviation(g, n_r, n_s, p0, n0=n)}
    return {}


def _bernoulli(exp: Any, wf: Any) -> Curves:
    if wf.kind != "replace":
        return {}
    p0, n, g = exp.source.p, exp.samples_per_generation, exp.generations
    return {
        "param": np.full(g, p0),  # a martingale
        "heterozygosity": discrete.heterozygosity(np.arange(1, g + 1), n, p0),
        "absorbed": 1 - discrete.bernoulli_not_absorbed(g, n, p0),
    }


def _poisson(exp: Any, wf: Any) -> Curves:
    if wf.kind != "replace":
        return {}
    rate, n, g = exp.source.rate, exp.samples_per_generation, exp.generations
    return {"param": np.full(g, rate), "absorbed": 1 - discrete.poisson_survival(g, n, rate)}


def _kde(exp: Any, wf: Any) -> Curves:
    """Gaussian kernel on Gaussian data: the exact variance and mean recursions (theory.kde)."""
    mdl, n, g = exp.model, exp.samples_per_generation, exp.generations
    if mdl.kernel != "gaussian" or mdl.bandwidth == "silverman" or wf.kind not in ("replace", "accumulate"):
        return {}
    src = exp.source.build()
    d, var0 = len(src.mean), float(np.trace(src.cov))
    rows = n if wf.kind == "replace" else n * np.arange(1, g + 1)
    k = kde.scott_kernel_var(g, rows, d) if mdl.bandwidth == "scott" else mdl.bandwidth**2 * d
    v, e = getattr(kde, wf.kind.replace("-", "_"))(g, n, k, var0)
    return {"model_variance": v, "variance_ratio": v / var0, "mean_sq_error": e}


_RULES: dict[tuple[str, str], Callable[[Any, Any], Curves]] = {
    ("gaussian", "gaussian"): _gaussian,
    ("linear-regression", "ols"): _regression,
    ("linear-regression", "ridge"): _regression,
    ("categorical", "categorical"): _categorical,
    ("bernoulli", "bernoulli"): _bernoulli,
    ("poisson", "poisson"): _poisson,
    ("gaussian", "kde"): _kde,
}
