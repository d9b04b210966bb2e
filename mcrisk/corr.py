"""Correlation-matrix checks and Higham's nearest correlation matrix (NumPy, host side)."""

from __future__ import annotations

import numpy as np

from mcrisk.errors import ConfigError, show

# Eigenvalues this far below zero are rounding in a user-typed matrix, not a real defect.
PSD_TOL = 1e-10


def check(path: str, corr: np.ndarray, *, allow_non_psd: bool = False) -> np.ndarray:
    """Raise ConfigError unless `corr` is square, symmetric, unit-diagonal, in [-1, 1], PSD."""
    n = corr.shape[0]
    if corr.ndim != 2 or corr.shape != (n, n):
        raise ConfigError(path, corr, "a square matrix")
    if not np.all(np.isfinite(corr)):
        raise ConfigError(path, corr, "finite entries (no NaN or inf)")
    if not np.allclose(corr, corr.T, atol=1e-12, rtol=0):
        i, j = np.argwhere(~np.isclose(corr, corr.T, atol=1e-12, rtol=0))[0]
        raise ConfigError(f"{path}[{i}][{j}]", corr[i, j],
                          f"a symmetric matrix ({path}[{j}][{i}] = {show(corr[j, i])})")
    if not np.allclose(np.diag(corr), 1.0, atol=1e-12, rtol=0):
        i = int(np.argmax(np.abs(np.diag(corr) - 1.0)))
        raise ConfigError(f"{path}[{i}][{i}]", corr[i, i], "1.0 on the diagonal")
    if np.any(np.abs(corr) > 1.0):
        i, j = np.argwhere(np.abs(corr) > 1.0)[0]
        raise ConfigError(f"{path}[{i}][{j}]", corr[i, j], "a correlation in [-1, 1]")
    min_eig = float(np.linalg.eigvalsh(corr).min())
    if min_eig < -PSD_TOL and not allow_non_psd:
        raise ConfigError(
            path, corr,
            f"a positive semi-definite matrix (smallest eigenvalue is {min_eig:.3g}); "
            "set market.corr_repair: nearest to use Higham's nearest correlation matrix")
    return corr


def factor(corr: np.ndarray, path: str = "market.corr") -> np.ndarray:
    """Lower-triangular L with L L^T = corr, for every matrix `check` accepts.

    Eigenvalues in [-PSD_TOL, 0) are rounding and are clipped to 0 (the tolerance `check`
    uses, so validation and factorisation agree); singular matrices such as two perfectly
    correlated assets factor too. F = V sqrt(w+) is made triangular by a QR of F^T, so a
    positive definite matrix gets its Cholesky factor (the same paths as before) and a
    singular one a triangular factor with zero pivots. Plain Cholesky with a fixed jitter
    failed on matrices that passed validation.

    Raises:
        ConfigError: if an eigenvalue is below -PSD_TOL.
    """
    corr = np.asarray(corr, np.float64)
    n = corr.shape[0]
    if n == 1:
        return np.ones((1, 1))
    w, v = np.linalg.eigh((corr + corr.T) / 2)
    if w.min() < -PSD_TOL:
        raise ConfigError(path, corr, f"a positive semi-definite matrix (smallest eigenvalue "
                                      f"is {w.min():.3g}, below -{PSD_TOL:g})")
    f = v * np.sqrt(np.maximum(w, 0.0))
    r = np.linalg.qr(f.T, mode="r")
    sign = np.where(np.diag(r) < 0, -1.0, 1.0)
    return (r * sign[:, None]).T


def nearest(corr: np.ndarray, *, tol: float = 1e-12, max_iter: int = 1000) -> np.ndarray:
    """Higham (2002) alternating projections with Dykstra's correction.

    Returns the nearest (Frobenius norm) correlation matrix to the symmetric input,
    nudged to be strictly positive definite so its Cholesky factor exists.
    """
    y = np.array(corr, dtype=np.float64)
    ds = np.zeros_like(y)
    for _ in range(max_iter):
        r = y - ds
        w, v = np.linalg.eigh((r + r.T) / 2)
        x = (v * np.maximum(w, 0.0)) @ v.T
        ds = x - r
        y_new = x.copy()
        np.fill_diagonal(y_new, 1.0)
        if np.linalg.norm(y_new - y, "fro") <= tol * max(1.0, np.linalg.norm(y, "fro")):
            y = y_new
            break
        y = y_new
    w, v = np.linalg.eigh(y)
    y = (v * np.maximum(w, 1e-10)) @ v.T
    d = np.sqrt(np.diag(y))
    y = y / np.outer(d, d)
    return (y + y.T) / 2
