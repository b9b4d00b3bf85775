import sys
import textwrap
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import save_file

from vwbench import submissions
from vwbench.cli import main as cli_main
from vwbench.errors import VWBenchError
from vwbench.submissions import SubmissionError, load_method, read_embedding_file, smoke_test, validate

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "submissions"
GOOD_METHOD = """
import torch
from vwbench.transfer import TransferMethod

class M(TransferMethod):
    def fit_pairs(self, Y, X):
        self.T = torch.linalg.lstsq(Y, X).solution

    def map(self, V):
        return V @ self.T
"""


def write(folder: Path, manifest: dict, files: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "submission.yaml").write_text(yaml.safe_dump(manifest))
    for name, text in (files or {}).items():
        (folder / name).write_text(textwrap.dedent(text))
    return folder


def method_manifest(**over):
    return {
        "name": "m",
        "kind": "method",
        "version": "1",
        "authors": ["a"],
        "description": "d",
        "entry": "mod.py:M",
        **over,
    }


def emb_manifest(entries, **over):
    return {
        "name": "e",
        "kind": "embeddings",
        "version": "1",
        "authors": ["a"],
        "description": "d",
        "entries": entries,
        **over,
    }


def entry(**over):
    return {
        "dataset": "tiny-objects",
        "concept": "red_square",
        "anchor": "square",
        "task": "tiny-generation",
        "file": "v.safetensors",
        **over,
    }


# ------------------------------------------------------------------------------------------ examples


def test_examples_validate_and_cli_dispatch(capsys):
    sub = validate(EXAMPLES / "example-embeddings")
    assert sub.kind == "embeddings" and len(sub.vectors) == 55
    widths = {v.task: v.vector.shape[1] for v in sub.vectors}
    assert widths == {"tiny-generation": 32, "tiny-detection": 48, "tiny-classification": 64}
    assert validate(EXAMPLES / "example-method").kind == "method"
    assert cli_main(["validate", str(EXAMPLES / "example-method"), str(EXAMPLES / "example-embeddings")]) == 0


def test_example_method_loads_and_passes_smoke_test():
    m = load_method(EXAMPLES / "example-method")
    assert m.name == "example-centered-lstsq" and m.params == {"lam": 0.0}
    assert load_method(EXAMPLES / "example-method", lam=0.5).params == {"lam": 0.5}
    assert smoke_test(m).n_pairs > 0


def test_load_method_by_registered_name():
    assert load_method("linear_transfer").name == "linear_transfer"
    with pytest.raises(VWBenchError, match="did you mean"):
        load_method("procrustez")


# -------------------------------------------------------------------------------------- manifests


@pytest.mark.parametrize(
    "change,match",
    [
        ({"authors": None}, r"'authors' is required"),
        ({"entry": None}, r"'entry' is required"),
        ({"authors": "me"}, r"authors: expected array"),
        ({"version": 1}, r"version: expected string"),
        ({"kind": "model"}, r"kind: expected one of"),
        ({"surprise": 1}, r"surprise"),
        ({"entry": "mod.py"}, r"entry: .*does not match"),
    ],
)
def test_manifest_missing_fields_and_wrong_types(tmp_path, change, match):
    manifest = method_manifest(**change)
    manifest = {k: v for k, v in manifest.items() if v is not None}
    write(tmp_path / "s", manifest, {"mod.py": GOOD_METHOD})
    with pytest.raises(SubmissionError, match=match) as info:
        validate(tmp_path / "s")
    msg = str(info.value)
    assert msg.startswith("submission m: ") and "submission.yaml" in msg and "\n" not in msg


def test_cli_reports_one_line(tmp_path, capsys):
    write(tmp_path / "s", method_manifest(entry="gone.py:M"))
    assert cli_main(["validate", str(tmp_path / "s")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "gone.py" in err and "missing file" in err


# ----------------------------------------------------------------------------------------- methods


def test_entry_module_missing(tmp_path):
    write(tmp_path / "s", method_manifest())
    with pytest.raises(SubmissionError, match=r"mod\.py: missing file"):
        validate(tmp_path / "s")


def test_entry_class_missing(tmp_path):
    write(tmp_path / "s", method_manifest(entry="mod.py:Other"), {"mod.py": GOOD_METHOD})
    with pytest.raises(SubmissionError, match=r"'Other' is not defined at top level \(classes: M\)"):
        validate(tmp_path / "s")


def test_class_without_base_needs_fit_and_call(tmp_path):
    write(tmp_path / "s", method_manifest(), {"mod.py": "class M:\n    def fit(self, s, t): pass\n"})
    with pytest.raises(SubmissionError, match="defines no __call__"):
        validate(tmp_path / "s")


def test_syntax_error_and_unknown_parameters(tmp_path):
    write(tmp_path / "a", method_manifest(), {"mod.py": "class M(:\n"})
    with pytest.raises(SubmissionError, match="not valid Python"):
        validate(tmp_path / "a")
    code = "class M:\n    def __init__(self, lam=1.0): pass\n    def fit(self, s, t): pass\n    def __call__(self, v): pass\n"
    write(tmp_path / "b", method_manifest(parameters={"alpha": 1}), {"mod.py": code})
    with pytest.raises(SubmissionError, match=r"parameters: \['alpha'\] not accepted"):
        validate(tmp_path / "b")


def test_validate_never_imports_the_module(tmp_path):
    code = GOOD_METHOD + "\nimport sys\nsys.modules['_vwbench_test_marker'] = 1\n"
    write(tmp_path / "s", method_manifest(name="marker"), {"mod.py": code})
    validate(tmp_path / "s")
    assert "_vwbench_test_marker" not in sys.modules
    load_method(tmp_path / "s")  # loading does run it (documented)
    assert sys.modules.pop("_vwbench_test_marker") == 1


@pytest.mark.parametrize("entry_path", ["../outside.py:M", "/tmp/outside.py:M", "sub/../../outside.py:M"])
def test_manifest_path_escaping_the_folder(tmp_path, entry_path):
    (tmp_path / "outside.py").write_text(GOOD_METHOD)
    write(tmp_path / "s", method_manifest(entry=entry_path))
    with pytest.raises(SubmissionError, match="escapes the submission folder"):
        validate(tmp_path / "s")


BODIES = {
    "fit raises": (
        "def fit_pairs(self, Y, X):\n        raise RuntimeError('boom')",
        r"submission-bad.*fit .*failed: RuntimeError: boom",
    ),
    "shape": (
        "def fit_pairs(self, Y, X):\n        self.T = torch.zeros(Y.shape[1], X.shape[1] + 1, dtype=Y.dtype)",
        r"submission-bad.*returned shape",
    ),
    "nan": (
        "def fit_pairs(self, Y, X):\n        self.T = torch.full((Y.shape[1], X.shape[1]), float('nan'), dtype=Y.dtype)",
        r"submission-bad.*NaN or Inf",
    ),
    "inf": (
        "def fit_pairs(self, Y, X):\n        self.T = torch.full((Y.shape[1], X.shape[1]), float('inf'), dtype=Y.dtype)",
        r"submission-bad.*NaN or Inf",
    ),
}


@pytest.mark.parametrize("case", sorted(BODIES))
def test_misbehaving_method_submissions_are_named(tmp_path, case):
    body, match = BODIES[case]
    code = (
        "import torch\nfrom vwbench.transfer import TransferMethod\n\nclass M(TransferMethod):\n    "
        + body
        + "\n\n    def map(self, V):\n        return V @ self.T\n"
    )
    write(tmp_path / "s", method_manifest(name="submission-bad"), {"mod.py": code})
    validate(tmp_path / "s")  # statically fine
    with pytest.raises(VWBenchError, match=match):
        smoke_test(load_method(tmp_path / "s"))


def test_wrong_dtype_from_protocol_only_method(tmp_path):
    code = """
    import torch

    class M:
        def fit(self, source, target):
            self.d = target.width

        def __call__(self, vectors):
            return torch.zeros(vectors.shape[0], self.d, dtype=torch.float64)
    """
    write(tmp_path / "s", method_manifest(name="dtype-bad"), {"mod.py": code})
    with pytest.raises(VWBenchError, match=r"'dtype-bad'.*dtype torch.float64, expected torch.float32"):
        smoke_test(load_method(tmp_path / "s"))


# -------------------------------------------------------------------------------------- embeddings


def emb_sub(tmp_path, tensors, entries=None, name="v.safetensors", **over):
    folder = tmp_path / "e"
    folder.mkdir(exist_ok=True)
    if tensors is not None:
        save_file(tensors, str(folder / name))
    return write(folder, emb_manifest(entries or [entry(file=name, key="k")], **over))


def test_embeddings_good(tmp_path):
    sub = validate(emb_sub(tmp_path, {"k": torch.randn(32)}))
    (v,) = sub.vectors
    assert v.vector.shape == (1, 32) and v.vector.dtype == torch.float32 and v.delta is None


@pytest.mark.parametrize(
    "value,match",
    [
        (float("nan"), "contains NaN or Inf"),
        (float("inf"), "contains NaN or Inf"),
    ],
)
def test_embeddings_nan_inf(tmp_path, value, match):
    t = torch.randn(32)
    t[3] = value
    with pytest.raises(SubmissionError, match=rf"submission e: .*v\.safetensors: key 'k': {match}"):
        validate(emb_sub(tmp_path, {"k": t}))


def test_embeddings_width_mismatch(tmp_path):
    with pytest.raises(SubmissionError, match=r"width 48 does not match task 'tiny-generation' \(width 32\)"):
        validate(emb_sub(tmp_path, {"k": torch.randn(48)}))  # tiny width from the specs
    with pytest.raises(SubmissionError, match=r"width 32 does not match task 'tiny-generation' \(width 16\)"):
        validate(emb_sub(tmp_path, {"k": torch.randn(32)}), widths={"tiny-generation": 16})


def test_embeddings_wrong_types(tmp_path):
    with pytest.raises(SubmissionError, match="dtype torch.int64 is not floating point"):
        validate(emb_sub(tmp_path, {"k": torch.arange(32)}))
    with pytest.raises(SubmissionError, match=r"shape \(2, 2, 8\)"):
        validate(emb_sub(tmp_path, {"k": torch.randn(2, 2, 8)}))
    with pytest.raises(SubmissionError, match=r"entries\[0\]\.delta: expected"):
        validate(emb_sub(tmp_path, {"k": torch.randn(32)}, [entry(key="k", delta="big")]))


def test_embeddings_missing_file_and_key(tmp_path):
    with pytest.raises(SubmissionError, match=r"nope\.safetensors: missing file \(named in entries\[0\]\.file\)"):
        validate(emb_sub(tmp_path, None, [entry(file="nope.safetensors")]))
    with pytest.raises(SubmissionError, match=r"no key 'other'"):
        validate(emb_sub(tmp_path, {"k": torch.randn(32)}, [entry(key="other")]))
    with pytest.raises(SubmissionError, match="gives no key"):
        validate(emb_sub(tmp_path, {"a": torch.randn(32), "b": torch.randn(32)}, [entry()]))


def test_embeddings_default_key_is_concept_id(tmp_path):
    sub = validate(emb_sub(tmp_path, {"red_square": torch.randn(32), "b": torch.randn(32)}, [entry()]))
    assert sub.vectors[0].key == "red_square"


def test_embeddings_checked_against_specs(tmp_path):
    t = {"k": torch.randn(32)}
    with pytest.raises(SubmissionError, match=r"entries\[0\]\.concept: 'cat' is not a concept of tiny-objects"):
        validate(emb_sub(tmp_path, t, [entry(key="k", concept="cat")]))
    with pytest.raises(SubmissionError, match=r"entries\[0\]\.dataset: unknown dataset 'nope'"):
        validate(emb_sub(tmp_path, t, [entry(key="k", dataset="nope")]))
    with pytest.raises(SubmissionError, match=r"entries\[0\]\.anchor"):
        validate(emb_sub(tmp_path, t, [entry(key="k", anchor="star")]))
    with pytest.raises(SubmissionError, match=r"entries\[0\]\.task: unknown task"):
        validate(emb_sub(tmp_path, t, [entry(key="k", task="tiny-segmentation")]))
    with pytest.raises(SubmissionError, match=r"entries\[1\]: same trial as entries\[0\]"):
        validate(emb_sub(tmp_path, t, [entry(key="k"), entry(key="k")]))


def test_embeddings_path_escaping(tmp_path):
    save_file({"k": torch.randn(32)}, str(tmp_path / "outside.safetensors"))
    with pytest.raises(SubmissionError, match="escapes the submission folder"):
        validate(emb_sub(tmp_path, None, [entry(file="../outside.safetensors", key="k")]))


class NotATensor:
    def __init__(self):
        self.payload = [1, 2, 3]


def test_pickle_pt_with_object_refused(tmp_path):
    folder = tmp_path / "e"
    folder.mkdir()
    torch.save({"k": NotATensor()}, folder / "v.pt")
    write(folder, emb_manifest([entry(file="v.pt", key="k")]))
    with pytest.raises(SubmissionError, match=r"v\.pt: refused: .*pickled objects are never loaded"):
        validate(folder)


def test_plain_tensor_pt_accepted_and_nonfile_types_refused(tmp_path):
    folder = tmp_path / "e"
    folder.mkdir()
    t = torch.randn(2, 32)
    torch.save(t, folder / "v.pt")
    torch.save({"k": t}, folder / "d.bin")
    torch.save([t], folder / "l.pt")
    (folder / "v.npy").write_bytes(b"\x93NUMPY")
    write(folder, emb_manifest([entry(file="v.pt"), entry(file="d.bin", anchor="circle")]))
    sub = validate(folder)
    assert all(torch.equal(v.vector, t) for v in sub.vectors)
    with pytest.raises(SubmissionError, match="holds list"):
        read_embedding_file(folder / "l.pt")
    with pytest.raises(SubmissionError, match="unsupported file type '.npy'"):
        read_embedding_file(folder / "v.npy")


def test_diffusers_and_a1111_formats_read_back_the_same(tmp_path):
    t = torch.randn(1, 32)
    save_file({"<cat-toy>": t}, str(tmp_path / "diffusers.safetensors"))  # diffusers single key
    save_file({"emb_params": t}, str(tmp_path / "a1111.safetensors"))  # A1111 safetensors
    torch.save(
        {"string_to_token": {"*": 265}, "string_to_param": {"*": t}, "name": "cat-toy", "step": 500},
        tmp_path / "a1111.pt",
    )  # A1111 .pt
    read = [read_embedding_file(tmp_path / f) for f in ("diffusers.safetensors", "a1111.safetensors", "a1111.pt")]
    assert [len(r) for r in read] == [1, 1, 1]
    assert all(torch.equal(next(iter(r.values())), t) for r in read)


def test_submission_error_is_one_line():
    err = SubmissionError("x", "x/f.safetensors", "bad")
    assert str(err) == "submission x: x/f.safetensors: bad" and isinstance(err, submissions.VWBenchError)
