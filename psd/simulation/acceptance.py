"""Acceptance models: where the draft's tokens match the target's.

The simulator consumes one boolean **match trace** per task: ``match[x]`` is
True when the draft's token at output position x, drafted from the correct
prefix, equals the target's (greedy decoding; for sampling it is the
acceptance event of that position). A block of m drafts starting at position
a is then accepted up to the first False at or after a, whatever m is, so one
trace serves every draft length, SD and PSD alike. Three sources:

- :meth:`Acceptance.iid` -- i.i.d. Bernoulli(alpha) per position. Expected
  tokens per SD round with draft length g: (1 - alpha^(g+1)) / (1 - alpha).
- :meth:`Acceptance.runs` -- a renewal process: runs of consecutive matches
  drawn from a measured run-length histogram, each followed by one mismatch
  (keeps the burstiness that i.i.d. loses).
- :meth:`Acceptance.traces` -- measured traces replayed: task i gets trace
  ``index[i]`` (or a random one), continued by further random traces when it
  is shorter than needed.

:meth:`Acceptance.from_accepted_lengths` turns a histogram of accepted counts
measured at one draft length into a run-length model (counts of g are
censored; their tail is made geometric with the fitted alpha).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from uara.errors import UaraError


def next_mismatch(match: np.ndarray) -> np.ndarray:
    """For each position x, the first position y >= x with ``match[y]`` False
    (``L`` if none); shape (N, L) int64."""
    match = np.asarray(match, dtype=bool)
    n, length = match.shape
    idx = np.where(~match, np.arange(length)[None, :], length)
    return np.minimum.accumulate(idx[:, ::-1], axis=1)[:, ::-1]


def run_lengths(trace: np.ndarray, *, keep_censored: bool = False) -> np.ndarray:
    """Lengths of the runs of True that end in a False, in order; the final run
    (cut by the end of the trace, so censored) only if ``keep_censored``."""
    t = np.asarray(trace, dtype=bool)
    falses = np.flatnonzero(~t)
    starts = np.concatenate(([0], falses[:-1] + 1)) if falses.size else np.zeros(0, dtype=int)
    runs = falses - starts
    if keep_censored and (not falses.size or falses[-1] < t.size - 1):
        last = t.size - (falses[-1] + 1 if falses.size else 0)
        runs = np.append(runs, last)
    return runs.astype(int)


def trace_to_str(trace: np.ndarray) -> str:
    return "".join("1" if b else "0" for b in np.asarray(trace, dtype=bool))


def trace_from_str(s: str) -> np.ndarray:
    if set(s) - {"0", "1"}:
        raise UaraError("acceptance.traces: a trace is a string of 0 and 1")
    return np.frombuffer(s.encode("ascii"), dtype=np.uint8) == ord("1")


@dataclass(frozen=True)
class Acceptance:
    """One acceptance model (see the module docstring). Build with the class methods."""

    kind: str
    alpha: float
    run_values: np.ndarray | None = field(default=None, repr=False)
    run_probs: np.ndarray | None = field(default=None, repr=False)
    trace_list: tuple[np.ndarray, ...] = field(default=(), repr=False)

    @classmethod
    def iid(cls, alpha: float) -> "Acceptance":
        if not 0.0 <= alpha <= 1.0 or not np.isfinite(alpha):
            raise UaraError(f"acceptance.alpha: expected a number in [0, 1], got {alpha}")
        return cls("iid", float(alpha))

    @classmethod
    def runs(cls, values: Sequence[int], counts: Sequence[float]) -> "Acceptance":
        v = np.asarray(values, dtype=int)
        c = np.asarray(counts, dtype=float)
        if v.shape != c.shape or v.ndim != 1 or v.size == 0:
            raise UaraError("acceptance.run_lengths: values and counts must be equal-length non-empty lists")
        if (v < 0).any() or (c < 0).any() or c.sum() <= 0:
            raise UaraError("acceptance.run_lengths: values and counts must be >= 0 with a positive total")
        p = c / c.sum()
        mean = float((v * p).sum())
        return cls("runs", mean / (mean + 1.0), v, p)

    @classmethod
    def traces(cls, traces: Sequence[np.ndarray | str]) -> "Acceptance":
        ts = tuple(trace_from_str(t) if isinstance(t, str) else np.asarray(t, dtype=bool) for t in traces)
        ts = tuple(t for t in ts if t.size)
        if not ts:
            raise UaraError("acceptance.traces: need at least one non-empty trace")
        total = sum(t.size for t in ts)
        return cls("traces", float(sum(t.sum() for t in ts) / total), trace_list=ts)

    @classmethod
    def from_accepted_lengths(cls, counts: Sequence[float], draft_length: int, tail: int = 400) -> "Acceptance":
        """Accepted-count histogram ``counts[k]``, k = 0..g, measured at draft length g."""
        c = np.asarray(counts, dtype=float)
        g = int(draft_length)
        if c.shape != (g + 1,) or (c < 0).any() or c.sum() <= 0:
            raise UaraError(f"acceptance.accepted_lengths: expected {g + 1} counts >= 0 with a positive total")
        # MLE of alpha for a geometric run censored at g: accepted tokens / (accepted + rejections)
        k = np.arange(g + 1)
        rejections = c[:g].sum()
        alpha = (k * c).sum() / max((k * c).sum() + rejections, 1e-12)
        vals = np.arange(g + tail)
        probs = np.zeros(vals.size)
        probs[:g] = c[:g]
        probs[g:] = c[g] * (1 - alpha) * alpha ** np.arange(tail)
        return cls.runs(vals, probs)

    def sample(self, n_tasks: int, length: int, rng: np.random.Generator,
               index: np.ndarray | None = None) -> np.ndarray:
        """Match traces, shape (n_tasks, length), bool. ``index`` picks the
        measured trace of each task (``traces`` kind only)."""
        if self.kind == "iid":
            return rng.random((n_tasks, length)) < self.alpha
        if self.kind == "runs":
            return self._sample_runs(n_tasks, length, rng)
        return self._sample_traces(n_tasks, length, rng, index)

    def _sample_runs(self, n: int, length: int, rng: np.random.Generator) -> np.ndarray:
        assert self.run_values is not None and self.run_probs is not None
        out = np.ones((n, length), dtype=bool)
        rows = np.arange(n)
        pos = np.zeros(n, dtype=np.int64)  # next position to fill
        k = max(8, int(length / (1.0 + float((self.run_values * self.run_probs).sum()))) + 8)
        while (pos < length).any():
            r = rng.choice(self.run_values, p=self.run_probs, size=(n, k))
            ends = pos[:, None] + np.cumsum(r + 1, axis=1) - 1  # positions of the mismatches
            ok = ends < length
            out[np.repeat(rows, k)[ok.ravel()], ends[ok]] = False
            pos = ends[:, -1] + 1
        return out

    def _sample_traces(self, n: int, length: int, rng: np.random.Generator,
                       index: np.ndarray | None) -> np.ndarray:
        ts = self.trace_list
        first = rng.integers(len(ts), size=n) if index is None else np.asarray(index, dtype=int) % len(ts)
        out = np.empty((n, length), dtype=bool)
        for i in range(n):
            parts, got, j = [], 0, int(first[i])
            while got < length:
                parts.append(ts[j])
                got += ts[j].size
                j = int(rng.integers(len(ts)))
            out[i] = np.concatenate(parts)[:length]
        return out

    def expected_tokens_per_round(self, draft_length: np.ndarray | int) -> np.ndarray:
        """i.i.d. formula (1 - alpha^(g+1)) / (1 - alpha) for SD with draft length g."""
        g = np.asarray(draft_length, dtype=float)
        a = self.alpha
        if a >= 1.0:
            return g + 1.0
        return (1.0 - a ** (g + 1.0)) / (1.0 - a)
