"""Event-level timeline of one speculative-decoding task, vectorised over tasks.

Actors: the phone drafts tokens one at a time (``draft_s_per_token`` each);
the uplink carries blocks of draft tokens (``Protocol.up_bits`` at
``uplink_bps``, plus ``link_latency_s``); the server verifies a block of m
tokens in ``(m + 1) * verify_s_per_position + verify_s_per_call`` (the m + 1
positions give the m verdicts and one correction/bonus token), not before
``queue_s``; the downlink returns the verdict. Each of the four is a FIFO
resource (a message waits for the previous one on its link).

A **block** is the unit that goes up and is verified. Blocks between two
rejections form a *lineage*; a rejection (or a bonus token that contradicts a
token already drafted past the block) ends it: every drafted token after the
error is dropped, the phone stops drafting at once and restarts from the
corrected prefix when the verdict arrives, the server drops the blocks it has
not verified (it knows of the error first), and uplink transmissions still
in progress are aborted.

- **SD** (``mode='sd'``): the phone drafts a block of g, sends it and waits
  for the verdict before drafting again (mutual waiting). Tokens per round =
  accepted + 1 (correction or bonus).
- **PSD** (``mode='psd'``, PEARL mapped onto the link): the phone keeps one
  block in flight while drafting the next, so block n+1 starts at
  max(end of drafting block n, verdict of block n-1): a round lasts
  max(draft time, uplink + verify + downlink) instead of their sum
  (*post-verify*). With ``pre_verify`` the first block of a lineage holds a
  single token, shipped as soon as it is drafted, the second g - 1 tokens,
  then g (*pre-verify*: the target checks the first token while the phone
  drafts the rest). When a block is fully accepted and the phone has already
  drafted past it, the target's bonus token at the block end is compared with
  that draft (a mismatch ends the lineage, a match keeps the drafts).
- **Adaptive draft length** (``adaptive=True``): the heuristic of Hugging
  Face assisted generation: g <- min(g_max, g + 2) after a fully accepted
  block, g <- max(g_min, g - 1) after a rejection. In PSD the size of block
  n+1 is fixed when its drafting starts, i.e. before block n's verdict.

Acceptance comes in as match traces (:mod:`uara.psd.simulation.acceptance`). Greedy
speculative decoding is exactly described by them; the real decoder in
:mod:`uara.psd.measure.profiling` follows the same block rules.

Outputs per task: total latency; its **critical-path breakdown** (device
compute, uplink, queue, server compute, downlink: the chain of waits that
ends at the last verdict; the five sum to the total); busy time of each
resource (device, uplink, server, downlink; wasted work included), idle time
of the phone and server (total - busy); rounds (verification calls); tokens;
drafted / accepted draft tokens; verified positions; bits up and down. A
task whose server share, device speed or uplink rate is zero gets an infinite
latency and ``finite=False``; it is not simulated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from uara.errors import UaraError
from uara.psd.simulation.acceptance import next_mismatch
from uara.psd.simulation.protocols import Protocol

CATEGORIES = ("device", "uplink", "queue", "server", "downlink")
DEVICE, UPLINK, QUEUE, SERVER, DOWNLINK = range(5)
MODES = ("sd", "psd")


@dataclass(frozen=True)
class Timing:
    """Speeds of one task each, as scalars or arrays of shape (N,).

    Attributes:
        draft_s_per_token: t_d = draft FLOP/token / device FLOP/s (s).
        verify_s_per_position: t_v = target FLOP/token / (z * F^ES) (s); inf if z = 0.
        verify_s_per_call: fixed server time per verification call (s).
        uplink_bps: uplink rate y * r_ij (bit/s); inf = free; 0 = unusable.
        downlink_bps: downlink rate (bit/s).
        link_latency_s: one-way latency added to every message, up and down (s).
        queue_s: the server starts verifying this task's first block no earlier (s).
    """

    draft_s_per_token: Any
    verify_s_per_position: Any
    verify_s_per_call: Any = 0.0
    uplink_bps: Any = np.inf
    downlink_bps: Any = np.inf
    link_latency_s: Any = 0.0
    queue_s: Any = 0.0

    def arrays(self, n: int) -> dict[str, np.ndarray]:
        out = {}
        for name in self.__dataclass_fields__:
            v = np.asarray(getattr(self, name), dtype=float)
            try:
                out[name] = np.broadcast_to(v, (n,)).copy()
            except ValueError:
                raise UaraError(f"timing.{name}: shape {v.shape} does not match {n} tasks") from None
            if np.isnan(out[name]).any() or (out[name] < 0).any():
                raise UaraError(f"timing.{name}: expected values >= 0 (no NaN)")
        return out


@dataclass(frozen=True)
class Decoding:
    """How the task decodes (shared by all tasks of one call)."""

    mode: str = "psd"
    draft_length: int = 8
    pre_verify: bool = True
    adaptive: bool = False
    min_draft_length: int = 1
    max_draft_length: int = 64
    protocol: Protocol = field(default_factory=Protocol)
    vocab: int = 50257
    stream_uplink: bool = False
    atomic_passes: bool = False

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UaraError(f"decoding.mode: expected 'sd' or 'psd', got {self.mode!r}")
        if not 1 <= self.min_draft_length <= self.draft_length <= self.max_draft_length:
            raise UaraError(
                "decoding.draft_length: need 1 <= min_draft_length <= draft_length <= max_draft_length, got "
                f"{self.min_draft_length}, {self.draft_length}, {self.max_draft_length}"
            )
        if self.vocab < 2:
            raise UaraError(f"decoding.vocab: expected >= 2, got {self.vocab}")
        object.__setattr__(self, "protocol", Protocol.parse(self.protocol))

    @property
    def lookahead(self) -> int:
        """Blocks the phone may draft beyond the one in flight: 0 (SD) or 1 (PSD)."""
        return 1 if self.mode == "psd" else 0

    @property
    def max_block(self) -> int:
        return self.max_draft_length if self.adaptive else self.draft_length

    def block_size(self, index: np.ndarray, g: np.ndarray) -> np.ndarray:
        """Size of block ``index`` (1-based within its lineage) at draft length g."""
        if self.mode == "psd" and self.pre_verify:
            return np.where(index == 1, 1, np.where(index == 2, np.maximum(g - 1, 1), g))
        return g


@dataclass
class SimResult:
    """Per-task outcome, every array of shape (N,) (``critical_s``: (N, 5))."""

    latency_s: np.ndarray
    critical_s: np.ndarray
    device_busy_s: np.ndarray
    uplink_busy_s: np.ndarray
    server_busy_s: np.ndarray
    downlink_busy_s: np.ndarray
    rounds: np.ndarray
    tokens: np.ndarray
    drafted_tokens: np.ndarray
    accepted_tokens: np.ndarray
    verified_positions: np.ndarray
    uplink_bits: np.ndarray
    downlink_bits: np.ndarray
    finite: np.ndarray

    @property
    def device_idle_s(self) -> np.ndarray:
        return self.latency_s - self.device_busy_s

    @property
    def server_idle_s(self) -> np.ndarray:
        return self.latency_s - self.server_busy_s

    @property
    def network_s(self) -> np.ndarray:
        """Uplink + downlink on the critical path."""
        return self.critical_s[:, UPLINK] + self.critical_s[:, DOWNLINK]

    @property
    def tokens_per_round(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.tokens / self.rounds

    def breakdown(self) -> dict[str, np.ndarray]:
        """Named per-task arrays: critical-path parts, busy and idle times."""
        out = {f"critical_{c}_s": self.critical_s[:, k] for k, c in enumerate(CATEGORIES)}
        out.update(device_busy_s=self.device_busy_s, uplink_busy_s=self.uplink_busy_s,
                   server_busy_s=self.server_busy_s, downlink_busy_s=self.downlink_busy_s,
                   device_idle_s=self.device_idle_s, server_idle_s=self.server_idle_s)
        return out

    def summary(self) -> dict[str, float]:
        """Means over the tasks with finite latency (and the count of the others)."""
        f = self.finite
        out: dict[str, float] = {"tasks": float(f.size), "infinite": float((~f).sum())}
        if not f.any():
            return out
        out["latency_mean_s"] = float(self.latency_s[f].mean())
        out["latency_p95_s"] = float(np.percentile(self.latency_s[f], 95))
        for k, v in self.breakdown().items():
            out[k] = float(v[f].mean())
        for k in ("rounds", "tokens", "drafted_tokens", "accepted_tokens", "verified_positions",
                  "uplink_bits", "downlink_bits"):
            out[k] = float(getattr(self, k)[f].mean())
        out["tokens_per_round"] = float(self.tokens[f].sum() / self.rounds[f].sum())
        return out


def _mx(ta, ca, tb, cb):
    """max of two timed events with their critical-path attributions."""
    sel = tb > ta
    return np.where(sel, tb, ta), np.where(sel[:, None], cb, ca)


def _plus(t, c, d, cat):
    c = c.copy()
    c[:, cat] += d
    return t + d, c


def simulate(n_tokens: Any, match: np.ndarray, timing: Timing, decoding: Decoding,
             draft_lengths: Any = None) -> SimResult:
    """Simulate N tasks, all rounds of all tasks at once (vectorised over the unfinished tasks).

    Args:
        n_tokens: output tokens each task must produce, (N,) or scalar, >= 1.
        match: match traces (N, L) bool, L >= max(n_tokens) + max block + 1
            (:meth:`uara.psd.simulation.acceptance.Acceptance.sample`).
        timing: speeds (:class:`Timing`).
        decoding: mode, draft length, protocol (:class:`Decoding`).
        draft_lengths: (N,) each task's own (initial) draft length in 1..decoding.draft_length, or None
            (all ``decoding.draft_length``): tasks that differ only in it share one call.
    """
    match, n_tok = _check_inputs(n_tokens, match, decoding)
    n_all = match.shape[0]
    tm = timing.arrays(n_all)
    res = {k: np.zeros(n_all) for k in ("latency_s", "device_busy_s", "uplink_busy_s", "server_busy_s",
                                          "downlink_busy_s", "uplink_bits", "downlink_bits")}
    ires = {k: np.zeros(n_all, dtype=np.int64) for k in ("rounds", "tokens", "drafted_tokens",
                                                          "accepted_tokens", "verified_positions")}
    crit = np.zeros((n_all, len(CATEGORIES)))
    finite = (np.isfinite(tm["draft_s_per_token"]) & np.isfinite(tm["verify_s_per_position"])
              & np.isfinite(tm["verify_s_per_call"]) & (tm["uplink_bps"] > 0) & (tm["downlink_bps"] > 0)
              & np.isfinite(tm["link_latency_s"]) & np.isfinite(tm["queue_s"]))
    res["latency_s"][~finite] = np.inf
    crit[~finite] = np.nan
    rows = np.flatnonzero(finite)
    nf = next_mismatch(match[rows])
    st = _initial_state(rows, tm, n_tok, decoding, check_lengths(draft_lengths, n_all, decoding))
    with np.errstate(divide="ignore", invalid="ignore"):
        while st["row"].size:
            rejected = nf[st["loc"], st["a"]] < st["a"] + st["m"]  # this round's verdict (split's downlink needs it)
            ev = _round_timeline(st, decoding, rejected)
            out = _verdict(st, ev, nf, decoding)
            if out["waste"].any():
                _charge_waste(st, ev, out, decoding)
            done = out["p_new"] >= st["ntok"]
            if done.any():
                _record_finished(st, ev, out, done, res, ires, crit)
            _next_block(st, ev, out, decoding)
            if done.any():
                keep = ~done
                st = {k: v[keep] for k, v in st.items()}
    return SimResult(
        latency_s=res["latency_s"], critical_s=crit,
        device_busy_s=res["device_busy_s"], uplink_busy_s=res["uplink_busy_s"],
        server_busy_s=res["server_busy_s"], downlink_busy_s=res["downlink_busy_s"],
        rounds=ires["rounds"], tokens=ires["tokens"], drafted_tokens=ires["drafted_tokens"],
        accepted_tokens=ires["accepted_tokens"], verified_positions=ires["verified_positions"],
        uplink_bits=res["uplink_bits"], downlink_bits=res["downlink_bits"], finite=finite,
    )


def _check_inputs(n_tokens: Any, match: np.ndarray, decoding: Decoding) -> tuple[np.ndarray, np.ndarray]:
    """(match as a 2-D bool array, n_tokens per task); one-line errors for bad shapes or counts."""
    match = np.asarray(match, dtype=bool)
    if match.ndim != 2:
        raise UaraError(f"match: expected a 2-D (tasks, positions) array, got shape {match.shape}")
    n_tok = np.broadcast_to(np.asarray(n_tokens), (match.shape[0],)).astype(np.int64)
    if (n_tok < 1).any():
        raise UaraError("n_tokens: expected >= 1 for every task")
    need = int(n_tok.max(initial=1)) + decoding.max_block + 1
    if match.shape[1] < need:
        raise UaraError(f"match: traces have {match.shape[1]} positions, need >= {need}")
    return match, n_tok


def check_lengths(draft_lengths: Any, n: int, dec: Decoding) -> np.ndarray:
    """(n,) per-task draft lengths: ``draft_lengths`` checked against 1..dec.draft_length, or all dec.draft_length."""
    if draft_lengths is None:
        return np.full(n, dec.draft_length, dtype=np.int64)
    g = np.broadcast_to(np.asarray(draft_lengths), (n,)).astype(np.int64)
    if g.size and (g.min() < max(1, dec.min_draft_length) or g.max() > dec.draft_length):
        raise UaraError(f"draft_lengths: expected values in {dec.min_draft_length}..{dec.draft_length} "
                        "(decoding.draft_length is the longest)")
    return g


def _initial_state(rows: np.ndarray, tm: dict[str, np.ndarray], n_tok: np.ndarray, dec: Decoding,
                   lengths: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per unfinished task: its speeds, the resources' free times (each with its critical-path attribution
    over CATEGORIES) and the counters; every task starts its first block at t = 0, at its own draft length
    (``lengths``, (N,) over all tasks; default ``dec.draft_length``)."""
    n = rows.size
    z = np.zeros(n)
    zc = np.zeros((n, len(CATEGORIES)))
    g0 = np.full(n, dec.draft_length, dtype=np.int64) if lengths is None else lengths[rows].astype(np.int64)
    qc = zc.copy()
    qc[:, QUEUE] = tm["queue_s"][rows]
    return {
        "row": rows, "loc": np.arange(n), "ntok": n_tok[rows],
        "td": tm["draft_s_per_token"][rows], "tv": tm["verify_s_per_position"][rows],
        "tc": tm["verify_s_per_call"][rows], "rup": tm["uplink_bps"][rows],
        "rdn": tm["downlink_bps"][rows], "lat": tm["link_latency_s"][rows],
        "q": tm["queue_s"][rows], "qc": qc,
        "a": np.zeros(n, dtype=np.int64), "blk": np.ones(n, dtype=np.int64), "g": g0,
        "m": dec.block_size(np.ones(n, dtype=np.int64), g0),
        "ds": z.copy(), "dsc": zc.copy(),            # drafting start of the current block
        "uf": z.copy(), "ufc": zc.copy(),            # uplink free
        "vf": z.copy(), "vfc": zc.copy(),            # server free
        "nf_": z.copy(), "nfc": zc.copy(),           # downlink free
        "rp": z.copy(), "rpc": zc.copy(),            # verdict time of the previous block
        "dev": z.copy(), "upb": z.copy(), "srv": z.copy(), "dnb": z.copy(),
        "bu": z.copy(), "bd": z.copy(),
        "rounds": np.zeros(n, dtype=np.int64), "drafted": np.zeros(n, dtype=np.int64),
        "accepted": np.zeros(n, dtype=np.int64), "verified": np.zeros(n, dtype=np.int64),
    }


def _round_timeline(st: dict[str, np.ndarray], dec: Decoding, rejected: np.ndarray) -> dict[str, Any]:
    """One round of every unfinished task on a reserved share: :func:`uplink_leg`, then verify (FIFO, not
    before the queue delay: (m + 1) t_v + t_call), then :func:`downlink_leg`."""
    ev = uplink_leg(st, dec)
    vs, vsc = _mx(ev["arr"], ev["arrc"], st["vf"], st["vfc"])
    vs, vsc = _mx(vs, vsc, st["q"], st["qc"])
    work = (st["m"] + 1) * st["tv"] + st["tc"]
    ve, vec = _plus(vs, vsc, work, SERVER)
    return downlink_leg(st, dec, ev, ve, vec, work, rejected)


def uplink_leg(st: dict[str, np.ndarray], dec: Decoding) -> dict[str, Any]:
    """Draft m tokens (m t_d), then the uplink (FIFO, bits_up / r_up, then the one-way latency): the
    block's arrival at the server ``arr``, each event with its critical-path attribution. Charges the
    device and uplink busy times and the bits up."""
    proto, vocab = dec.protocol, dec.vocab
    m, td = st["m"], st["td"]
    de, dec_ = _plus(st["ds"], st["dsc"], m * td, DEVICE)
    bits_up = proto.up_bits(m, vocab)
    tx_up = bits_up / st["rup"]
    us, usc = _mx(de, dec_, st["uf"], st["ufc"])
    ue, uec = _plus(us, usc, tx_up, UPLINK)
    if dec.stream_uplink:
        # each token leaves as soon as it is drafted (FIFO link, tau = tx_up / m per token):
        # the last one is through at max(uf + m tau, de + tau, ds + t_d + m tau)
        tau = tx_up / m
        e1, e1c = _plus(de, dec_, tau, UPLINK)
        e2, e2c = _plus(*_plus(st["ds"], st["dsc"], td, DEVICE), tx_up, UPLINK)
        e3, e3c = _plus(st["uf"], st["ufc"], tx_up, UPLINK)
        ue, uec = _mx(*_mx(e1, e1c, e2, e2c), e3, e3c)
    arr, arrc = _plus(ue, uec, st["lat"], UPLINK)
    st["dev"] += m * td
    st["upb"] += tx_up
    st["bu"] += bits_up
    return {"de": de, "dec": dec_, "ue": ue, "uec": uec, "arr": arr, "arrc": arrc}


def downlink_leg(st: dict[str, np.ndarray], dec: Decoding, ev: dict[str, Any], ve: np.ndarray, vec: np.ndarray,
                 work: np.ndarray, rejected: np.ndarray) -> dict[str, Any]:
    """After the verification ends at ``ve`` (``work`` s of server time): the downlink (FIFO, bits_down /
    r_down, then the latency) to the verdict ``r``. Charges server and downlink busy times, bits down and
    the round counters; returns ``ev`` completed with ``ve``, ``dne`` and ``r``."""
    m = st["m"]
    bits_dn = dec.protocol.down_bits(m, dec.vocab, rejected)
    tx_dn = bits_dn / st["rdn"]
    dns, dnsc = _mx(ve, vec, st["nf_"], st["nfc"])
    dne, dnec = _plus(dns, dnsc, tx_dn, DOWNLINK)
    r, rc = _plus(dne, dnec, st["lat"], DOWNLINK)
    st["srv"] += work
    st["dnb"] += tx_dn
    st["bd"] += bits_dn
    st["rounds"] += 1
    st["drafted"] += m
    st["verified"] += m + 1
    return {**ev, "ve": ve, "vec": vec, "dne": dne, "dnec": dnec, "r": r, "rc": rc}


def _verdict(st: dict[str, np.ndarray], ev: dict[str, Any], nf: np.ndarray, dec: Decoding) -> dict[str, Any]:
    """The verdict of the round: the first mismatch f in [a, a + m) rejects (resume at f + 1), else the
    block is accepted (resume at a + m + 1); the adaptive draft length moves (-1 / +2); with look-ahead
    the next block started drafting at max(draft end, previous verdict) and is wasted if this one resets."""
    a, m, g = st["a"], st["m"], st["g"]
    b = a + m
    f = nf[st["loc"], a]
    rej = f < b
    g_new = np.where(rej, np.maximum(dec.min_draft_length, g - 1), np.minimum(dec.max_draft_length, g + 2)) \
        if dec.adaptive else g
    nxt_blk = st["blk"] + 1
    if dec.lookahead:
        m_next = dec.block_size(nxt_blk, g)  # fixed before this verdict is known
        ds1, ds1c = _mx(ev["de"], ev["dec"], st["rp"], st["rpc"])
        ahead = ds1 < ev["r"]
    else:
        m_next = dec.block_size(nxt_blk, g_new)
        ds1, ds1c = ev["r"], ev["rc"]
        ahead = np.zeros(ev["r"].shape, dtype=bool)
    reset = rej | (ahead & (f == b))
    st["accepted"] += np.minimum(f, b) - a
    return {"b": b, "g_new": g_new, "nxt_blk": nxt_blk, "m_next": m_next, "ds1": ds1, "ds1c": ds1c,
            "ahead": ahead, "reset": reset, "p_new": np.where(rej, f + 1, b + 1), "waste": reset & ahead}


def _charge_waste(st: dict[str, np.ndarray], ev: dict[str, Any], out: dict[str, Any], dec: Decoding) -> None:
    """Charge the work spent on the block drafted ahead when its lineage ends at this verdict: drafting
    until the verdict, and the fraction of its uplink that had left by then."""
    td, r, ds1, m_next, waste = st["td"], ev["r"], out["ds1"], out["m_next"], out["waste"]
    d_end1 = ds1 + m_next * td
    stop = np.minimum(r, d_end1)
    st["dev"] += np.where(waste, stop - ds1, 0.0)
    part = np.where(td > 0, np.floor((stop - ds1) / np.where(td > 0, td, 1.0) + 1e-9), m_next)
    st["drafted"] += np.where(waste, part, 0).astype(np.int64)
    b1 = dec.protocol.up_bits(m_next, dec.vocab)
    us1 = np.maximum(ds1 + td if dec.stream_uplink else d_end1, ev["ue"])
    frac = np.where(waste & (us1 < r), np.clip((r - us1) * st["rup"] / b1, 0.0, 1.0), 0.0)
    frac = np.minimum(frac, part / m_next)  # only drafted tokens can have left
    st["bu"] += frac * b1
    st["upb"] += frac * b1 / st["rup"]


def _record_finished(st: dict[str, np.ndarray], ev: dict[str, Any], out: dict[str, Any], done: np.ndarray,
                     res: dict[str, np.ndarray], ires: dict[str, np.ndarray], crit: np.ndarray) -> None:
    """Write the results of the tasks whose output is complete at this verdict."""
    idx = st["row"][done]
    res["latency_s"][idx] = ev["r"][done]
    crit[idx] = ev["rc"][done]
    ires["tokens"][idx] = out["p_new"][done]
    for k_out, k_st in (("device_busy_s", "dev"), ("uplink_busy_s", "upb"), ("server_busy_s", "srv"),
                        ("downlink_busy_s", "dnb"), ("uplink_bits", "bu"), ("downlink_bits", "bd")):
        res[k_out][idx] = st[k_st][done]
    for k_out, k_st in (("rounds", "rounds"), ("drafted_tokens", "drafted"),
                        ("accepted_tokens", "accepted"), ("verified_positions", "verified")):
        ires[k_out][idx] = st[k_st][done]


def restart_time(st: dict[str, np.ndarray], ev: dict[str, Any], out: dict[str, Any], dec: Decoding) -> np.ndarray:
    """When the phone starts the new lineage after a reset at the verdict r: at r, or, with ``atomic_passes``
    (a forward pass cannot be interrupted; measured in real runs, results/psd/validation), at the end of the
    look-ahead draft pass in progress at r: ds1 + ceil((r - ds1) / t_d) t_d."""
    r = ev["r"]
    if not dec.atomic_passes:
        return r
    td, ds1 = st["td"], out["ds1"]
    d_end1 = ds1 + out["m_next"] * td
    busy = out["reset"] & out["ahead"] & (r < d_end1) & (td > 0)
    k = np.ceil((r - ds1) / np.where(td > 0, td, 1.0) - 1e-9)
    return np.where(busy, np.minimum(ds1 + k * td, d_end1), r)


def _next_block(st: dict[str, np.ndarray], ev: dict[str, Any], out: dict[str, Any], dec: Decoding) -> None:
    """Continue the lineage (the block drafted ahead, or the next after the verdict) or start a new one at the
    verdict (or, with atomic passes, when the draft pass in progress ends: :func:`restart_time`)."""
    reset, ahead, b, g_new = out["reset"], out["ahead"], out["b"], out["g_new"]
    r, rc = ev["r"], ev["rc"]
    start = restart_time(st, ev, out, dec)
    start_c = rc.copy()
    start_c[:, DEVICE] += start - r
    rs = reset[:, None]
    st["a"] = np.where(reset, out["p_new"], np.where(ahead, b, b + 1))
    st["blk"] = np.where(reset, 1, out["nxt_blk"])
    st["g"] = g_new
    st["m"] = np.where(reset, dec.block_size(np.ones_like(g_new), g_new), out["m_next"])
    st["ds"], st["dsc"] = np.where(reset, start, out["ds1"]), np.where(rs, start_c, out["ds1c"])
    st["uf"], st["ufc"] = np.where(reset, r, ev["ue"]), np.where(rs, rc, ev["uec"])
    st["vf"], st["vfc"] = ev["ve"], ev["vec"]
    st["nf_"], st["nfc"] = ev["dne"], ev["dnec"]
    st["rp"], st["rpc"] = r, rc


def psd_latency_alpha1(n_tokens: int, draft_length: int, draft_s_per_token: float,
                       verify_s_per_position: float, *, pre_verify: bool = True,
                       verify_s_per_call: float = 0.0) -> float:
    """Closed-form PSD latency when every draft is accepted and the network is free.

    Blocks after the start have sizes 1, g-1, g, g, ... (pre-verify) or g, g, ...;
    block k ends at position b_k and, being fully accepted with the draft past
    it confirmed by the bonus token, commits b_k + 1 tokens. The phone drafts
    without pause, so block k is drafted at b_k * t_d and its verdict comes
    (m_k + 1) t_v + t_call later. The task ends with the first block with
    b_k + 1 >= n:  T = b_K t_d + (m_K + 1) t_v + t_call.
    Valid when verification keeps pace with drafting, (g+1) t_v + t_call <= g t_d
    (and 2 t_v + t_call <= (g - 1) t_d with pre-verify); this is also a lower
    bound on the latency of any schedule that drafts every position.
    """
    g = int(draft_length)
    sizes = [1, max(g - 1, 1)] if pre_verify else []
    b = 0
    k = 0
    while True:
        m = sizes[k] if k < len(sizes) else g
        b += m
        k += 1
        if b + 1 >= n_tokens:
            return b * draft_s_per_token + (m + 1) * verify_s_per_position + verify_s_per_call
