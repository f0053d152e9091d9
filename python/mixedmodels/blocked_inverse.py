"""The inverse S = M^-1 of a symmetric positive definite M whose leading block is block-diagonal,
by block elimination: M = [[D, B], [B', E]] with D = diag(D_1, ..., D_m) (k x k blocks), as
I + Lambda'Z'WZ Lambda is for the first grouping factor (each row touches one of its levels).

With the Schur complement C = E - B'D^-1 B (only q2 x q2, q2 the columns after the first factor's),

    S22 = C^-1,   S12 = -D^-1 B S22,   S11 = D^-1 - S12 (D^-1 B)',

so a Laplace gradient needs one factorisation of order q2 instead of one of order q, and the
diagonal blocks of S11 (all that rows of a crossed design read of it) cost m k^2 q2. B is held
sparse (a row adds one entry per pair of its columns): S12 costs nnz(B) q2, the Schur complement
about the products of B's rows.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.linalg import lapack

FloatArray = NDArray[np.float64]


class BlockedInverse:
    """S = M^-1 for M = [[D, B], [B', E]] (symmetric positive definite) whose leading block D is
    block-diagonal with nlev blocks of order k; S's other blocks are held dense.

    Parameters
    ----------
    d : ndarray (nlev, k, k)
        The leading block's diagonal blocks.
    b : ndarray or scipy.sparse.csr_array (nlev * k, q2)
        The block beside them (sparse: the products with it cost its stored entries).
    e : ndarray (q2, q2)
        The trailing block (both triangles).

    Examples
    --------
    >>> m = np.array([[2.0, 0.0, 1.0], [0.0, 3.0, 1.0], [1.0, 1.0, 4.0]])
    >>> inv = BlockedInverse(np.array([[[2.0]], [[3.0]]]), m[:2, 2:], m[2:, 2:])
    >>> bool(np.allclose(inv.solve(np.eye(3)), np.linalg.inv(m)))
    True
    """

    def __init__(self, d: FloatArray, b: FloatArray | sparse.csr_array, e: FloatArray) -> None:
        nlev, k, _ = d.shape
        q1, q2 = nlev * k, e.shape[0]
        self.nlev, self.k, self.q1, self.q2 = nlev, k, q1, q2
        self.d_inv: FloatArray = np.asarray(np.linalg.inv(d) if k > 1 else 1.0 / d, dtype=np.float64)
        if not isinstance(b, np.ndarray):
            ident = np.arange(nlev + 1)
            block_diag = sparse.bsr_array((self.d_inv, ident[:-1], ident), shape=(q1, q1))  # D^-1
            b_csr = b
            d_inv_b = sparse.csr_array(block_diag @ b_csr)  # D^-1 B, as sparse as B
            schur = e - (b_csr.T @ d_inv_b).toarray()
        else:
            d_inv_b = np.einsum("jab,jbm->jam", self.d_inv, b.reshape(nlev, k, q2)).reshape(q1, q2)
            schur = e - b.T @ d_inv_b
        self.d_inv_b: FloatArray | sparse.csr_array = d_inv_b
        factor, info = lapack.dpotrf(schur, lower=1)
        if info != 0:
            raise np.linalg.LinAlgError("the Schur complement is not positive definite")
        inv, info = lapack.dpotri(factor, lower=1)
        if info != 0:
            raise np.linalg.LinAlgError("the Schur complement is singular")
        self.s22: FloatArray = np.tril(inv) + np.tril(inv, -1).T
        self.s12: FloatArray = -np.asarray(d_inv_b @ self.s22)  # sparse B: nnz(B) q2
        # S11's diagonal blocks D_j^-1 - S12_j (D^-1 B)_j'
        if isinstance(d_inv_b, np.ndarray):
            s12 = self.s12.reshape(nlev, k, q2)
            self.s11_diag: FloatArray = self.d_inv - np.einsum("jam,jbm->jab", s12, d_inv_b.reshape(nlev, k, q2))
            return
        coo = d_inv_b.tocoo()  # over its stored entries
        level, col = coo.row // k, coo.row % k
        rows_of_level = level[:, None] * k + np.arange(k)[None, :]  # (nnz, k)
        prod = -self.s12[rows_of_level, coo.col[:, None]] * coo.data[:, None]  # (nnz, k): row a, column col
        pos = (level[:, None] * k * k + np.arange(k)[None, :] * k + col[:, None]).ravel()
        sums = np.bincount(pos, weights=prod.ravel(), minlength=nlev * k * k)
        self.s11_diag = self.d_inv + sums.reshape(nlev, k, k)

    @classmethod
    def from_dense(cls, m: FloatArray, nlev: int, k: int) -> BlockedInverse:
        """The inverse of a dense M (q x q, both triangles) whose leading ``nlev * k`` rows and
        columns are block-diagonal with k x k blocks.

        Examples
        --------
        >>> m = np.array([[2.0, 0.0, 1.0], [0.0, 3.0, 1.0], [1.0, 1.0, 4.0]])
        >>> bool(np.allclose(BlockedInverse.from_dense(m, 2, 1).s22, np.linalg.inv(m)[2:, 2:]))
        True
        """
        q1 = nlev * k
        lead = np.arange(nlev)[:, None] * k + np.arange(k)[None, :]
        return cls(m[lead[:, :, None], lead[:, None, :]], m[:q1, q1:], m[q1:, q1:])

    def solve(self, v: FloatArray) -> FloatArray:
        """S v for v of shape (q,) or (q, c).

        Examples
        --------
        >>> m = np.array([[2.0, 0.0, 1.0], [0.0, 3.0, 1.0], [1.0, 1.0, 4.0]])
        >>> v = np.array([1.0, 2.0, 3.0])
        >>> bool(np.allclose(BlockedInverse.from_dense(m, 2, 1).solve(v), np.linalg.solve(m, v)))
        True
        """
        v1, v2 = v[: self.q1], v[self.q1 :]
        t = self.s22 @ (v2 - self.d_inv_b.T @ v1)
        lead = v1.reshape(self.nlev, self.k, *v.shape[1:])
        x1 = np.einsum("jab,jb...->ja...", self.d_inv, lead).reshape(v1.shape) - self.d_inv_b @ t
        out: FloatArray = np.concatenate([x1, t], axis=0)
        return out

    def at_rows(self, idx: NDArray[np.int64]) -> FloatArray:
        """S at each row's columns: (n, r, r) from idx (n, r), each row's r columns, the first k of
        them in the leading block (one level's) and the others after it.

        Examples
        --------
        >>> m = np.array([[2.0, 0.0, 1.0], [0.0, 3.0, 1.0], [1.0, 1.0, 4.0]])
        >>> s = BlockedInverse.from_dense(m, 2, 1).at_rows(np.array([[1, 2]]))
        >>> bool(np.allclose(s[0], np.linalg.inv(m)[np.ix_([1, 2], [1, 2])]))
        True
        """
        k = self.k
        n, r = idx.shape
        out = np.empty((n, r, r))
        lead, rest = idx[:, :k], idx[:, k:] - self.q1
        out[:, :k, :k] = self.s11_diag[lead[:, 0] // k]
        cross = self.s12[lead[:, :, None], rest[:, None, :]]
        out[:, :k, k:] = cross
        out[:, k:, :k] = cross.transpose(0, 2, 1)
        out[:, k:, k:] = self.s22[rest[:, :, None], rest[:, None, :]]
        return out
