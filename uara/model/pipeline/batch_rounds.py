"""How many verification rounds a batch needs: the expected maximum over its users (docs/pipeline.md).

User k needs O_k output tokens; each round with speculation length gamma commits X tokens, i.i.d. over
rounds, with per-token acceptance alpha_k (accept j - 1 drafts, then a correction; or all gamma and the
bonus token):

    P(X = j) = alpha^(j-1) (1 - alpha)   for j = 1 .. gamma,      P(X = gamma + 1) = alpha^gamma

so E[X] = (1 - alpha^(gamma+1)) / (1 - alpha) (Leviathan et al. 2023). User k is done after
R_k = min{r : S_r >= O_k} rounds, S_r = X_1 + ... + X_r, and a batch B runs until its slowest user is
done, N_B = max_{k in B} R_k. With the users independent,

    P(R_k <= r) = P(S_r >= O_k),        E[N_B] = sum_{r >= 0} (1 - prod_{k in B} P(R_k <= r)).

E[N_B] >= max_k E[R_k] (Jensen): charging a batch the largest of its users' expected rounds, as the
model did before, under-charges large batches. The distribution of S_r is computed exactly by repeated
convolution of the law of X, once per distinct alpha (it does not depend on O); with more distinct
acceptance rates than :data:`EXACT_MAX_CELLS` allows, a normal approximation of S_r with continuity
correction replaces it (its error is measured in tests/test_pipeline_rounds.py). gamma = 0 is
autoregressive: R_k = O_k exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

#: A user's CDF within this of 1 is taken as 1 (done), within this of 0 as 0 (surely not done): the sums
#: run over the rounds in between only (each cut changes an expectation by under 1e-9 rounds).
CDF_TOLERANCE = 1e-12
#: The exact law is used while (distinct alphas) x (largest O + 1) x (rounds) stays within this many cells.
EXACT_MAX_CELLS = 40_000_000


def round_tokens_pmf(alpha: float, gamma: int) -> np.ndarray:
    """P(X = j) for j = 0 .. gamma + 1 (entry 0 is 0): tokens one round commits (module docstring)."""
    p = np.zeros(gamma + 2)
    j = np.arange(1, gamma + 1)
    p[1:gamma + 1] = alpha ** (j - 1) * (1.0 - alpha)
    p[gamma + 1] = alpha ** gamma
    return p


def _exact_cdf(alpha: float, gamma: int, targets: np.ndarray, r_max: int) -> np.ndarray:
    """P(S_r >= O) for r = 0 .. r_max (columns) and each O in ``targets`` (rows), by convolution with
    S capped at max(targets) (the cap absorbs: a user past its target stays past it)."""
    cap = int(targets.max())
    step = round_tokens_pmf(alpha, gamma)
    pmf = np.zeros(cap + 1)
    pmf[0] = 1.0
    out = np.zeros((targets.size, r_max + 1))
    idx = targets.astype(np.int64)
    for r in range(1, r_max + 1):
        nxt = np.convolve(pmf, step)
        nxt[cap] += nxt[cap + 1:].sum()
        pmf = nxt[:cap + 1]
        tail = np.cumsum(pmf[::-1])[::-1]           # tail[o] = P(S_r >= o)
        out[:, r] = tail[idx]
        if out[:, r].min() >= 1.0 - CDF_TOLERANCE:
            out[:, r + 1:] = 1.0
            break
    return np.minimum(out, 1.0)


def _normal_cdf(alpha: np.ndarray, gamma: int, targets: np.ndarray, r_max: int) -> np.ndarray:
    """P(S_r >= O) ~ 1 - Phi((O - 1/2 - r mu) / (sigma sqrt r)), clipped to 0 below O / (gamma + 1) rounds
    and to 1 from O rounds on (a round commits 1 .. gamma + 1 tokens)."""
    j = np.arange(gamma + 2)
    pmf = np.stack([round_tokens_pmf(float(a), gamma) for a in alpha])
    mu = pmf @ j
    sd = np.sqrt(np.maximum(pmf @ j ** 2 - mu ** 2, 1e-30))
    r = np.arange(r_max + 1)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (r * mu[:, None] - (targets[:, None] - 0.5)) / (sd[:, None] * np.sqrt(r))
    out = np.where(r > 0, ndtr(z), 0.0)
    out = np.where(r * (gamma + 1) < targets[:, None], 0.0, out)
    return np.where(r >= targets[:, None], 1.0, out)


@dataclass(frozen=True)
class RoundsLaw:
    """P(R_k <= r) of every user at one speculation length: ``cdf[k, r]`` for r = 0 .. R, with ``first[k]``
    the first r where it is positive and ``done[k]`` the first r where it is within
    :data:`CDF_TOLERANCE` of 1 (1 from there on); ``method`` is "exact" or "normal"."""

    gamma: int
    cdf: np.ndarray
    first: np.ndarray
    done: np.ndarray
    method: str

    @classmethod
    def of(cls, output_tokens: np.ndarray, alpha: np.ndarray, gamma: int, method: str = "auto") -> "RoundsLaw":
        o = np.asarray(output_tokens, dtype=float)
        a = np.asarray(alpha, dtype=float)
        r_max = int(o.max(initial=0.0))
        if gamma == 0 or o.size == 0:
            cdf = (np.arange(r_max + 1)[None, :] >= o[:, None]).astype(float)
            return cls._from_cdf(0, cdf, "exact")
        uniq, inv = np.unique(a, return_inverse=True)
        if method == "auto":
            method = "exact" if uniq.size * (r_max + 1) * (r_max + 1) <= EXACT_MAX_CELLS else "normal"
        if method == "exact":
            cdf = np.zeros((o.size, r_max + 1))
            for u, alpha_u in enumerate(uniq):
                rows = np.flatnonzero(inv == u)
                cdf[rows] = _exact_cdf(float(alpha_u), gamma, o[rows], r_max)
        elif method == "normal":
            cdf = _normal_cdf(a, gamma, o, r_max)
        else:
            raise ValueError(f"method: {method!r} is not one of auto, exact, normal")
        return cls._from_cdf(gamma, cdf, method)

    @classmethod
    def _from_cdf(cls, gamma: int, cdf: np.ndarray, method: str) -> "RoundsLaw":
        cdf = np.where(cdf >= 1.0 - CDF_TOLERANCE, 1.0, np.where(cdf <= CDF_TOLERANCE, 0.0, cdf))
        cdf = np.maximum.accumulate(cdf, axis=1)
        first = np.argmax(cdf > 0.0, axis=1)
        done = np.argmax(cdf >= 1.0, axis=1)
        return cls(gamma, cdf, first.astype(np.int64), done.astype(np.int64), method)

    def expected(self) -> np.ndarray:
        """E[R_k] of every user: sum_r (1 - P(R_k <= r))."""
        return (1.0 - self.cdf).sum(axis=1)

    def expected_max(self, members: np.ndarray) -> float:
        """E[max_{k in members} R_k] (module docstring); 0 for an empty batch."""
        members = np.asarray(members, dtype=np.int64)
        if members.size == 0:
            return 0.0
        lo, hi = int(self.first[members].max()), int(self.done[members].max())
        prod = np.prod(self.cdf[members, lo:hi], axis=0)
        return float(lo + (1.0 - prod).sum())

    def expected_max_suffixes(self, order: np.ndarray, j: int, start: int = 0) -> np.ndarray:
        """E[max R_k over the users order[i:j]] for i = start .. j - 1 (the contiguous batches ending at j;
        ``start`` leaves out the longer ones, which the caller does not need)."""
        users = np.asarray(order[start:j], dtype=np.int64)
        lo = int(self.first[users[-1]])          # below it the last user is surely not done: each term is 1
        late = self.done[users] > lo             # the others are done by lo: their factors are 1 from there
        rows = users[late][::-1]                 # from j - 1 down
        if rows.size == 0:
            return np.full(users.size, float(lo))
        prod = np.cumprod(self.cdf[rows, lo:int(self.done[rows].max())], axis=0)
        tail = 1.0 - prod                        # row q: over the q + 1 last late users
        sums = np.concatenate([[0.0], tail.sum(axis=1)])
        count = np.cumsum(late[::-1])[::-1]      # late users among order[i:j]
        return lo + sums[count]
