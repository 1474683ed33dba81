"""Real batched verification: one forward pass of the target over the blocks of several clients.

Each client (a sequence) keeps its own KV cache, per layer a (1, kv heads, n, head dim) pair of
tensors for the tokens ``tokens`` it was computed on. A pass over requests (client, seq, start) --
next-token logits wanted for positions start .. len(seq) - 1 -- does, per request, keep the longest
cached prefix c of ``seq`` (c <= start) and queue the rest ``seq[c:]``; then one forward over the batch:

- caches left-padded to the longest c (L), queries right-padded to the longest (Q);
- ``attention_mask`` (B, L + Q): 1 on a request's cached positions and its real queries, 0 on padding;
- ``position_ids`` (B, Q): c_i, c_i + 1, ... (padding past the end attends only to what precedes it,
  and its outputs are never read).

Afterwards each client's cache is its slice [L - c_i, L + q_i) of the batch's cache: exactly the KV of
``seq``. Greedy verdicts come from these logits, so the output is the target's greedy output whatever the
batch (checked against the unbatched reference: every run's ``lossless``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence


@dataclass
class SequenceCache:
    """One client's cached tokens and, per layer, its K and V tensors."""

    tokens: list[int] = field(default_factory=list)
    keys: list[Any] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)

    def keep(self, n: int) -> None:
        """Keep the KV of the first n tokens."""
        if n < len(self.tokens):
            self.tokens = self.tokens[:n]
            self.keys = [k[:, :, :n] for k in self.keys]
            self.values = [v[:, :, :n] for v in self.values]


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class BatchedTarget:
    """The target model with one :class:`SequenceCache` per client (module docstring)."""

    def __init__(self, model: Any):
        import torch
        from transformers import DynamicCache

        self.torch, self.DynamicCache = torch, DynamicCache
        self.model = model
        self.layers = int(model.config.num_hidden_layers)
        self.caches: dict[int, SequenceCache] = {}

    def reset(self, client: int) -> None:
        self.caches[client] = SequenceCache()

    def logits(self, requests: Sequence[tuple[int, list[int], int]]) -> list[Any]:
        """Per request (client, seq, start): the logits rows of positions start .. len(seq) - 1, one pass."""
        torch = self.torch
        plan = []
        for client, seq, start in requests:
            cache = self.caches.setdefault(client, SequenceCache())
            c = min(_common_prefix(cache.tokens, seq), start, len(seq) - 1)
            cache.keep(c)
            plan.append((cache, seq, start, c))
        width = max(c for _, _, _, c in plan)
        q_max = max(len(seq) - c for _, seq, _, c in plan)
        n = len(plan)
        ids = torch.zeros((n, q_max), dtype=torch.long)
        mask = torch.zeros((n, width + q_max), dtype=torch.long)
        pos = torch.zeros((n, q_max), dtype=torch.long)
        for i, (_, seq, _, c) in enumerate(plan):
            q = len(seq) - c
            ids[i, :q] = torch.tensor(seq[c:], dtype=torch.long)
            mask[i, width - c:width + q] = 1
            pos[i] = torch.arange(c, c + q_max)
        batch_cache = self._batch_cache(plan, width) if width > 0 else self.DynamicCache()
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=pos, past_key_values=batch_cache,
                         use_cache=True)
        rows = []
        for i, (cache, seq, start, c) in enumerate(plan):
            q = len(seq) - c
            rows.append(out.logits[i, start - c:q].float().numpy())
            layers = out.past_key_values.layers
            cache.keys = [layers[l].keys[i:i + 1, :, width - c:width + q] for l in range(self.layers)]
            cache.values = [layers[l].values[i:i + 1, :, width - c:width + q] for l in range(self.layers)]
            cache.tokens = list(seq)
        return rows

    def _batch_cache(self, plan: Sequence[tuple[SequenceCache, list[int], int, int]], width: int) -> Any:
        """The clients' caches left-padded to ``width`` positions and stacked, as one DynamicCache."""
        torch = self.torch
        cache = self.DynamicCache()
        ref = next(p[0] for p in plan if p[3] > 0)
        for layer in range(self.layers):
            shape = ref.keys[layer].shape
            keys = torch.zeros((len(plan), shape[1], width, shape[3]), dtype=ref.keys[layer].dtype)
            values = torch.zeros_like(keys)
            for i, (seq_cache, _, _, c) in enumerate(plan):
                if c:
                    keys[i, :, width - c:] = seq_cache.keys[layer][0, :, :c]
                    values[i, :, width - c:] = seq_cache.values[layer][0, :, :c]
            cache.update(keys, values, layer)
        return cache
