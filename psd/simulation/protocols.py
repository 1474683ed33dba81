"""What crosses the air per verification round: one payload model per protocol.

A round ships a block of ``m`` draft tokens up and the verdict down. With
vocabulary size V, a token id costs ``ceil(log2 V)`` bits and a probability
``prob_bits`` bits (16 = fp16; fewer = quantised):

==========  ===========================================  ==============================================
protocol    uplink bits per block of m tokens            downlink bits per block
==========  ===========================================  ==============================================
``ids``     m * id                                       count + id
``full``    m * (id + V * prob_bits)                     count + id
``topk``    m * (id + K * (prob_bits + id))              count + id
``split``   m * (id + prob_bits)                         count + id + [a rejection] * dist
``pearl``   m * id + (m + 1) * V * prob_bits             (m + 1) * V * prob_bits
``bits``    m * K (a given number of bits per token)     count + id
==========  ===========================================  ==============================================

``count = ceil(log2(m + 2))`` bits carry the accepted count (0..m) and ``id``
the target's correction (or bonus) token. ``split`` is DSSD (Ning et al.
2025): the device sends its m draft ids with the draft's probability of each
(one scalar per token), the server verifies and returns one target
distribution (``dist = V * prob_bits``, or ``K * (prob_bits + id)`` with a K)
only when it rejects a token, for the device to resample the correction; an
all-accepted round returns the count and the bonus token. ``pearl`` is what
PEARL's reference code exchanges (smart-lty/ParallelSpeculativeDecoding): it
all-gathers the full distributions of the (gamma + 1) positions of a round in
both directions (bf16: ``prob_bits`` = 16), the draft ids going up beside
them. ``ids`` is the seed paper's choice (greedy / target-side regeneration
needs no q); ``full`` is conventional distributed SD's uplink; ``topk`` is
TK-SLT (Zheng & Yang 2025). Every message also carries ``header_bits``
(default 0; e.g. 320 = 40 bytes of IPv4 + UDP + a 12-byte application
header per message).

Specs (:meth:`Protocol.parse`): ``name[:K][@prob_bits][+hHEADER_BITS]``:
``ids``, ``ids+h320``, ``full``, ``full@4`` (4-bit probabilities),
``topk:64``, ``topk:64@8``, ``split``, ``split:64``, ``pearl``,
``bits:2064`` (any fixed payload per token, e.g. the d_i / D of a task that
carries no protocol).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from uara.errors import UaraError

PROTOCOLS = ("ids", "full", "topk", "split", "pearl", "bits")


@dataclass(frozen=True)
class Protocol:
    """A payload model; see the module docstring for the bit counts."""

    name: str = "ids"
    k: int | None = None
    prob_bits: int = 16
    header_bits: int = 0

    def __post_init__(self) -> None:
        if self.name not in PROTOCOLS:
            raise UaraError(f"protocol: unknown name {self.name!r} (one of {', '.join(PROTOCOLS)})")
        if self.name in ("topk", "bits") and self.k is None:
            raise UaraError(f"protocol: {self.name} needs K (e.g. '{self.name}:64')")
        if self.name in ("ids", "full", "pearl") and self.k is not None:
            raise UaraError(f"protocol: {self.name} takes no K")
        if self.k is not None and self.k < 1:
            raise UaraError(f"protocol.k: expected >= 1, got {self.k}")
        if not 1 <= self.prob_bits <= 64:
            raise UaraError(f"protocol.prob_bits: expected 1..64, got {self.prob_bits}")
        if self.header_bits < 0:
            raise UaraError(f"protocol.header_bits: expected >= 0, got {self.header_bits}")

    @classmethod
    def parse(cls, spec: "str | Protocol") -> "Protocol":
        """``name[:K][@prob_bits][+hHEADER_BITS]`` -> Protocol."""
        if isinstance(spec, Protocol):
            return spec
        s = str(spec).strip()
        s, header = _split_int(s, "+h", spec, "header bits")
        s, bits = _split_int(s, "@", spec, "bit width")
        s, k = _split_int(s, ":", spec, "K")
        return cls(s, k, 16 if bits is None else bits, header or 0)

    @property
    def spec(self) -> str:
        s = self.name + (f":{self.k}" if self.k is not None else "")
        s += f"@{self.prob_bits}" if self.prob_bits != 16 and self.name != "ids" else ""
        return s + (f"+h{self.header_bits}" if self.header_bits else "")

    @staticmethod
    def id_bits(vocab: int) -> int:
        if vocab < 2:
            raise UaraError(f"vocab: expected >= 2, got {vocab}")
        return int(math.ceil(math.log2(vocab)))

    def dist_bits(self, vocab: int) -> int:
        """Bits of one (possibly top-K) distribution."""
        if self.k is not None:
            return min(self.k, vocab) * (self.prob_bits + self.id_bits(vocab))
        return vocab * self.prob_bits

    def token_bits(self, vocab: int) -> int:
        """Uplink bits per draft token (the slope of :meth:`up_bits`)."""
        idb = self.id_bits(vocab)
        if self.name == "bits":
            return int(self.k)  # type: ignore[arg-type]
        if self.name in ("ids", "pearl"):
            return idb
        if self.name == "split":
            return idb + self.prob_bits
        return idb + self.dist_bits(vocab)

    def up_bits(self, m: np.ndarray | int, vocab: int) -> np.ndarray:
        """Uplink bits of blocks of ``m`` draft tokens (array in, array out)."""
        m = np.asarray(m, dtype=float)
        out = self.header_bits + m * self.token_bits(vocab)
        if self.name == "pearl":
            out = out + (m + 1.0) * vocab * self.prob_bits
        return out

    def down_bits(self, m: np.ndarray | int, vocab: int, rejected: np.ndarray | bool = True) -> np.ndarray:
        """Downlink bits of the verdicts on blocks of ``m`` tokens; ``rejected`` (per block) says whether the
        round rejected a token, which only ``split`` depends on (default: a rejection, the larger message)."""
        m = np.asarray(m, dtype=float)
        if self.name == "pearl":
            return self.header_bits + (m + 1.0) * vocab * self.prob_bits
        out = self.header_bits + np.ceil(np.log2(m + 2.0)) + self.id_bits(vocab)
        if self.name == "split":
            out = out + np.asarray(rejected, dtype=float) * self.dist_bits(vocab)
        return out


def _split_int(text: str, sep: str, spec: Any, what: str) -> tuple[str, int | None]:
    """``"name<sep>N"`` -> ("name", N); no ``sep`` -> (text, None); a non-integer N is a one-line error."""
    if sep not in text:
        return text, None
    head, tail = text.split(sep, 1)
    try:
        return head, int(tail)
    except ValueError:
        raise UaraError(f"protocol: bad {what} in {spec!r}") from None
