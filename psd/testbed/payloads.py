"""The real bytes each payload protocol sends (``uara.psd.simulation.protocols`` counts their bits).

Built from the models' actual logits: token ids as unsigned 16-bit integers (32-bit above a 65536
vocabulary), probabilities quantised to the protocol's ``prob_bits`` (16 = fp16, 8 = uint8 levels,
4 = packed nibbles), top-K as (probability, id) pairs. Up: one message per draft block; down: the
accepted count and the correction/bonus token, plus the target's distribution on a rejection
(``split``) or for every position (``pearl``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from uara.psd.simulation.protocols import Protocol


def _ids(ids: Any, vocab: int) -> bytes:
    return np.asarray(ids, dtype=np.uint16 if vocab <= 65536 else np.uint32).tobytes()


def _probs(p: np.ndarray, bits: int) -> bytes:
    """Probabilities (rows sum to 1) at ``bits`` per value."""
    if bits >= 16:
        return p.astype(np.float16).tobytes()
    levels = (1 << bits) - 1
    q = np.clip(np.rint(p * levels), 0, levels).astype(np.uint8)
    if bits == 8:
        return q.tobytes()
    if bits == 4:
        flat = q.reshape(-1)
        if flat.size % 2:
            flat = np.concatenate([flat, np.zeros(1, np.uint8)])
        return (flat[0::2] | (flat[1::2] << 4)).astype(np.uint8).tobytes()
    return np.packbits(np.unpackbits(q[..., None], axis=-1)[..., 8 - bits:]).tobytes()


def softmax(logits: Any) -> np.ndarray:
    """Rows of a (n, V) torch or numpy array as probabilities (float32)."""
    x = logits.detach().float().numpy() if hasattr(logits, "detach") else np.asarray(logits, np.float32)
    x = x - x.max(axis=-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def up_payload(proto: Protocol, ids: list[int], draft_probs: np.ndarray | None, vocab: int) -> bytes:
    """The uplink payload of one block: ``draft_probs`` (m, V) for the protocols that carry q."""
    out = [_ids(ids, vocab)]
    if proto.name == "topk":
        k = min(int(proto.k or 1), vocab)
        idx = np.argpartition(-draft_probs, k - 1, axis=-1)[:, :k]
        vals = np.take_along_axis(draft_probs, idx, axis=-1)
        out += [_probs(vals, proto.prob_bits), _ids(idx, vocab)]
    elif proto.name == "full":
        out.append(_probs(draft_probs, proto.prob_bits))
    elif proto.name == "split":
        out.append(_probs(draft_probs[np.arange(len(ids)), ids], proto.prob_bits))
    elif proto.name == "pearl":
        rows = np.concatenate([draft_probs, draft_probs[-1:]], axis=0)  # m + 1 distributions
        out.append(_probs(rows, proto.prob_bits))
    return b"".join(out)


def down_payload(proto: Protocol, k: int, token: int, target_probs: np.ndarray | None, rejected: bool,
                 vocab: int) -> bytes:
    """The downlink payload of one verdict: count and token, and q of the target where the protocol sends it."""
    out = [bytes([min(k, 255)]), _ids([token], vocab)]
    if proto.name == "split" and rejected:
        out.append(_probs(target_probs[k], proto.prob_bits))
    elif proto.name == "pearl":
        out = [_probs(target_probs, proto.prob_bits)]
    return b"".join(out)


def needs_draft_probs(proto: Protocol) -> bool:
    return proto.name in ("topk", "full", "split", "pearl")


def needs_target_probs(proto: Protocol) -> bool:
    return proto.name in ("split", "pearl")
