"""Batched linear algebra shared by the analytic families (leading axis = replicates)."""

from __future__ import annotations

import functools

import numpy as np

from modelcollapse._rng import Streams

# Eigenvalues of a Gram matrix below this fraction of its largest are treated
# as zero by the pseudo-inverse (the matrix is singular in exact arithmetic).
PINV_RTOL = 1e-10


def psd_factor(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A factor ``f`` with ``f @ f.T == a`` for each PSD matrix, and whether it is triangular.

    Cholesky where it succeeds. Singular matrices get a pivoted Cholesky
    (LAPACK ``pstrf``) truncated at their numerical rank ``r``; the batch's factor
    then has ``max r`` columns (zero-padded), so it stays cheap to sample from.
    """
    try:
        return np.linalg.cholesky(a), np.ones(a.shape[0], bool)
    except np.linalg.LinAlgError:
        pass
    factors, tri = [], np.zeros(a.shape[0], bool)
    for b in range(a.shape[0]):
        try:
            factors.append(np.linalg.cholesky(a[b]))
            tri[b] = True
        except np.linalg.LinAlgError:
            factors.append(low_rank_factor(a[b]))
    k = max(f.shape[1] for f in factors)
    out = np.zeros((a.shape[0], a.shape[1], k))
    for b, f in enumerate(factors):
        out[b, :, : f.shape[1]] = f
    return out, tri & (k == a.shape[1])


def low_rank_factor(a: np.ndarray) -> np.ndarray:
    """``f`` of shape (d, r) with ``f f^T = a`` for PSD ``a`` of numerical rank ``r`` (pivoted Cholesky)."""
    from scipy.linalg import lapack  # lazy: only singular fits need it, and SciPy's linalg takes 0.2 s to load

    c, piv, rank, _ = lapack.dpstrf(a, lower=1, tol=-1.0)
    f = np.zeros((a.shape[0], max(rank, 1)))
    f[piv - 1, :rank] = np.tril(c)[:, :rank]  # rank 0 (every row equal): a zero factor
    return f


def logdet_from_factor(f: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """log det of ``f f^T``; -inf where it is singular."""
    out = np.full(f.shape[0], -np.inf)  # a factor with fewer columns than rows: singular
    if f.shape[-1] != f.shape[-2]:
        return out
    diag = np.abs(np.diagonal(f, axis1=-2, axis2=-1))
    with np.errstate(divide="ignore"):
        if tri.all():  # the usual case, without indexing
            return 2.0 * np.log(diag).sum(-1)
        out[tri] = 2.0 * np.log(diag[tri]).sum(-1)
    for b in np.flatnonzero(~tri):
        sign, logdet = np.linalg.slogdet(f[b])
        out[b] = 2.0 * logdet if sign != 0 else -np.inf
    return out


def pinv_solve(g: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """``pinv(g) @ rhs`` for symmetric PSD ``g`` (minimum-norm least squares).

    Cholesky solves the nonsingular matrices; the singular ones go through an
    eigendecomposition with eigenvalues below ``PINV_RTOL * max`` dropped.
    """
    try:
        np.linalg.cholesky(g)  # succeeds only where every matrix is numerically positive definite
    except np.linalg.LinAlgError:
        pass
    else:
        return np.linalg.solve(g, rhs[..., None])[..., 0]  # one LU solve: fewer flops than two on the factor
    out = np.empty_like(rhs)
    for b in range(g.shape[0]):
        try:
            out[b] = _chol_solve(np.linalg.cholesky(g[b])[None], rhs[b][None])[0]
        except np.linalg.LinAlgError:
            out[b] = eig_pinv_solve(*np.linalg.eigh(g[b]), rhs[b])
    return out


def eig_pinv_solve(lam: np.ndarray, v: np.ndarray, rhs: np.ndarray, ridge: float = 0.0) -> np.ndarray:
    """``pinv(v diag(lam) v^T + ridge I) @ rhs`` from a precomputed eigendecomposition."""
    keep = lam > PINV_RTOL * lam.max(axis=-1, keepdims=True) if ridge == 0 else lam > -1
    coef = np.where(keep, 1.0 / np.where(keep, lam + ridge, 1.0), 0.0)
    proj = np.einsum("...ij,...i->...j", v, rhs)
    return np.einsum("...ij,...j->...i", v, coef * proj)


def _chol_solve(chol: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    y = np.linalg.solve(chol, rhs[..., None])
    return np.linalg.solve(np.swapaxes(chol, -1, -2), y)[..., 0]


def bartlett(rng: Streams, batch: int, k: int, dof: int) -> np.ndarray:
    """Lower-triangular ``A`` with ``A A^T ~ Wishart_k(dof, I)`` (Bartlett decomposition); dof >= k.

    Only the ``k(k-1)/2`` entries below the diagonal are drawn.
    """
    a = np.zeros((batch, k, k))
    rows, cols = _below_diagonal(k)
    a[:, rows, cols] = rng.standard_normal((batch, len(rows)))
    idx = np.arange(k)
    a[:, idx, idx] = np.sqrt(rng.chisquare(dof - idx, size=(batch, k)))
    return a


@functools.cache
def _below_diagonal(k: int) -> tuple[np.ndarray, np.ndarray]:
    return np.tril_indices(k, -1)
