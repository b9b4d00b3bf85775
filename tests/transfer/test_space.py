import pytest
import torch

from vwbench.errors import VWBenchError
from vwbench.transfer import EmbeddingSpace, nearest_tokens, nn_distance, shared_pairs


def test_shared_pairs_identical_strings_both_usable():
    src = EmbeddingSpace.from_table(
        "a", ["<|startoftext|>", "cat</w>", "cat", "dog</w>", "x"], torch.randn(5, 3), exclude=[0]
    )
    tgt = EmbeddingSpace.from_table(
        "b", ["dog</w>", "cat</w>", "<|startoftext|>", "x", "cat"], torch.randn(5, 4), exclude=[2, 3]
    )
    s, t = shared_pairs(src, tgt)
    assert s.dtype == t.dtype == torch.long
    assert [src.tokens[i] for i in s] == ["cat</w>", "cat", "dog</w>"]  # `</w>` matters; special/unusable out
    assert [tgt.tokens[j] for j in t] == ["cat</w>", "cat", "dog</w>"]


def test_shared_pairs_of_one_vocabulary_are_the_ids_usable_in_both():
    """Two models of one tokenizer (the fast path) pair exactly the ids both can use; a vocabulary with a repeated
    string takes the general path and pairs each string once."""
    g = torch.Generator().manual_seed(3)
    tokens = [f"t{i}" for i in range(200)]
    us, ut = torch.rand(200, generator=g) < 0.7, torch.rand(200, generator=g) < 0.7
    src = EmbeddingSpace("a", tokens, torch.randn(200, 3), us)
    tgt = EmbeddingSpace("b", list(tokens), torch.randn(200, 5), ut)
    s, t = shared_pairs(src, tgt)
    expected = [i for i in range(200) if us[i] and ut[i]]
    assert s.tolist() == expected and t.tolist() == expected
    dup = ["x", "y", "x", "z"]
    s, t = shared_pairs(
        EmbeddingSpace.from_table("a", dup, torch.randn(4, 2)), EmbeddingSpace.from_table("b", dup, torch.randn(4, 2))
    )
    assert s.tolist() == [0, 1, 3] and t.tolist() == [0, 1, 3]


def test_space_checks_shapes():
    with pytest.raises(VWBenchError, match="2 tokens"):
        EmbeddingSpace("a", ["x", "y"], torch.randn(3, 2), torch.ones(3, dtype=torch.bool))
    with pytest.raises(VWBenchError, match="bool"):
        EmbeddingSpace("a", ["x"], torch.randn(1, 2), torch.ones(1))


def test_nearest_tokens_skips_unusable_and_matches_brute_force():
    g = torch.Generator().manual_seed(1)
    table = torch.randn(300, 8, generator=g)
    space = EmbeddingSpace.from_table("s", [str(i) for i in range(300)], table, exclude=[5])
    q = torch.cat([table[5:6] + 1e-4, torch.randn(40, 8, generator=g)])
    idx, dist = nearest_tokens(space, q, k=3)
    assert idx.shape == dist.shape == (41, 3)
    full = torch.cdist(q.double(), table.double())
    full[:, 5] = float("inf")
    ref_d, ref_i = full.topk(3, dim=1, largest=False)
    assert torch.equal(idx, ref_i) and torch.allclose(dist, ref_d)
    assert 5 not in idx[0].tolist()
    many = torch.randn(150, 8, generator=g)  # more queries than one distance block holds
    idx, dist = nearest_tokens(space, many, k=2)
    full = torch.cdist(many.double(), table.double())
    full[:, 5] = float("inf")
    ref_d, ref_i = full.topk(2, dim=1, largest=False)
    assert torch.equal(idx, ref_i) and torch.allclose(dist, ref_d)


def test_nn_distance_excludes_self_and_unusable():
    table = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 1.0], [0.0, 0.5]])
    space = EmbeddingSpace.from_table("s", list("abcd"), table, exclude=[3])
    assert nn_distance(space, 0) == pytest.approx(1.0)  # d (0.5 away) is unusable
    assert nn_distance(space, 1) == pytest.approx(3.0)  # a at 3, c at sqrt(10)
    with pytest.raises(VWBenchError):
        nn_distance(space, 9)
