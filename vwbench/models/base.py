"""What the three task adapters share: prompt ids with placeholder positions, new-word injection at the
token-embedding layer, the frozen vocabulary, per-trial batch sampling and the feature cache.

New words never grow the vocabulary (PROTOCOL.md 14.2): the prompt is tokenized with an existing single token
(the anchor) at the placeholder position, and a forward hook on the text tower's `nn.Embedding` replaces the
embedding at that position by the trainable vector. Token ids are untouched, so end-of-text pooling is too.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch

from vwbench.data.types import ConceptDataset
from vwbench.errors import VWBenchError
from vwbench.spec import TaskSpec


@dataclass
class Prompt:
    """Token ids [N, L] and the placeholder mask [N, L] (num_vectors True entries per row)."""

    ids: torch.Tensor
    mask: torch.Tensor


@contextlib.contextmanager
def injected(embedding: torch.nn.Embedding, mask: torch.Tensor, vectors: torch.Tensor):
    """Within the block, `embedding(ids)` returns `vectors` [N, n, d] at the True positions of `mask` [N, L]."""

    def hook(module, args, out):
        if out.shape[:2] != mask.shape:
            raise RuntimeError(f"injection mask {tuple(mask.shape)} does not match token ids {tuple(out.shape[:2])}")
        out = out.clone()
        out[mask.to(out.device)] = vectors.reshape(-1, out.shape[-1]).to(out.dtype)
        return out

    handle = embedding.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def pooled(out) -> torch.Tensor:
    """The features of a `get_*_features` call: a tensor, or (transformers 5.x) a ModelOutput's pooler_output."""
    return out if isinstance(out, torch.Tensor) else out.pooler_output


def chunked(fn, n: int, size: int):
    """`fn(slice)` over consecutive slices of `n` items, at most `size` each (how the frozen towers evaluate many
    images or prompts): tensors are concatenated, lists chained."""
    outs = [fn(slice(i, i + size)) for i in range(0, n, size)]
    if outs and isinstance(outs[0], torch.Tensor):
        return torch.cat(outs)
    return [x for out in outs for x in out]


def sample_indices(n: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """`size` indices into `n` items: a random subset, or draws with repetition when there are fewer than `size`."""
    if n >= size:
        return torch.randperm(n, generator=generator)[:size]
    return torch.randint(0, n, (size,), generator=generator)


class TaskModel(ABC):
    """One frozen task model behind a uniform interface (DESIGN.md). The kind's subclass sets `task` and implements
    `prepare`, `loss` and `outputs`; the model family (`loaded.impl`, vwbench/models/families/) gives the text
    tower and the tokenizer; everything about prompts, injection and metrics is shared."""

    task: str = ""
    # The text tower is causal and its output is pooled at the end token, so prompts can stop at the longest
    # row's end instead of padding to the full context (same features, far less work). Not for generation:
    # the UNet attends to every position.
    trim_prompts: bool = False

    def __init__(self, spec: TaskSpec, loaded, device: torch.device):
        from vwbench.metrics import check_task

        check_task(spec)
        self.spec, self.loaded, self.device = spec, loaded, torch.device(device)
        self.model = loaded.model
        self.family = loaded.impl
        self.tokenizer = self.family.tokenizer()
        self.dtype = next(iter(self.text_embedding().parameters())).dtype
        self._cache: dict[str, dict] = {}

    # ---- text tower -------------------------------------------------------------------------------------

    @classmethod
    def build(cls, spec: TaskSpec, loaded, device: torch.device, load=None) -> TaskModel:
        """The adapter of a loaded model; a kind that needs more models (an evaluator) loads them with `load`
        (zoo.load's signature)."""
        return cls(spec, loaded, device)

    def text_embedding(self) -> torch.nn.Embedding:
        """The text tower's token-embedding layer."""
        return self.family.text_embedding(self.model)

    @property
    def context_length(self) -> int:
        return self.family.context_length(self.model)

    pad_id: int = 0

    @abstractmethod
    def text_features(self, ids: torch.Tensor) -> torch.Tensor:
        """The text tower's output for token ids (features or hidden states, as the task consumes them)."""

    def token_embeddings(self) -> torch.Tensor:
        """The frozen input embedding table [V, d] (float32 copy on CPU)."""
        return self.text_embedding().weight.detach().float().cpu()

    def untrained_ids(self) -> list[int]:
        """Token ids the model never learned (none for hub models; the micro-world marks its own)."""
        trained = getattr(self.loaded, "trained_ids", None)
        if trained is None:
            return []
        keep = set(trained)
        return [i for i in range(self.text_embedding().num_embeddings) if i not in keep]

    def vocabulary(self):
        """This model's input-embedding space: token strings, table, and a mask of usable tokens."""
        from vwbench.models.space import EmbeddingSpace

        table = self.token_embeddings()
        usable = torch.ones(table.shape[0], dtype=torch.bool)
        tok = self.tokenizer
        usable[[tok.bos_id, tok.eos_id, *self.untrained_ids()]] = False
        return EmbeddingSpace(name=self.spec.name, tokens=tok.strings()[: table.shape[0]], table=table, usable=usable)

    def prompts(self, placeholder_ids: list[int], num_vectors: int = 1, template: str | None = None) -> Prompt:
        """Prompt ids for the template with `num_vectors` placeholder tokens in the `{}` slot, one row per id."""
        template = self.spec.template if template is None else template
        prefix, _, suffix = template.partition("{}")
        tok = self.tokenizer
        pre = tok.pieces(prefix.strip()) if prefix.strip() else []
        post = tok.pieces(suffix.strip()) if suffix.strip() else []
        length = 2 + len(pre) + num_vectors + len(post)
        if length > self.context_length:
            raise VWBenchError(f"{self.spec.name}: template {template!r} is too long for {self.context_length} tokens")
        width = length if self.trim_prompts else self.context_length
        ids = torch.full((len(placeholder_ids), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids, dtype=torch.bool)
        for i, pid in enumerate(placeholder_ids):
            row = [tok.bos_id, *pre, *([pid] * num_vectors), *post, tok.eos_id]
            ids[i, : len(row)] = torch.tensor(row)
            mask[i, 1 + len(pre) : 1 + len(pre) + num_vectors] = True
        return Prompt(ids.to(self.device), mask.to(self.device))

    def encode_with_vectors(self, vectors: torch.Tensor, placeholder_ids: list[int], template: str | None = None):
        """Text-tower output of the template with `vectors` [K, n, d] injected at the placeholder."""
        prompt = self.prompts(placeholder_ids, vectors.shape[1], template)
        with injected(self.text_embedding(), prompt.mask, vectors):
            return self.text_features(prompt.ids)

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        return self.text_features(self.tokenizer.encode(texts, self.context_length, self.pad_id).to(self.device))

    # ---- data -------------------------------------------------------------------------------------------

    def prepare(self, data: ConceptDataset, fresh: bool = False) -> None:
        """Compute the frozen per-image work (features, latents, regions) once per dataset (`fresh`: again, as
        the speed benchmark does to time it)."""
        if fresh or data.name not in self._cache:
            with torch.no_grad():
                self._cache[data.name] = self._prepare(data)

    def cache(self, data_name: str) -> dict:
        if data_name not in self._cache:
            raise VWBenchError(f"{self.spec.name}: call prepare() on dataset {data_name!r} first")
        return self._cache[data_name]

    @abstractmethod
    def _prepare(self, data: ConceptDataset) -> dict: ...

    @abstractmethod
    def loss(
        self,
        vectors: torch.Tensor,
        placeholder_ids: list[int],
        concepts: list[str],
        data_name: str,
        generators: list[torch.Generator],
        batch_size: int,
    ) -> torch.Tensor:
        """Per-trial training losses [K] for vectors [K, n, d]; trial k draws its batch from generators[k] only."""

    # ---- micro-batches ------------------------------------------------------------------------------------
    # One training step is `draw` (every random choice of every trial, from its own generator) followed by the
    # loss of its rows. A row is one unit of the expensive forward: for generation one (word, image) pair (a
    # UNet pass), for detection and classification one word (a text-tower pass; their image batch reduces to
    # cached mean features). Rows of trial k are contiguous, k * rows_per_trial onwards, and its loss is the sum
    # of its rows' `row_losses`, so any split of the rows into micro-batches gives the same gradient.

    def rows_per_trial(self, batch_size: int) -> int:
        return 1

    @abstractmethod
    def draw(self, concepts: list[str], data_name: str, generators: list[torch.Generator], batch_size: int) -> dict:
        """Everything random in one step's losses (the same draws `loss` makes), per row."""

    @abstractmethod
    def row_losses(
        self, vectors: torch.Tensor, placeholder_ids: list[int], drawn: dict, rows: torch.Tensor
    ) -> torch.Tensor:
        """Each row's share [len(rows)] of its trial's loss, for the rows given (indices into the step's rows)."""

    def set_gradient_checkpointing(self, enabled: bool) -> None:
        """Recompute the towers' activations in the backward pass instead of keeping them (no-op by default)."""

    @property
    def metric_name(self) -> str:
        """The headline metric the task spec names (`metric.name`)."""
        return self.spec.metric["name"]

    @abstractmethod
    def outputs(
        self, vectors: torch.Tensor, placeholder_ids: list[int], concepts: list[str], data: ConceptDataset
    ) -> list[tuple[dict, dict]]:
        """Per word: what its metrics are computed from (vwbench/metrics/<task>.py names the keys) and facts stored
        with its score as they are (image counts)."""

    @torch.no_grad()
    def evaluate(
        self, vectors: torch.Tensor, placeholder_ids: list[int], concepts: list[str], data: ConceptDataset
    ) -> list[dict]:
        """The metrics the task spec names for each of K words and its concept: [{'value': float, 'extra': {...}}]."""
        from vwbench.metrics import score

        return [score(self.spec, out, info) for out, info in self.outputs(vectors, placeholder_ids, concepts, data)]
