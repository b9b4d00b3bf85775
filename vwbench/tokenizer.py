"""The real 49,408-token CLIP BPE tokenizer, built offline from the BPE file that open_clip ships.

Vocabulary order (PROTOCOL.md section 15): the 256 byte characters, their `</w>` variants, the merged strings
of the first 48,894 merges, then `<|startoftext|>` and `<|endoftext|>`. The files are written once to a cache
folder and loaded with transformers' `CLIPTokenizer`, which every adapter (and diffusers) can use.
"""

from __future__ import annotations

import gzip
import json
import os
from functools import lru_cache
from pathlib import Path

from vwbench import atomic

VOCAB_SIZE = 49408
NUM_MERGES = VOCAB_SIZE - 256 - 256 - 2
BOS, EOS = "<|startoftext|>", "<|endoftext|>"
BOS_ID, EOS_ID = VOCAB_SIZE - 2, VOCAB_SIZE - 1
TOKENIZER_FILES = ("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json")


def _bytes_to_unicode() -> dict[int, str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def cache_dir() -> Path:
    base = os.environ.get("VWBENCH_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "vwbench")
    return Path(base) / "clip-tokenizer"


def bpe_file() -> Path:
    import open_clip

    return Path(open_clip.__file__).parent / "bpe_simple_vocab_16e6.txt.gz"


def write_tokenizer_files(folder: Path) -> Path:
    """Write vocab.json, merges.txt and tokenizer_config.json for the CLIP BPE vocabulary; returns `folder`."""
    with gzip.open(bpe_file(), "rt", encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    merges = [tuple(line.split()) for line in lines[1 : NUM_MERGES + 1]]
    byte_chars = list(_bytes_to_unicode().values())
    vocab = byte_chars + [c + "</w>" for c in byte_chars] + ["".join(m) for m in merges] + [BOS, EOS]
    assert len(vocab) == VOCAB_SIZE, len(vocab)
    folder.mkdir(parents=True, exist_ok=True)
    # each file is written atomically, so concurrent processes never read half a file
    config = {
        "model_max_length": 77,
        "bos_token": BOS,
        "eos_token": EOS,
        "unk_token": EOS,
        "pad_token": EOS,
        "tokenizer_class": "CLIPTokenizer",
    }
    texts = {
        "vocab.json": json.dumps({t: i for i, t in enumerate(vocab)}, ensure_ascii=False),
        "merges.txt": "#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n",
        "tokenizer_config.json": json.dumps(config),
        "special_tokens_map.json": json.dumps({"bos_token": BOS, "eos_token": EOS, "unk_token": EOS, "pad_token": EOS}),
    }
    for name in TOKENIZER_FILES:
        atomic.write_text(folder / name, texts[name])
    return folder


def tokenizer_folder() -> Path:
    folder = cache_dir()
    if not all((folder / name).is_file() for name in TOKENIZER_FILES):
        write_tokenizer_files(folder)
    return folder


@lru_cache(maxsize=1)
def clip_tokenizer():
    """The shared CLIP tokenizer (transformers `CLIPTokenizer`, max length 77), padded with "!" (id 0) as SD 2.x's,
    OWLv2's and open_clip's are, so a pipeline's own negative prompt matches `encode`."""
    from transformers import CLIPTokenizer

    tok = CLIPTokenizer.from_pretrained(str(tokenizer_folder()))
    tok.pad_token = "!"
    return tok


def token_strings() -> list[str]:
    """Token strings in id order (the shared vocabulary's keys)."""
    tok = clip_tokenizer()
    vocab = tok.get_vocab()
    out = [""] * VOCAB_SIZE
    for t, i in vocab.items():
        if i < VOCAB_SIZE:
            out[i] = t
    return out


def single_token_id(word: str) -> int:
    """The id of `word` if it is one token, else ValueError naming its pieces."""
    tok = clip_tokenizer()
    ids = tok(word, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        raise ValueError(f"{word!r} is not a single CLIP token (splits into {tok.convert_ids_to_tokens(ids)})")
    return ids[0]


def encode(texts: list[str], context_length: int = 77, pad_id: int = 0):
    """Token ids [N, context_length]: start, BPE tokens, end, then `pad_id` (0, as open_clip, OWLv2 and SD 2.x
    pad). Over-long text is cut and keeps its end-of-text token, as open_clip does."""
    import torch

    tok = clip_tokenizer()
    out = torch.full((len(texts), context_length), pad_id, dtype=torch.long)
    for i, text in enumerate(texts):
        ids = tok(text, add_special_tokens=False)["input_ids"][: context_length - 2]
        row = [BOS_ID, *ids, EOS_ID]
        out[i, : len(row)] = torch.tensor(row)
    return out


class CLIPTokenizer:
    """The shared CLIP BPE vocabulary as a model family's tokenizer (`Family.tokenizer()`): what the core asks a
    tokenizer for. A family with another vocabulary returns an object with the same members."""

    vocab_size, bos_id, eos_id = VOCAB_SIZE, BOS_ID, EOS_ID

    def hf(self):
        """The transformers tokenizer (for pipelines that hold one)."""
        return clip_tokenizer()

    def pieces(self, text: str) -> list[int]:
        """Token ids of `text`, without start and end tokens."""
        return clip_tokenizer()(text, add_special_tokens=False)["input_ids"]

    def strings(self) -> list[str]:
        """Token strings in id order."""
        return token_strings()

    def single_token_id(self, word: str) -> int:
        return single_token_id(word)

    def encode(self, texts: list[str], context_length: int = 77, pad_id: int = 0):
        return encode(texts, context_length, pad_id)


CLIP = CLIPTokenizer()
