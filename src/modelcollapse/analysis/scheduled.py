"""What theory predicts when the sample size grows with the generation (``samples_per_generation`` a schedule).

Replace chains only: a Gaussian (``theory.growth``: E tr Sigma_t, E ||mu_t - mu||^2, E log det, exact at every
size) and OLS on a fresh design (THEORY.md s3 with per-generation sizes). Other workflows pool sets of
unequal sizes; no closed form is drawn for them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelcollapse.theory import gaussian, growth, regression

Curves = dict[str, np.ndarray]


def predict_scheduled(exp: Any, wf: Any) -> Curves:
    if wf.kind != "replace":
        return {}
    n = exp.sizes()
    src, mdl = exp.source, exp.model
    if (src.kind, mdl.kind) == ("gaussian", "gaussian"):
        return _gaussian(exp, n)
    if (src.kind, mdl.kind) == ("linear-regression", "ols") and src.design == "fresh" and mdl.noise == "known":
        if n.min() <= src.dim + 1:
            return {}
        sigma2 = src.noise_std**2
        risk = regression.replace_error_sizes(n, src.dim, sigma2)
        return {"excess_risk": risk, "test_mse": risk + sigma2}
    return {}


def _gaussian(exp: Any, n: np.ndarray) -> Curves:
    src, est = exp.source.build(), exp.model.estimator
    d, tr0 = len(src.mean), float(np.trace(src.cov))
    if exp.model.covariance == "known":
        return {"mean_sq_error": tr0 * np.cumsum(1.0 / n)}
    # Means of quantities scaled by the random variance are heavy-tailed once Var log sigma_t^2 ~ sum 2/n_s
    # passes 1/2 (THEORY.md s0); the log determinant is compared at every generation.
    ok = np.cumsum(2.0 / n) <= 0.5
    out = {
        "cov_trace_ratio": np.where(ok, growth.variance_factor(n, est), np.nan),
        "mean_sq_error": np.where(ok, growth.mean_error(n, tr0, est), np.nan),
    }
    if exp.model.covariance == "full":
        steps = np.array([float(gaussian.replace_logdet_change(1, int(m), d, est)) for m in n])
        out["cov_logdet_change"] = np.cumsum(steps)
    return out
