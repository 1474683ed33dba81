"""FLOPs per generated token from a decoder-only transformer's configuration.

    flops(ctx) = 2 * N_ne + 2 * d * V + 4 * L * ctx * d

N_ne: parameters outside the token/position embeddings and output head
(each weight is one multiply-add per token); 2 d V: the output head; 4 L ctx d:
attention scores and weighted sum over a context of ``ctx`` tokens (Kaplan et
al. 2020, "Scaling laws", Table 1, forward pass). GPT2 at ctx 512: 0.27
GFLOP; GPT2-XL: 3.27 GFLOP. Decoding is memory-bound, so the *effective*
device/server FLOP/s of the catalog (not peak) turn these into seconds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

import numpy as np

from uara.errors import UaraError


@dataclass(frozen=True)
class ModelShape:
    """What the FLOP model needs to know of a model."""

    name: str
    n_layers: int
    d_model: int
    vocab: int
    n_non_embedding: int
    n_params: int | None = None

    def flops_per_token(self, ctx: Any) -> np.ndarray:
        """FLOP per generated (or verified) token at context length ``ctx`` (array ok)."""
        ctx = np.asarray(ctx, dtype=float)
        return 2.0 * self.n_non_embedding + 2.0 * self.d_model * self.vocab + 4.0 * self.n_layers * ctx * self.d_model

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "model") -> "ModelShape":
        if not isinstance(d, Mapping):
            raise UaraError(f"{where}: expected an object")
        out = {}
        for k in ("name", "n_layers", "d_model", "vocab", "n_non_embedding"):
            if k not in d:
                raise UaraError(f"{where}.{k}: missing")
            out[k] = d[k]
        if not isinstance(out["name"], str):
            raise UaraError(f"{where}.name: expected a string")
        for k in ("n_layers", "d_model", "vocab", "n_non_embedding"):
            v = out[k]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v != int(v) or v < 1:
                raise UaraError(f"{where}.{k}: expected a positive integer, got {v!r}")
            out[k] = int(v)
        if d.get("n_params") is not None:
            out["n_params"] = int(d["n_params"])
        return cls(**out)


#: Published configurations (Radford et al. 2019; Hugging Face model cards). N_ne =
#: total - token embedding (V d) - position embedding (1024 d); the head is tied.
GPT2 = ModelShape("gpt2", 12, 768, 50257, 124_439_808 - 50257 * 768 - 1024 * 768, 124_439_808)
GPT2_XL = ModelShape("gpt2-xl", 48, 1600, 50257, 1_557_611_200 - 50257 * 1600 - 1024 * 1600, 1_557_611_200)
KNOWN = {m.name: m for m in (GPT2, GPT2_XL)}
