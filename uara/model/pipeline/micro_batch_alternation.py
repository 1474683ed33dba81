"""The duration of a batch served as two alternating micro-batches a, b (docs/pipeline.md).

Per micro-batch: s (drafting, one round, on the SBS), v (verification, on the MBS), up and dn (drafts up
and verdicts down the fronthaul; padded, so equal for a and b). With E (end of drafting) and F (end of
verification) per micro-batch and round r:

    E_a(r) = max(E_b(r-1), F_a(r-1) + dn) + s_a      (the SBS alternates a, b; a needs its verdict)
    E_b(r) = max(E_a(r),   F_b(r-1) + dn) + s_b
    F_a(r) = max(F_b(r-1), E_a(r) + up) + v_a        (the MBS alternates a, b)
    F_b(r) = max(F_a(r),   E_b(r) + up) + v_b

a max-plus linear recursion x(r) = A (x) x(r-1) in x = (E_a, E_b, F_a, F_b). Max-plus linearity,
A (x) (y + c) = A (x) y + c, means that once a step adds the same c to every component (the periodic
regime of period 1), every later step adds c again, so x(e) = x(r) + (e - r) c exactly. The recursion
is stepped in its scalar form above (twelve elementwise operations per step on arrays over candidate
batches) until that holds, usually within a few rounds; the few candidates that do not settle within
SETTLE_STEPS (a longer period or a slow transient) take repeated squaring of the 4 x 4 matrix A.
"""

from __future__ import annotations

import numpy as np

NEG = -np.inf

#: steps of the recursion tried before a candidate falls back to repeated squaring
SETTLE_STEPS = 12

#: relative tolerance on the spread of one step's increments that counts as the periodic regime
SETTLE_TOLERANCE = 1e-12

#: compact the arrays once fewer than this share of their candidates is still stepping
COMPACT_BELOW = 0.5


def two_micro_batches_s(m0: np.ndarray, rounds: np.ndarray, ta: tuple, tb: tuple) -> np.ndarray:
    """F_b(N) + dn per candidate, with x(1) from the prefills (module docstring of
    :mod:`.serving_latency`) and x(N) = A^(N-1) (x) x(1); a fractional N interpolates linearly between
    x(floor N) and x(floor N + 1). ``ta``, ``tb``: (prefill, draft, up, verify, dn) of a and b."""
    pa, sa, up, va, dn = (np.broadcast_to(np.asarray(t, float), m0.shape) for t in ta)
    pb, sb, upb, vb, dnb = (np.broadcast_to(np.asarray(t, float), m0.shape) for t in tb)
    up, dn = np.maximum(up, upb), np.maximum(dn, dnb)  # padded messages: equal sizes (they are)
    ea = pa + sa
    eb = ea + pb + sb
    fa = np.maximum(m0, ea + up) + va
    fb = np.maximum(fa, eb + up) + vb
    rounds = np.maximum(np.asarray(rounds, dtype=float), 1.0)
    whole = np.floor(rounds)
    frac = rounds - whole
    coef = np.stack([sa, sb, va, vb, up, dn])                       # (6, n)
    x_n, x_next = rounds_state(coef, np.stack([ea, eb, fa, fb]), whole.astype(np.int64) - 1)
    if not np.any(frac > 0):
        return x_n[3] + dn
    return x_n[3] + frac * (x_next[3] - x_n[3]) + dn


def alternation_step(coef: np.ndarray, x: np.ndarray) -> np.ndarray:
    """x(r) from x(r-1), both (4, n), by the recursion of the module docstring; ``coef`` (6, n) holds
    s_a, s_b, v_a, v_b, up, dn."""
    sa, sb, va, vb, up, dn = coef
    ea, eb, fa, fb = x
    out = np.empty_like(x)
    tmp = np.empty_like(ea)
    np.maximum(eb, np.add(fa, dn, out=tmp), out=out[0])
    out[0] += sa
    np.maximum(out[0], np.add(fb, dn, out=tmp), out=out[1])
    out[1] += sb
    np.maximum(fb, np.add(out[0], up, out=tmp), out=out[2])
    out[2] += va
    np.maximum(out[2], np.add(out[1], up, out=tmp), out=out[3])
    out[3] += vb
    return out


def alternation_matrix(coef: np.ndarray) -> np.ndarray:
    """A (n, 4, 4) with x(r) = A (x) x(r-1) (NEG where x_j does not enter x_i): the recursion of the
    module docstring with E_a(r) substituted into E_b(r) and F_a(r), and those into F_b(r)."""
    sa, sb, va, vb, up, dn = coef
    base = np.full((sa.size, 4, 4), NEG)
    base[:, 0, 1], base[:, 0, 2] = sa, dn + sa                      # E_a(r) = max(E_b(r-1), F_a(r-1) + dn) + s_a
    base[:, 1, :3] = base[:, 0, :3] + sb[:, None]                   # E_b(r) = max(E_a(r), F_b(r-1) + dn) + s_b
    base[:, 1, 3] = dn + sb
    base[:, 2, :3] = base[:, 0, :3] + (up + va)[:, None]            # F_a(r) = max(F_b(r-1), E_a(r) + up) + v_a
    base[:, 2, 3] = va
    base[:, 3] = np.maximum(base[:, 2] + vb[:, None], base[:, 1] + (up + vb)[:, None])  # F_b(r)
    return base


def rounds_state(coef: np.ndarray, x: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x(e + 1), x(e + 2)) = (A^e (x) x, A^(e+1) (x) x) per candidate, (4, n) each, from x = x(1) (4, n)
    and e >= 0 (n,): stepped until the periodic regime (module docstring; spread of the increments
    within SETTLE_TOLERANCE relative), then extrapolated; repeated squaring for the rest. Results are
    written with dense masked copies into arrays of the current candidates (at first the results
    themselves), scattered back only once the unfinished ones have been compacted (COMPACT_BELOW)."""
    out, out_next = np.empty_like(x), np.empty_like(x)
    todo = np.arange(x.shape[1])
    level, level_next = out, out_next
    active = np.ones(todo.size, dtype=bool)
    cur, ee = x, e
    for r in range(SETTLE_STEPS + 1):
        nxt = alternation_step(coef, cur)
        done_now = active & (ee == r)
        np.copyto(level, cur, where=done_now)
        np.copyto(level_next, nxt, where=done_now)
        inc = nxt - cur
        with np.errstate(invalid="ignore"):  # inf - inf: nan, never settled
            spread = np.max(inc, axis=0) - np.min(inc, axis=0)
            settled = active & (ee > r) & (spread <= SETTLE_TOLERANCE * np.maximum(np.abs(nxt[3]), 1.0))
        if settled.any():
            with np.errstate(invalid="ignore"):
                ahead = cur + (ee - r).astype(float) * inc[3]
            np.copyto(level, ahead, where=settled)
            np.copyto(level_next, ahead + inc[3], where=settled)
        active &= ~(done_now | settled)
        n_active = int(np.count_nonzero(active))
        if n_active == 0 or n_active < COMPACT_BELOW * active.size:
            _scatter_finished(out, out_next, todo, active, level, level_next)
            if n_active == 0:
                return out, out_next
            todo, coef, nxt, ee = todo[active], coef[:, active], nxt[:, active], ee[active]
            level, level_next = level[:, active], level_next[:, active]
            active = np.ones(n_active, dtype=bool)
        cur = nxt
    _scatter_finished(out, out_next, todo, active, level, level_next)
    todo, coef, cur, ee = todo[active], coef[:, active], cur[:, active], ee[active]
    xs, xn = power_state(alternation_matrix(coef), cur.T, ee - (SETTLE_STEPS + 1))
    out[:, todo], out_next[:, todo] = xs.T, xn.T
    return out, out_next


def _scatter_finished(out: np.ndarray, out_next: np.ndarray, todo: np.ndarray, active: np.ndarray,
                      level: np.ndarray, level_next: np.ndarray) -> None:
    """Copy the finished candidates of a compacted level (``todo``: their columns in ``out``) back;
    nothing to do while the level is ``out`` itself."""
    if level is out:
        return
    finished = ~active
    out[:, todo[finished]], out_next[:, todo[finished]] = level[:, finished], level_next[:, finished]


def power_state(base: np.ndarray, x: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(A^e (x) x, A^(e+1) (x) x) by repeated squaring of A (n, 4, 4); x (n, 4), e >= 0 (n,)."""
    step = base
    e = e.copy()
    while np.any(e > 0):
        odd = (e & 1).astype(bool)
        if odd.any():
            x = np.where(odd[:, None], maxplus_vec(base, x), x)
        e = e >> 1
        if np.any(e > 0):
            base = maxplus_mat(base, base)
    return x, maxplus_vec(step, x)


def maxplus_vec(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(A (x) x)_i = max_j A_ij + x_j, batched over the first axis (a running maximum over j: no (n, 4, 4)
    temporary to reduce, 5x faster than broadcasting, the same floats)."""
    out = a[:, :, 0] + x[:, 0, None]
    for j in range(1, a.shape[2]):
        np.maximum(out, a[:, :, j] + x[:, j, None], out=out)
    return out


def maxplus_mat(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(A (x) B)_ij = max_k A_ik + B_kj, batched (a running maximum over k: 4x faster than reducing the
    (n, 4, 4, 4) broadcast, the same floats)."""
    out = a[:, :, 0, None] + b[:, None, 0, :]
    for k in range(1, a.shape[2]):
        np.maximum(out, a[:, :, k, None] + b[:, None, k, :], out=out)
    return out
