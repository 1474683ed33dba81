"""The latency model of pipelined speculative-decoding serving, stated once (docs/pipeline.md).

A *batch* B_m of users is served with speculation length gamma_m in N_m rounds, as one or two
*micro-batches* h (split in the batch's user order, the first ceil(n/2), the rest). Per micro-batch,
with ctx_k = I_k + O_k / 2 the mean context while generating, n'_h the padded micro-batch size
(ceil(n/2) when split, else n) and pass(node, model, X) = o + max(W / B, X / F) (roofline):

    prefill on the SBS        P_h  = pass(S, draft,  sum_k I_k f_d(I_k / 2))
    drafting, per round       s_h  = gamma pass(S, draft, sum_k f_d(ctx_k))
    drafts up the fronthaul   up   = l_f + (b n'_h gamma + h) / R_f
    verification, per round   v_h  = pass(M, target, (gamma + 1) sum_k f_t(ctx_k))
    verdicts down             dn   = l_f + (n'_h (ceil(log2(gamma + 2)) + b) + h) / R_f
    rounds                    N_m  = E[max_{k in B_m} R_k],  R_k = min{r : X_1 + ... + X_r >= O_k}

(X: tokens one round commits under i.i.d. acceptance alpha_k, E[X] = (1 - alpha^(gamma+1)) / (1 - alpha),
Leviathan et al. 2023; the law of R_k and the expected maximum, exact, in :mod:`.batch_rounds`; the
largest E[R_k] would under-charge a large batch). T_m is affine in N_m for one micro-batch, so T at the
expected rounds is the expected T; for two micro-batches it is interpolated linearly between the
integer rounds either side (the event-driven check, which samples every user's rounds, measures the
difference). At the batch start the
SBS forwards the batch's prompts to the MBS, which prefills the target on all of them:
M_0 = l_f + (b sum I + h) / R_f + pass(M, target, sum_k I_k f_t(I_k / 2)). Times from the batch start,
with E (end of drafting) and F (end of verification) per micro-batch a, b and round r:

    E_a(1) = P_a + s_a,  E_b(1) = E_a(1) + P_b + s_b,  F_a(1) = max(M_0, E_a(1) + up) + v_a,
    F_b(1) = max(F_a(1), E_b(1) + up) + v_b
    E_a(r) = max(E_b(r-1), F_a(r-1) + dn) + s_a      (the SBS alternates a, b; a needs its verdict)
    E_b(r) = max(E_a(r),   F_b(r-1) + dn) + s_b
    F_a(r) = max(F_b(r-1), E_a(r) + up) + v_a        (the MBS alternates a, b)
    F_b(r) = max(F_a(r),   E_b(r) + up) + v_b
    T_m = F_b(N_m) + dn

a max-plus linear recursion x(r) = A (x) x(r-1), stepped until it settles into its periodic regime
(x(r) = x(r-1) + c 1, after which every step adds c) and extrapolated from there, or, where it does
not settle within a few steps, evaluated by repeated squaring of A (:mod:`.micro_batch_alternation`). One micro-batch:
T_m = max(M_0, P + s + up) + v + (N_m - 1)(dn + s + up + v) + dn. gamma = 0 is autoregressive serving on
the MBS alone: T_m = M_0 + N_m pass(M, target, sum_k f_t(ctx_k)) + l_f + (b sum O + h) / R_f.

Uploads: user k's prompt is d_k = b I_k + h bits. Batches then run one after another:
C_m = max(C_{m-1}, rho_m) + T_m (rho_m: the last prompt of B_m is in), user k finishes at
C_{m(k)} + l_d. A batch whose weights plus peak KV cache, W_t + kv_t (sum_k (I_k + O_k) + n (gamma + 1)),
exceed the MBS memory is infeasible: T_m = inf (:func:`batch_fits`). Everything here is vectorised over candidate batches (the DP evaluates thousands).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from uara.model.shared.physics import roofline_pass_s

from uara.model.pipeline.batch_rounds import RoundsLaw
from uara.model.pipeline.micro_batch_alternation import two_micro_batches_s
from uara.model.pipeline.serving_instance import ComputeNode, ModelCost, PipelineInstance

def tokens_per_round(alpha: np.ndarray, gamma: int) -> np.ndarray:
    """E = (1 - alpha^(gamma+1)) / (1 - alpha): expected tokens a round commits (gamma + 1 at alpha = 1)."""
    a = np.asarray(alpha, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = (1.0 - a ** (gamma + 1)) / (1.0 - a)
    return np.where(a >= 1.0, gamma + 1.0, e)


def rounds_needed(output_tokens: np.ndarray, alpha: np.ndarray, gamma: int) -> np.ndarray:
    """ceil(O_k / E_k(gamma)) rounds per user at the expected rate (O_k at gamma = 0: autoregressive): a
    size estimate and an order key; a batch's rounds are :meth:`UserTerms.batch_rounds`."""
    o = np.asarray(output_tokens, dtype=float)
    if gamma == 0:
        return o.astype(np.int64)
    return np.ceil(o / tokens_per_round(alpha, gamma) - 1e-9).astype(np.int64)


def pass_time_s(node: ComputeNode, model: ModelCost, flops: np.ndarray) -> np.ndarray:
    """One forward pass: o + max(W / B, FLOPs / F) seconds (weights read once; roofline)."""
    return roofline_pass_s(node.pass_overhead_s, model.weight_bytes, node.memory_bandwidth_bytes_per_s, flops, node.flops)


def verdict_bits(gamma: int, token_bits: int) -> int:
    """Bits of one user's verdict: the accepted count (0..gamma) and the correction/bonus token id."""
    return int(np.ceil(np.log2(gamma + 2))) + token_bits


@dataclass(frozen=True)
class UserTerms:
    """Per-user quantities the batch times are sums or maxima of (arrays over users)."""

    draft_flops: np.ndarray           # f_d(ctx_k)
    target_flops: np.ndarray          # f_t(ctx_k)
    draft_prefill_flops: np.ndarray   # I_k f_d(I_k / 2)
    target_prefill_flops: np.ndarray  # I_k f_t(I_k / 2)
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    upload_bits: np.ndarray           # d_k = b I_k + h
    alpha: np.ndarray
    laws: dict = field(default_factory=dict, compare=False, repr=False)

    def rounds_law(self, gamma: int) -> RoundsLaw:
        """The law of every user's rounds at speculation length gamma (computed once per instance and gamma)."""
        if gamma not in self.laws:
            self.laws[gamma] = RoundsLaw.of(self.output_tokens, self.alpha, gamma)
        return self.laws[gamma]

    def batch_rounds(self, members: np.ndarray, gamma: int) -> float:
        """N_m = E[max_{k in members} R_k] at speculation length gamma."""
        return self.rounds_law(gamma).expected_max(members)


def user_terms(inst: PipelineInstance) -> UserTerms:
    i, o = inst.prompt_tokens, inst.output_tokens
    ctx = i + 0.5 * o
    return UserTerms(draft_flops=inst.draft.flops(ctx), target_flops=inst.target.flops(ctx),
                     draft_prefill_flops=i * inst.draft.flops(0.5 * i), target_prefill_flops=i * inst.target.flops(0.5 * i),
                     prompt_tokens=i, output_tokens=o, upload_bits=inst.upload_bits, alpha=inst.alpha)


@dataclass(frozen=True)
class MicroSums:
    """Sums over one micro-batch, arrays over candidates: size (padded size for messages) and FLOPs."""

    size: np.ndarray
    padded: np.ndarray
    draft_flops: np.ndarray
    target_flops: np.ndarray
    draft_prefill_flops: np.ndarray


def batch_duration_s(inst: PipelineInstance, gamma: int, rounds: np.ndarray, micro: list[MicroSums],
                     target_prefill_flops: np.ndarray, prompt_tokens: np.ndarray, output_tokens: np.ndarray) -> np.ndarray:
    """T_m (module docstring) for each candidate batch; ``micro`` holds one or two micro-batches and
    ``rounds`` N_m (>= 1; not necessarily whole: an expected maximum)."""
    link, s_node, m_node = inst.link, inst.sbs, inst.mbs
    rounds = np.asarray(rounds, dtype=float)
    fits = batch_fits(inst, prompt_tokens, output_tokens, gamma, sum(mb.size for mb in micro))
    m0 = (link.fronthaul_latency_s + (link.token_bits * prompt_tokens + link.header_bits) / link.fronthaul_bps
          + pass_time_s(m_node, inst.target, target_prefill_flops))
    if gamma == 0:
        v = pass_time_s(m_node, inst.target, sum(mb.target_flops for mb in micro))
        back = link.fronthaul_latency_s + (link.token_bits * output_tokens + link.header_bits) / link.fronthaul_bps
        return np.where(fits, m0 + rounds * v + back, np.inf)
    terms = []
    for mb in micro:
        draft = gamma * pass_time_s(s_node, inst.draft, mb.draft_flops)
        prefill = pass_time_s(s_node, inst.draft, mb.draft_prefill_flops)
        up = link.fronthaul_latency_s + (link.token_bits * gamma * mb.padded + link.header_bits) / link.fronthaul_bps
        dn = (link.fronthaul_latency_s
              + (mb.padded * verdict_bits(gamma, link.token_bits) + link.header_bits) / link.fronthaul_bps)
        verify = pass_time_s(m_node, inst.target, (gamma + 1) * mb.target_flops)
        terms.append((prefill, draft, up, verify, dn))
    if len(terms) == 1:
        p, s, up, v, dn = terms[0]
        return np.where(fits, np.maximum(m0, p + s + up) + v + (rounds - 1) * (dn + s + up + v) + dn, np.inf)
    return np.where(fits, two_micro_batches_s(m0, rounds, terms[0], terms[1]), np.inf)


def batch_kv_bytes(inst: PipelineInstance, prompt_tokens: Any, output_tokens: Any, gamma: int, users: Any) -> np.ndarray:
    """Peak KV cache of a batch on the MBS (B): kv_t (sum_k (I_k + O_k) + n (gamma + 1)), every user's whole
    context at its last verification (:mod:`uara.model.shared.server_model`, admission)."""
    return inst.target.kv_bytes_per_token * (np.asarray(prompt_tokens, float) + np.asarray(output_tokens, float)
                                             + np.asarray(users, float) * (gamma + 1))


def batch_fits(inst: PipelineInstance, prompt_tokens: Any, output_tokens: Any, gamma: int, users: Any) -> np.ndarray:
    """W_t + peak KV <= the MBS memory (True where the MBS states no memory): a batch that does not fit is
    infeasible (its duration is inf, so no solver chooses it and an evaluator reports it)."""
    if inst.mbs.memory_bytes is None:
        return np.ones(np.shape(prompt_tokens), dtype=bool)
    return batch_memory_bytes(inst, prompt_tokens, output_tokens, gamma, users) <= inst.mbs.memory_bytes


def batch_memory_bytes(inst: PipelineInstance, prompt_tokens: Any, output_tokens: Any, gamma: int, users: Any) -> np.ndarray:
    """MBS memory a batch needs (B): the target's weights plus its peak KV cache (:func:`batch_kv_bytes`)."""
    return inst.target.weight_bytes + batch_kv_bytes(inst, prompt_tokens, output_tokens, gamma, users)


def first_micro_batch_size(n: Any) -> Any:
    """ceil(n / 2): the first micro-batch of a split batch of n users (the one messages are padded to)."""
    return (n + 1) // 2


def micro_batch_parts(members: np.ndarray, split: int) -> list[np.ndarray]:
    """A batch's users (in its order) as its 1 or 2 micro-batches."""
    if split == 1:
        return [members]
    h = first_micro_batch_size(len(members))
    return [members[:h], members[h:]]


def micro_sums(terms: UserTerms, members: np.ndarray, split: int) -> list[MicroSums]:
    """The micro-batch sums of one batch (user indices ``members``) for 1 or 2 micro-batches."""
    parts = micro_batch_parts(members, split)
    pad = float(len(parts[0]))
    return [MicroSums(size=np.array([float(len(p))]), padded=np.array([pad]),
                      draft_flops=np.array([terms.draft_flops[p].sum()]),
                      target_flops=np.array([terms.target_flops[p].sum()]),
                      draft_prefill_flops=np.array([terms.draft_prefill_flops[p].sum()])) for p in parts]


def single_batch_duration_s(inst: PipelineInstance, terms: UserTerms, members: np.ndarray, gamma: int,
                            split: int) -> float:
    """T_m of one batch given by its user indices (the evaluator's scalar entry point)."""
    members = np.asarray(members, dtype=np.int64)
    n_rounds = terms.batch_rounds(members, gamma)
    micro = micro_sums(terms, members, split)
    return float(batch_duration_s(inst, gamma, np.array([n_rounds]), micro,
                                  np.array([terms.target_prefill_flops[members].sum()]),
                                  np.array([terms.prompt_tokens[members].sum()]),
                                  np.array([terms.output_tokens[members].sum()]))[0])
