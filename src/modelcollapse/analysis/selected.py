"""What theory predicts when synthetic data is biased or selected (``theory.selection``).

The closed forms of the unbiased loop (:mod:`~modelcollapse.analysis.predictions`) no longer hold once
a sampler is tempered or shrunk or a stage screens the synthetic batch, so :func:`biased` experiments
get these rules instead, and none where no closed form is known:

* Gaussian, variance shrink factor: the mean's error under every workflow that weights whole data sets
  (known covariance), the fitted covariance's trace and the mean's error under replace; exact.
* Gaussian mean of known variance (1-D), one verifier, replace, oversampled: the linearised error
  recursion (relative error O(1/n)).
* Categorical, one curation stage of a table (or index) reward, replace or mix: the expected reward of
  the curated batch from the exact population update (the limit n -> infinity; predicted from n >= 1000).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelcollapse.selection.verifier import real_quantile
from modelcollapse.sources.gaussian import GaussianTruth
from modelcollapse.theory import dey_donoho as dd
from modelcollapse.theory import selection as th
from modelcollapse.theory import tails

Curves = dict[str, np.ndarray]
POPULATION_ROWS = 1000  # fewest rows per generation for which the population-limit curves are drawn
TOPK_GAP = 3.0  # fewest z_k for a top-k replace curve (the failing regime of tails-theory.md has z_k ~ 0)


def biased(exp: Any) -> bool:
    """True when the experiment's synthetic data is selected, or sampled other than from the fit."""
    fields = type(exp.model).model_fields
    changed = any(getattr(exp.model, f) != fields[f].default for f in getattr(exp.model, "quiet_defaults", ()))
    return bool(exp.selection) or changed


def predict_biased(exp: Any, wf: Any) -> Curves:
    src, mdl = exp.source.kind, exp.model.kind
    if (src, mdl) == ("gaussian", "gaussian"):
        return _verified(exp, wf) if exp.selection else _shrunk(exp, wf)
    if (src, mdl) == ("categorical", "categorical"):
        return _curated(exp, wf) if exp.selection else _truncated(exp, wf)
    return {}


def _truncated(exp: Any, wf: Any) -> Curves:
    """Top-k / top-p sampling, the tale of tails (``theory.tails``): the missing mass under replace with top-k
    (approx.: drawn only where T samples rank the true top k first, ``topk_gap >= TOPK_GAP``; top-p's nucleus
    ratchets, so none) and under accumulate (exact: a pooled count is 0 iff the real one is)."""
    mdl, n, g = exp.model, exp.samples_per_generation, exp.generations
    if mdl.temperature != 1.0 or mdl.smoothing or n > tails.MAX_EXACT_ROWS:
        return {}
    p0 = exp.source.build().p
    if wf.kind == "replace":
        if mdl.top_p is not None or mdl.top_k is None or tails.topk_gap(p0, mdl.top_k, n) < TOPK_GAP:
            return {}
        return {"missing_mass": tails.replace_missing_mass(p0, n, g, mdl.top_k)}
    if wf.kind == "accumulate":
        return {"missing_mass": tails.accumulate_missing_mass(p0, n, g)}
    return {}


def _shrunk(exp: Any, wf: Any) -> Curves:
    """Each generation samples N(mu_hat, s Sigma_hat).

    Known covariance, any workflow that weights whole data sets: a synthetic set drawn with covariance
    s Sigma is, to the mean, a set of c_j / s rows, so Dey & Donoho's recursion is exact with those sizes.
    Fitted covariance, replace: r_t = E tr Sigma_t / tr Sigma = c^t s^(t-1) (c = (n-1)/n for the MLE, 1
    unbiased) and the mean's squared error grows by s tr Sigma_{t-1} / n a generation.
    """
    g, n, s, est = exp.generations, exp.samples_per_generation, exp.model.shrink, exp.model.estimator
    tr0 = float(np.trace(exp.source.build().cov))
    if exp.model.covariance == "known":
        shares = wf.shares(n, g) if hasattr(wf, "shares") else None
        if shares is None:
            return {}
        weights, sizes = shares
        c = np.ones(g) if sizes is None else np.asarray(sizes, float)
        return {"mean_sq_error": dd.rho(weights, np.concatenate([c[:1], c[1:] / s])) * tr0 / n}
    if wf.kind != "replace":
        return {}
    t = np.arange(1, g + 1)
    ratio = th.shrunk_variance(t, n, s, 1.0, est)
    error = tr0 / n * (1 + s * np.concatenate([[0.0], np.cumsum(ratio)[:-1]]))
    ok = t <= max(1, n // 4)  # products of random variances are heavy-tailed at large t (THEORY.md s0)
    return {"mean_sq_error": np.where(ok, error, np.nan), "cov_trace_ratio": np.where(ok, ratio, np.nan)}


def _verified(exp: Any, wf: Any) -> Curves:
    """One verifier on the mean of a 1-D Gaussian of known variance, replace, sizes kept (oversample)."""
    stages = exp.selection
    if (
        wf.kind != "replace"
        or exp.model.covariance != "known"
        or exp.source.dim != 1
        or len(stages) != 1
        or stages[0].kind != "verifier"
        or exp.selection_mode != "oversample"
        or exp.model.shrink != 1.0
    ):
        return {}
    v, src = stages[0], exp.source.build()
    var = float(src.cov[0, 0])
    c = band(v.threshold, v.quantile, var)
    n, t = exp.samples_per_generation, np.arange(1, exp.generations + 1)
    return {"mean_sq_error": var * th.verified_mean_error(t, n, n, c, v.false_accept, v.false_reject)}


def band(threshold: float | None, quantile: float | None, variance: float) -> float:
    """The verifier's band |x - mu| <= c sd of a 1-D Gaussian, from its log-density threshold or quantile
    (the verifier's own threshold for that quantile)."""
    if quantile is not None:
        threshold = real_quantile(GaussianTruth(np.zeros(1), np.full((1, 1), variance)), quantile)
    assert threshold is not None
    width = -2 * threshold - np.log(2 * np.pi * variance)  # log p >= thr  <=>  z^2 <= width
    return float(np.sqrt(width)) if width > 0 else 0.0


def _curated(exp: Any, wf: Any) -> Curves:
    """The curated batch's mean reward: E_{F(p_{t-1})} r with p_1 = p0, p_t = lam p0 + (1 - lam) F(p_{t-1})."""
    stages, n = exp.selection, exp.samples_per_generation
    if len(stages) != 1 or stages[0].kind != "curate" or n < POPULATION_ROWS or exp.model.smoothing:
        return {}
    if exp.selection_mode != "oversample" or biased(exp.model_copy(update={"selection": []})):
        return {}  # a tempered or truncated sampler: no closed form here
    cur = stages[0]
    p0 = exp.source.build().p
    if cur.reward == "table":
        reward = np.asarray(cur.values, float)
    elif cur.reward == "first-coordinate":
        reward = np.arange(len(p0), dtype=float)  # a symbol's index
    else:
        return {}
    if wf.kind == "replace":
        lam = 0.0
    elif wf.kind == "mix" and (m := round(wf.fraction * n)):
        lam = n / (n + m)
    else:
        return {}
    g = exp.generations
    chain = th.curation_chain(p0, cur.scale * reward, cur.candidates, g - 1, real_share=lam)
    after = [float(th.curated(p, cur.scale * reward, cur.candidates) @ reward) for p in chain]
    return {f"{cur.label}_score_after": np.array([np.nan, *after])}
