import pytest
import torch

from vwbench.transfer import EmbeddingSpace


def make_spaces(v=120, d_src=10, d_tgt=7, seed=0, dtype=torch.float32):
    """Two random spaces sharing most token strings; a few tokens unusable or present in one space only."""
    g = torch.Generator().manual_seed(seed)
    src_tokens = [f"w{i}</w>" for i in range(v)]
    tgt_tokens = [f"w{i}</w>" for i in range(v - 10)] + [f"only{i}" for i in range(10)]
    src = EmbeddingSpace.from_table("src", src_tokens, torch.randn(v, d_src, generator=g, dtype=dtype), exclude=[0, 1])
    tgt = EmbeddingSpace.from_table("tgt", tgt_tokens, torch.randn(v, d_tgt, generator=g, dtype=dtype), exclude=[2])
    return src, tgt


@pytest.fixture
def spaces():
    return make_spaces()


@pytest.fixture(name="make_spaces")
def make_spaces_fixture():
    return make_spaces
