"""The throughput-optimal draft length of sequential distributed SD in closed form (TK-SLT's question).

Zheng & Yang (arXiv 2509.04576, "TK-SLT") send the draft's top-K probabilities with their token ids
instead of the whole distribution, and ask which draft length maximises throughput and what speed-up
it buys. This module answers it for the model below, in uara's terms (the derivation is ours; the
paper's text beyond its abstract is not in this project's library, so its exact expressions are not
reproduced here).

**Model** (sequential SD: the phone waits for each verdict; i.i.d. acceptance at rate alpha). A round
with draft length g drafts g tokens, sends them, the server verifies g + 1 positions, the verdict
comes back:

    T(g) = A + B g,    A = t_call + t_pos + h / R + t_down + 2 l,    B = t_d + b / R + t_pos        (s)

with t_d the draft time per token, b the uplink bits per draft token (top-K: id + K (prob bits + id),
:mod:`uara.psd.simulation.protocols`), h the block header bits, R the uplink rate, t_call the server's
fixed time per verification, t_pos its time per verified position, t_down the verdict's downlink time
and l the one-way link latency. A round commits N(g) tokens, E[N(g)] = (1 - alpha^(g+1)) / (1 - alpha)
(the accepted prefix plus the target's token). Throughput is Theta(g) = E[N(g)] / T(g).

**Optimum.** With c = A / B and u = alpha^(g+1), dTheta/dg = 0 reads u (1 - (c - 1) ln alpha - ln u) = 1.
Putting w = 1 - (c - 1) ln alpha - ln u gives w e^(-w) = alpha^(c-1) / e, whose root with u < 1 lies on
the lower branch of Lambert's W:

    g* = (1 - (c - 1) ln alpha + W_{-1}(-alpha^(c-1) / e)) / ln alpha - 1,

and g* <= 0 (no speculation pays) when c <= 1. Theta is unimodal in g, so the best integer length is
floor(g*) or ceil(g*), whichever has the higher Theta (:func:`optimal_draft_length`).

**Speed-up** over autoregressive decoding through the same link (g = 0: one position verified, one
token back per round): S(g) = Theta(g) / Theta(0) = (1 - alpha^(g+1)) / ((1 - alpha)(1 + g B / A)).

Where this model's assumptions hold (sequential SD, i.i.d. acceptance, no overlap, a server that serves
one request at a time), the PSD simulator in ``sd`` mode gives the same throughput
(tests/test_draft_length.py); PSD's look-ahead, pre-verify and a batched server move the best length,
which bench/draft_length_table.py tabulates (results/draft_length).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from uara.errors import UaraError


@dataclass(frozen=True)
class RoundCosts:
    """A = fixed seconds per round, B = seconds per draft token (module docstring); arrays broadcast."""

    fixed_s: np.ndarray
    per_token_s: np.ndarray

    @classmethod
    def from_link(cls, *, draft_s_per_token, bits_per_token, header_bits, uplink_bps, verify_s_per_call,
                  verify_s_per_position, downlink_s, link_latency_s) -> "RoundCosts":
        """A and B from the physical quantities of the module docstring (s, bits, bit/s)."""
        r = np.asarray(uplink_bps, dtype=float)
        if np.any(r <= 0):
            raise UaraError("uplink_bps: expected > 0")
        fixed = (np.asarray(verify_s_per_call, dtype=float) + verify_s_per_position + np.asarray(header_bits) / r
                 + downlink_s + 2.0 * np.asarray(link_latency_s, dtype=float))
        per = np.asarray(draft_s_per_token, dtype=float) + np.asarray(bits_per_token) / r + verify_s_per_position
        return cls(np.asarray(fixed, dtype=float), np.asarray(per, dtype=float))


def _alpha(alpha) -> np.ndarray:
    a = np.asarray(alpha, dtype=float)
    if np.any((a <= 0) | (a >= 1)):
        raise UaraError("alpha: expected an acceptance rate in (0, 1)")
    return a


def expected_tokens(alpha, g) -> np.ndarray:
    """E[N(g)] = (1 - alpha^(g+1)) / (1 - alpha) tokens committed per round."""
    a = _alpha(alpha)
    return (1.0 - a ** (np.asarray(g, dtype=float) + 1.0)) / (1.0 - a)


def throughput(alpha, g, costs: RoundCosts) -> np.ndarray:
    """Theta(g) = E[N(g)] / (A + B g) tokens per second."""
    return expected_tokens(alpha, g) / (costs.fixed_s + costs.per_token_s * np.asarray(g, dtype=float))


def speedup(alpha, g, costs: RoundCosts) -> np.ndarray:
    """S(g) = Theta(g) / Theta(0): the speed-up over autoregressive decoding through the same link."""
    return throughput(alpha, g, costs) / throughput(alpha, 0, costs)


def continuous_optimum(alpha, costs: RoundCosts) -> np.ndarray:
    """g* of the module docstring (real-valued; 0 where no speculation pays).

    W_{-1}(-alpha^(c-1) / e) = -w with w the root above 1 of w - ln w = s, s = 1 - (c - 1) ln alpha; it is found
    by Newton's method in that logarithmic form, which stays exact where alpha^(c-1) underflows."""
    a = _alpha(alpha)
    c = np.asarray(costs.fixed_s / costs.per_token_s, dtype=float)
    ln_a = np.log(a)
    s = np.maximum(1.0 - (c - 1.0) * ln_a, 1.0)
    w = s + np.log(s) + 1.0                                   # above the root; Newton descends monotonically
    for _ in range(60):
        step = (w - np.log(w) - s) / (1.0 - 1.0 / w)
        w = np.maximum(w - step, 1.0 + 1e-12)
        if np.all(np.abs(step) <= 1e-13 * w):
            break
    g = (s - w) / ln_a - 1.0
    return np.where(c > 1.0, np.maximum(g, 0.0), 0.0)


def optimal_draft_length(alpha, costs: RoundCosts, max_length: int = 64) -> np.ndarray:
    """The integer g in 0..max_length with the highest Theta: floor or ceil of :func:`continuous_optimum`."""
    g = np.clip(continuous_optimum(alpha, costs), 0, max_length)
    lo, hi = np.floor(g), np.minimum(np.ceil(g), max_length)
    better = throughput(alpha, hi, costs) > throughput(alpha, lo, costs)
    return np.where(better, hi, lo).astype(np.int64)
