"""The offline CLIP tokenizer: the real 49,408-token vocabulary, ids identical to open_clip's tokenizer, and a cache
that rebuilds itself atomically."""

from __future__ import annotations

import os
import pathlib

import pytest
import torch

from vwbench import tokenizer as vt
from vwbench.spec import SpecLibrary, check_single_token_anchors

TEXTS = [
    "a photo of a cat",
    "A Photo Of A DOG!",
    "a photo of a scuba diver, under water.",
    "hello, world. 123 numbers 4567",
    "",
    "café naïve résumé",
    "don't won't it's",
    "  spaced   out\tand\nnewlines  ",
    "emoji 🙂 test",
    "東京 タワー",
    "the quick brown fox jumps over the lazy dog " * 12,  # far over 77 tokens: truncated
    "supercalifragilisticexpialidocious " * 20,
]


@pytest.fixture(scope="module")
def tok():
    return vt.clip_tokenizer()


@pytest.fixture(scope="module")
def oc_tok():
    import open_clip

    return open_clip.get_tokenizer("ViT-B-32")


def test_vocabulary_size_and_special_ids(tok):
    assert len(tok) == vt.VOCAB_SIZE == 49408
    assert len(tok.get_vocab()) == 49408
    assert (tok.bos_token_id, tok.eos_token_id) == (vt.BOS_ID, vt.EOS_ID) == (49406, 49407)
    assert tok.model_max_length == 77  # diffusers pipelines need it
    strings = vt.token_strings()
    assert len(strings) == 49408 and all(strings)
    assert (strings[49406], strings[49407]) == ("<|startoftext|>", "<|endoftext|>")


def test_vocabulary_matches_open_clip(tok, oc_tok):
    """Same token string -> id map as open_clip's BPE tokenizer (which names its specials differently)."""
    theirs = {t: i for t, i in oc_tok.encoder.items() if i < vt.BOS_ID}
    ours = {t: i for t, i in tok.get_vocab().items() if i < vt.BOS_ID}
    assert ours == theirs


def test_encode_matches_open_clip(oc_tok):
    ours = vt.encode(TEXTS)
    theirs = oc_tok(TEXTS)
    assert ours.shape == (len(TEXTS), 77) and ours.dtype == torch.long
    for text, a, b in zip(TEXTS, ours, theirs):
        assert torch.equal(a, b), text


def test_encode_layout_and_truncation():
    ids = vt.encode(["a photo of a cat", "word " * 200], context_length=16)
    assert ids.shape == (2, 16)
    short, long = ids.tolist()
    assert short[0] == vt.BOS_ID and short[short.index(vt.EOS_ID) + 1 :] == [0] * (15 - short.index(vt.EOS_ID))
    assert short.index(vt.EOS_ID) == 6  # a photo of a cat: five tokens
    # an over-long text fills the context and keeps its end-of-text token last, as open_clip does
    assert long[0] == vt.BOS_ID and long[-1] == vt.EOS_ID and 0 not in long
    assert long.count(vt.EOS_ID) == 1
    assert vt.encode(["cat"], context_length=16, pad_id=vt.EOS_ID)[0, 3:].eq(vt.EOS_ID).all()


def test_encode_short_context_matches_open_clip(oc_tok):
    assert torch.equal(vt.encode(TEXTS, context_length=16), oc_tok(TEXTS, context_length=16))


def test_paper_anchors_are_single_tokens(tok):
    suite = SpecLibrary().suite("paper")
    assert len(suite.datasets) == 4
    for ds in suite.datasets:
        check_single_token_anchors(ds, tok)  # raises SpecError otherwise
        ids = [vt.single_token_id(a) for a in ds.anchors]
        assert len(set(ids)) == len(ds.anchors) and max(ids) < vt.BOS_ID
        assert vt.token_strings()[ids[0]] == ds.anchors[0] + "</w>"


@pytest.mark.parametrize("word", ["sombrero", "xqzzyplorf", "scuba diver"])
def test_multi_token_word_raises(word):
    with pytest.raises(ValueError, match=word):
        vt.single_token_id(word)


def test_single_token_id_of_a_known_word(oc_tok):
    assert vt.single_token_id("cat") == oc_tok(["cat"])[0, 1].item()


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VWBENCH_CACHE", str(tmp_path))
    vt.clip_tokenizer.cache_clear()
    yield tmp_path / "clip-tokenizer"
    vt.clip_tokenizer.cache_clear()  # later tests load from the default cache again


def test_cache_is_written_atomically(fresh_cache, monkeypatch, oc_tok):
    folder = fresh_cache
    assert not folder.exists()
    moved = []
    real_replace = os.replace

    def recording_replace(src, dst):
        moved.append((pathlib.Path(src), pathlib.Path(dst)))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", recording_replace)
    tok = vt.clip_tokenizer()
    monkeypatch.undo()
    assert sorted(p.name for p in folder.iterdir()) == sorted(vt.TOKENIZER_FILES)
    assert sorted(dst.name for _, dst in moved) == sorted(vt.TOKENIZER_FILES), "each file is moved into place"
    assert all(src.name != dst.name and dst.parent == folder for src, dst in moved), "written elsewhere, then renamed"
    assert [p.name for p in folder.parent.iterdir()] == ["clip-tokenizer"], "no temporary folder is left"
    assert len(tok) == 49408
    assert torch.equal(vt.encode(TEXTS[:4]), oc_tok(TEXTS[:4]))


@pytest.mark.parametrize("missing", ["vocab.json", "merges.txt"])
def test_cache_rebuilt_if_a_file_is_missing(fresh_cache, missing):
    vt.clip_tokenizer()
    before = {p.name: p.read_bytes() for p in fresh_cache.iterdir()}
    (fresh_cache / missing).unlink()
    vt.clip_tokenizer.cache_clear()
    tok = vt.clip_tokenizer()
    after = {p.name: p.read_bytes() for p in fresh_cache.iterdir()}
    assert after == before
    assert len(tok) == 49408 and vt.single_token_id("cat") == tok.convert_tokens_to_ids("cat</w>")
