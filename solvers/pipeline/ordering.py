"""User orders and prefix-sum tables: what makes a contiguous batch's duration cost O(1).

:func:`user_order` fixes the order batches are contiguous in; :class:`OrderedTerms` holds prefix
sums of the users' terms in that order, the batch durations T(i, j) at each (gamma, micro-batches)
and the ready times rho; :func:`decision_from_cuts` turns batches (i, j, gamma, split) into a
:class:`~uara.model.pipeline.schedule.ServingDecision`.
"""

from __future__ import annotations

import numpy as np

from uara.model.pipeline.schedule import ServingDecision, sequential_shares, uniform_shares
from uara.model.pipeline.serving_instance import PipelineInstance
from uara.model.pipeline.serving_latency import (MicroSums, UserTerms, batch_duration_s, batch_fits,
                                                 first_micro_batch_size, tokens_per_round)

def user_order(inst: PipelineInstance, how: str) -> np.ndarray:
    """The order contiguous batches follow: ascending expected rounds O_k / E_k at the middle positive
    candidate length (ties: shorter upload first), ascending O_k, or the users' index order."""
    k = np.arange(inst.num_users)
    if how == "index":
        return k
    upload = inst.upload_s_full_band
    if how == "output":
        return np.lexsort((k, upload, inst.output_tokens))
    positive = [g for g in inst.speculation_lengths if g > 0]
    g_ref = positive[len(positive) // 2] if positive else 0
    work = inst.output_tokens / tokens_per_round(inst.alpha, g_ref)
    return np.lexsort((k, upload, work))


class OrderedTerms:
    """Prefix sums over users in a fixed order, so a contiguous batch's sums cost O(1)."""

    def __init__(self, inst: PipelineInstance, order: np.ndarray, terms: UserTerms, lengths: list[int]):
        self.inst, self.order, self.terms = inst, order, terms

        def cs(a: np.ndarray) -> np.ndarray:
            return np.concatenate([[0.0], np.cumsum(np.asarray(a, float)[order])])

        self.df, self.tf = cs(terms.draft_flops), cs(terms.target_flops)
        self.dpf, self.tpf = cs(terms.draft_prefill_flops), cs(terms.target_prefill_flops)
        self.prompt, self.output = cs(terms.prompt_tokens), cs(terms.output_tokens)
        d_over_r = inst.upload_s_full_band
        self.upload_prefix = cs(d_over_r)
        self.upload_uniform = (d_over_r * inst.num_users)[order]
        self.laws = {g: terms.rounds_law(g) for g in lengths}

    def _micro(self, lo: np.ndarray, hi: np.ndarray, padded: np.ndarray) -> MicroSums:
        return MicroSums(size=(hi - lo).astype(float), padded=padded.astype(float),
                         draft_flops=self.df[hi] - self.df[lo], target_flops=self.tf[hi] - self.tf[lo],
                         draft_prefill_flops=self.dpf[hi] - self.dpf[lo])

    def rounds(self, j: int, gamma: int, start: int = 0) -> np.ndarray:
        """N of the batches order[i:j], i = start..j-1: the expected maximum of their users' rounds."""
        return self.laws[gamma].expected_max_suffixes(self.order, j, start)

    def _pair_durations(self, i: np.ndarray, jj: np.ndarray, gamma: int, split: int, rounds: np.ndarray) -> np.ndarray:
        """T of the batches order[i:jj] for arrays of pairs (elementwise, so any set of pairs in one call)."""
        n = jj - i
        if split == 1:
            micro = [self._micro(i, jj, n)]
        else:
            h = first_micro_batch_size(n)
            micro = [self._micro(i, i + h, h), self._micro(i + h, jj, h)]
        t = batch_duration_s(self.inst, gamma, rounds, micro, self.tpf[jj] - self.tpf[i],
                             self.prompt[jj] - self.prompt[i], self.output[jj] - self.output[i])
        if split == 2:
            t = np.where(n >= 2, t, np.inf)
        return t

    def best_durations(self, j: int, lengths: list[int], pipelining: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """min over (gamma, split) of T for every batch order[i:j]; with the argmin gamma and split."""
        return self.best_durations_block(range(j, j + 1), lengths, pipelining)[0]

    def best_durations_block(self, js: range, lengths: list[int], pipelining: bool
                             ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """:meth:`best_durations` for every j of ``js`` at once: the pairs (i, j), i < j, of the whole block go
        through the duration formula in one vectorised call per (gamma, split), which removes the per-j
        overhead of the max-plus products (the same values: the formula is elementwise). Pairs whose batch
        does not fit the MBS memory (:func:`batch_fits`, from prefix sums) are inf without their rounds or
        durations being computed: for each j only the batches from its first fitting i are evaluated (at
        K = 1000 on the default RTX 4090 about 80 % of the pairs do not fit; the rounds of the others agree
        with those of the full fill to rounding, as their sums run over fewer all-zero terms)."""
        sizes = np.array(list(js))
        i = np.concatenate([np.arange(j) for j in js])
        jj = np.repeat(sizes, sizes)
        best = np.full(i.size, np.inf)
        g_best, s_best = np.zeros(i.size, dtype=np.int64), np.ones(i.size, dtype=np.int64)
        for g in lengths:
            fits = batch_fits(self.inst, self.prompt[jj] - self.prompt[i], self.output[jj] - self.output[i], g, jj - i)
            start = self._first_fitting(fits, i, jj, sizes)
            sel = np.flatnonzero(i >= np.repeat(start, sizes))
            if not sel.size:
                continue
            rounds = np.concatenate([self.rounds(j, g, int(a)) for j, a in zip(js, start) if a < j])
            for s in ((1, 2) if pipelining and g > 0 else (1,)):
                t = self._pair_durations(i[sel], jj[sel], g, s, rounds)
                better = t < best[sel]
                best[sel] = np.where(better, t, best[sel])
                g_best[sel], s_best[sel] = np.where(better, g, g_best[sel]), np.where(better, s, s_best[sel])
        cut = np.cumsum(sizes)[:-1]
        return list(zip(np.split(best, cut), np.split(g_best, cut), np.split(s_best, cut)))

    @staticmethod
    def _first_fitting(fits: np.ndarray, i: np.ndarray, jj: np.ndarray, sizes: np.ndarray) -> np.ndarray:
        """Per j of the block (its pairs i = 0..j-1 consecutive), the first i whose batch fits (j where
        none does)."""
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        return np.minimum.reduceat(np.where(fits, i, jj), offsets)

    def ready(self, j: int, bandwidth: str) -> np.ndarray:
        """rho of the batch order[i:j] for i = 0..j-1: sum of d/r up to j (closed form) or max K d/r (uniform)."""
        if bandwidth == "closed-form":
            return np.full(j, self.upload_prefix[j])
        return np.maximum.accumulate(self.upload_uniform[:j][::-1])[::-1]


def decision_from_cuts(inst: PipelineInstance, order: np.ndarray, cuts: list[tuple[int, int, int, int]],
                       bandwidth: str) -> ServingDecision:
    """A decision from contiguous batches (i, j, gamma, split) of ``order``."""
    batches = [[int(u) for u in order[i:j]] for i, j, _, _ in cuts]
    shares = sequential_shares(inst, batches) if bandwidth == "closed-form" else uniform_shares(inst)
    return ServingDecision(batches=batches, speculation_length=[int(g) for _, _, g, _ in cuts],
                           micro_batches=[int(s) for _, _, _, s in cuts], shares=shares,
                           bandwidth_mode="sequential" if bandwidth == "closed-form" else "static")
