"""Embedding spaces (a model's input token table) and the vocabulary two spaces share (PROTOCOL.md 14.1)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from vwbench.errors import VWBenchError

_CHUNK = 64  # query rows per distance block: a [chunk, V] block of a 49k vocabulary (12 MB) stays in cache


@dataclass
class EmbeddingSpace:
    """One model's input embedding table with its token strings.

    `usable[i]` is False for tokens that take part in nothing: special tokens (start/end of text, padding)
    and tokens the model marks as untrained. They never pair, never count as a nearest word and never
    define a nearest-neighbour distance.
    """

    name: str
    tokens: list[str]
    table: torch.Tensor  # [V, d] floating
    usable: torch.Tensor  # [V] bool

    def __post_init__(self):
        if not isinstance(self.table, torch.Tensor) or self.table.ndim != 2 or not self.table.is_floating_point():
            raise VWBenchError(f"embedding space {self.name!r}: table must be a floating [V, d] tensor")
        v = self.table.shape[0]
        if len(self.tokens) != v:
            raise VWBenchError(f"embedding space {self.name!r}: {len(self.tokens)} tokens for a table of {v} rows")
        if not isinstance(self.usable, torch.Tensor) or self.usable.dtype != torch.bool or self.usable.shape != (v,):
            raise VWBenchError(f"embedding space {self.name!r}: usable must be a bool tensor of shape [{v}]")

    @classmethod
    def from_table(
        cls, name: str, tokens: Sequence[str], table: torch.Tensor, exclude: Sequence[int] = ()
    ) -> EmbeddingSpace:
        """A space whose tokens are all usable except the ids in `exclude` (special or untrained tokens)."""
        usable = torch.ones(len(tokens), dtype=torch.bool)
        if len(exclude):
            usable[torch.as_tensor(list(exclude), dtype=torch.long)] = False
        return cls(name, list(tokens), table.detach(), usable)

    @property
    def width(self) -> int:
        return self.table.shape[1]

    def restricted(self, keep: torch.Tensor) -> EmbeddingSpace:
        """The same space with only the token ids in `keep` (LongTensor) left usable."""
        mask = torch.zeros_like(self.usable)
        mask[keep] = True
        return EmbeddingSpace(self.name, self.tokens, self.table, self.usable & mask)

    def index(self, token: str) -> int:
        """The id of a usable token string (first occurrence)."""
        for i, t in enumerate(self.tokens):
            if t == token and bool(self.usable[i]):
                return i
        raise VWBenchError(f"embedding space {self.name!r}: no usable token {token!r}")


def shared_pairs(source: EmbeddingSpace, target: EmbeddingSpace) -> tuple[torch.Tensor, torch.Tensor]:
    """Ids of the tokens whose strings are identical in both spaces and usable in both, in source-id order.

    Strings are compared exactly, `</w>` suffix included. Returns (src_idx, tgt_idx), two LongTensors of
    equal length; row i pairs source token src_idx[i] with target token tgt_idx[i].
    """
    if source.tokens == target.tokens and len(set(source.tokens)) == len(source.tokens):
        # one shared vocabulary of distinct strings (every model of a suite uses the CLIP tokenizer): the pairs
        # are the ids usable in both, as the general loop below finds them, in a vectorized pass
        both = torch.nonzero(source.usable & target.usable).squeeze(1)
        return both, both.clone()
    tgt_usable = target.usable.tolist()
    where: dict[str, int] = {}
    for j, tok in enumerate(target.tokens):
        if tgt_usable[j] and tok not in where:
            where[tok] = j
    src, tgt, seen = [], [], set()
    for i, (tok, ok) in enumerate(zip(source.tokens, source.usable.tolist())):
        if ok and tok in where and tok not in seen:
            seen.add(tok)
            src.append(i)
            tgt.append(where[tok])
    return torch.tensor(src, dtype=torch.long), torch.tensor(tgt, dtype=torch.long)


def nearest_rows(rows: torch.Tensor, vectors: torch.Tensor, k: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """The k rows of `rows` [N, d] nearest in l2 to each of `vectors` [K, d]: (indices [K, k], distances [K, k]).

    Candidates come from the fast ‖r‖² − 2 v·r expansion in float32; their distances are then recomputed
    exactly in float64, so reported distances do not suffer the expansion's cancellation.
    """
    if vectors.ndim != 2 or vectors.shape[1] != rows.shape[1]:
        raise VWBenchError(f"nearest rows: vectors of shape {tuple(vectors.shape)} for rows of width {rows.shape[1]}")
    k = min(k, rows.shape[0])
    pool = min(rows.shape[0], k + 8)  # a few spare candidates absorb float32 near-ties
    r32 = rows.float()
    sq = (r32 * r32).sum(1)
    idx_out, dist_out = [], []
    for start in range(0, vectors.shape[0], _CHUNK):
        q = vectors[start : start + _CHUNK]
        approx = torch.addmm(sq, q.float(), r32.T, alpha=-2.0)  # ‖r‖² − 2 q·r in one BLAS call, no temporaries
        cand = approx.topk(pool, dim=1, largest=False).indices  # [c, pool]
        exact = (rows[cand].double() - q.double()[:, None, :]).norm(dim=2)  # [c, pool]
        d, order = exact.topk(k, dim=1, largest=False)
        idx_out.append(cand.gather(1, order))
        dist_out.append(d)
    if not idx_out:
        return torch.empty(0, k, dtype=torch.long), torch.empty(0, k, dtype=torch.float64)
    return torch.cat(idx_out), torch.cat(dist_out)


def nearest_tokens(space: EmbeddingSpace, vectors: torch.Tensor, k: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """The k usable tokens nearest (l2) to each vector [K, d]: (token ids [K, k], distances [K, k] float64).

    Use `space.tokens[i]` for the strings. Special and untrained tokens are never returned.
    """
    ids = torch.nonzero(space.usable).squeeze(1)
    if ids.numel() == 0:
        raise VWBenchError(f"embedding space {space.name!r}: no usable tokens")
    local, dist = nearest_rows(space.table[ids], vectors.to(space.table.device), k)
    return ids[local], dist


def nn_distance(space: EmbeddingSpace, index: int) -> float:
    """Distance from token `index` to its nearest other usable token: d_nn of the δ-ball (PROTOCOL.md 9, 14.9).

    Computed exactly in float64 over the full usable vocabulary; the token itself is excluded by id
    (a different token with an identical row would give 0).
    """
    if not 0 <= index < space.table.shape[0]:
        raise VWBenchError(f"embedding space {space.name!r}: token id {index} out of range")
    others = space.usable.clone()
    others[index] = False
    if not bool(others.any()):
        raise VWBenchError(f"embedding space {space.name!r}: no other usable token to measure a distance to")
    rows, anchor = space.table[others], space.table[index].double()
    return min(float((rows[s : s + 8192].double() - anchor).norm(dim=1).min()) for s in range(0, len(rows), 8192))
