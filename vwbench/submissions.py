"""Submissions: a transfer method (Python code) or a set of learned embeddings, each a folder with `submission.yaml`.

`validate(path)` checks a folder without running anything: the manifest against
`schemas/submission.schema.json`, every path inside the folder, a method's class by parsing its module
with `ast` (never importing it), and every embedding file's type, shape, width and values.
`load_method(path)` IMPORTS AND RUNS the submitted module: only load methods whose code you trust.
Embedding files are read without unpickling: safetensors, or `.pt`/`.bin` only when
`torch.load(weights_only=True)` yields a tensor, a dict of tensors or an A1111 embedding.
See submissions/README.md for the manifest format and a worked example.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch

from vwbench.errors import SpecError, VWBenchError

MANIFEST = "submission.yaml"
TENSOR_SUFFIXES = (".safetensors", ".pt", ".bin")


class SubmissionError(VWBenchError):
    """A bad submission: one line naming the submission, the file and the problem."""

    def __init__(self, submission: str, file: str | Path, message: str):
        self.submission, self.file, self.message = submission, str(file), message
        super().__init__(f"submission {submission}: {self.file}: {message}")


@dataclass(frozen=True)
class Submission:
    name: str
    kind: str  # "method" | "embeddings"
    path: Path  # the folder
    manifest: dict
    vectors: tuple = ()  # embeddings submissions: the SubmittedVector entries, checked


@dataclass(frozen=True)
class SubmittedVector:
    """One submitted concept vector and the trial it stands for."""

    dataset: str
    concept: str
    anchor: str
    task: str  # task spec name, e.g. tiny-generation
    vector: torch.Tensor = field(repr=False)  # [num_vectors, d] float32
    delta: float | None = None
    file: str = ""
    key: str = ""


# ------------------------------------------------------------------------------------------ manifest


def read_manifest(path: str | Path) -> Submission:
    """Read and schema-check `path/submission.yaml` (or the manifest file itself)."""
    import jsonschema

    from vwbench.spec import describe, field_path, read_yaml, schema

    path = Path(path)
    folder = path.parent if path.name == MANIFEST else path
    manifest = folder / MANIFEST
    label = folder.name
    if not manifest.is_file():
        raise SubmissionError(label, manifest, "no submission.yaml in this folder")
    try:
        doc = read_yaml(manifest)
    except SpecError as exc:
        raise SubmissionError(label, manifest, f"{exc.field or '<root>'}: {exc.message}") from None
    label = doc.get("name") if isinstance(doc.get("name"), str) else label
    errors = list(jsonschema.Draft202012Validator(schema("submission")).iter_errors(doc))
    if errors:
        # an unknown field is reported only when nothing else is wrong: a bad `kind` also makes the
        # kind-specific fields look unknown
        err = min(errors, key=lambda e: (e.validator == "unevaluatedProperties", len(e.absolute_path), str(e.path)))
        if err.validator == "unevaluatedProperties":
            message = err.message.replace("Unevaluated properties are not allowed", "unknown field")
        else:
            message = describe(err)
        raise SubmissionError(label, manifest, f"{field_path(err) or '<root>'}: {message}")
    return Submission(doc["name"], doc["kind"], folder, doc)


def _inside(sub: Submission, rel: str, where: str) -> Path:
    """A file named in the manifest: must exist and lie inside the submission folder (symlinks resolved)."""
    target = sub.path / rel
    root = sub.path.resolve()
    if Path(rel).is_absolute() or not target.resolve().is_relative_to(root):
        raise SubmissionError(sub.name, sub.path / MANIFEST, f"{where}: path {rel!r} escapes the submission folder")
    if not target.is_file():
        raise SubmissionError(sub.name, target, f"missing file (named in {where})")
    return target


def validate(path: str | Path, widths: dict[str, int] | None = None, specs: str | Path | None = None) -> Submission:
    """Check a submission folder without running its code; raise SubmissionError on the first problem.

    `widths` ({task name: d}) checks embedding widths; without it the widths of tiny task models are
    looked up from the specs, and hub models' widths go unchecked. `specs` is the spec folder used to
    check datasets, concepts, anchors and tasks (default: the spec root, `$VWBENCH_SPECS` or the shipped vwbench/specs/).
    """
    sub = read_manifest(path)
    if sub.kind == "method":
        _check_method_source(sub)
        return sub
    return Submission(sub.name, sub.kind, sub.path, sub.manifest, tuple(load_embeddings(sub, widths, specs)))


# ------------------------------------------------------------------------------------------- methods


def _entry(sub: Submission) -> tuple[Path, str]:
    module, cls = sub.manifest["entry"].rsplit(":", 1)
    return _inside(sub, module, "entry"), cls


def _check_method_source(sub: Submission) -> None:
    file, cls_name = _entry(sub)
    try:
        tree = ast.parse(file.read_text(), filename=str(file))
    except SyntaxError as exc:
        raise SubmissionError(sub.name, file, f"not valid Python (line {exc.lineno}): {exc.msg}") from None
    except UnicodeDecodeError:
        raise SubmissionError(sub.name, file, "not a UTF-8 text file") from None
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    if cls_name not in classes:
        found = ", ".join(classes) or "none"
        raise SubmissionError(
            sub.name, file, f"entry class {cls_name!r} is not defined at top level (classes: {found})"
        )
    node = classes[cls_name]
    defined = {n.name: n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    if not node.bases:  # with a base class the methods may be inherited; without one they must be here
        missing = [m for m in ("fit", "__call__") if m not in defined]
        if missing:
            raise SubmissionError(sub.name, file, f"class {cls_name!r} defines no {' or '.join(missing)}")
    params = sub.manifest.get("parameters") or {}
    init = defined.get("__init__")
    if init is not None and params and init.args.kwarg is None:
        accepted = {a.arg for a in (*init.args.args[1:], *init.args.kwonlyargs)}
        unknown = sorted(set(params) - accepted)
        if unknown:
            raise SubmissionError(
                sub.name,
                sub.path / MANIFEST,
                f"parameters: {unknown} not accepted by {cls_name}.__init__ (accepts: {sorted(accepted) or 'none'})",
            )


def load_method(path_or_name: str | Path, **params):
    """An unfitted transfer method: a registered name, or a method submission folder.

    A submission folder's module is imported, which RUNS ITS CODE with your permissions. The manifest's
    `parameters` are defaults that `params` override. The instance's `name` is the submission's name.
    """
    p = Path(path_or_name)
    if not ((p / MANIFEST).is_file() or (p.name == MANIFEST and p.is_file())):
        from vwbench.transfer import registry

        return registry.get(str(path_or_name), **params)
    sub = validate(p)
    if sub.kind != "method":
        raise SubmissionError(sub.name, sub.path / MANIFEST, f"kind is {sub.kind!r}, not a method")
    file, cls_name = _entry(sub)
    mod_name = "vwbench_submission_" + sub.name.replace("-", "_")
    spec = importlib.util.spec_from_file_location(mod_name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(mod_name, None)
        raise SubmissionError(sub.name, file, f"import failed: {type(exc).__name__}: {exc}") from exc
    cls = getattr(module, cls_name)
    kwargs = {**(sub.manifest.get("parameters") or {}), **params}
    _check_params(sub, file, cls, cls_name, kwargs)
    try:
        method = cls(**kwargs)
    except Exception as exc:
        raise SubmissionError(sub.name, file, f"{cls_name}({kwargs}) failed: {type(exc).__name__}: {exc}") from exc
    try:
        method.name = sub.name
    except AttributeError:
        pass
    return method


def _check_params(sub: Submission, file: Path, cls, cls_name: str, kwargs: dict) -> None:
    """A parameter the class's constructor does not take is one line naming the ones it does."""
    import inspect

    try:
        sig = inspect.signature(cls)
    except (TypeError, ValueError):  # no introspectable signature: the constructor call will tell
        return
    try:
        sig.bind(**kwargs)
    except TypeError as exc:
        named = [p.name for p in sig.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        raise SubmissionError(
            sub.name, file, f"{cls_name}: bad parameters {kwargs} ({exc}; accepted: {', '.join(named) or 'none'})"
        ) from None


def smoke_test(method, seed: int = 0):
    """Fit `method` on two small random spaces and transfer a few vectors; returns the FitReport.

    Catches a fit that raises, outputs of the wrong shape or dtype, and NaN/Inf, as VWBenchError naming
    the method. Used by the tests and worth running on a new method before a long run.
    """
    from vwbench.models.space import EmbeddingSpace
    from vwbench.transfer.base import fit_with_report, transfer

    g = torch.Generator().manual_seed(seed)
    tokens = [f"w{i}</w>" for i in range(200)]
    src = EmbeddingSpace.from_table("smoke-src", tokens, torch.randn(200, 16, generator=g), exclude=[0])
    tgt_tokens = tokens[:180] + [f"other{i}" for i in range(20)]
    tgt = EmbeddingSpace.from_table("smoke-tgt", tgt_tokens, torch.randn(200, 12, generator=g), exclude=[199])
    report = fit_with_report(method, src, tgt, seed=seed)
    transfer(method, torch.randn(5, 16, generator=g), 12)
    return report


# ---------------------------------------------------------------------------------------- embeddings


def read_embedding_file(path: str | Path, submission: str = "-") -> dict[str, torch.Tensor]:
    """The tensors of an embedding file, without unpickling anything.

    Formats: safetensors (vwbench: one key per concept or trial; diffusers: a single `{token: tensor}`;
    A1111: `emb_params`), and `.pt`/`.bin` that `torch.load(weights_only=True)` reads as a tensor
    (key `*`), a dict of tensors, or an A1111 dict whose `string_to_param` holds the tensor(s).
    """
    path = Path(path)
    if path.suffix not in TENSOR_SUFFIXES:
        raise SubmissionError(submission, path, f"unsupported file type {path.suffix!r} (use .safetensors)")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return dict(load_file(str(path)))
        except (SafetensorError, OSError, ValueError) as exc:
            raise SubmissionError(submission, path, f"not a readable safetensors file: {exc}") from None
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SubmissionError(
            submission,
            path,
            "refused: not a plain tensor or dict of tensors (pickled objects are "
            f"never loaded; use .safetensors): {first[:200]}",
        ) from exc
    if isinstance(obj, torch.Tensor):
        return {"*": obj}
    if isinstance(obj, dict) and isinstance(obj.get("string_to_param"), dict):
        obj = obj["string_to_param"]  # A1111: {"*": tensor}; the rest is metadata
    if (
        isinstance(obj, dict)
        and obj
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())
    ):
        return dict(obj)
    raise SubmissionError(
        submission, path, f"refused: holds {type(obj).__name__}, expected a tensor or a dict of tensors"
    )


def _check_tensor(sub: str, file: Path, key: str, t: torch.Tensor) -> torch.Tensor:
    if not t.is_floating_point():
        raise SubmissionError(sub, file, f"key {key!r}: dtype {t.dtype} is not floating point")
    if t.ndim not in (1, 2) or t.numel() == 0:
        raise SubmissionError(sub, file, f"key {key!r}: shape {tuple(t.shape)}, expected [d] or [num_vectors, d]")
    if not bool(torch.isfinite(t).all()):
        raise SubmissionError(sub, file, f"key {key!r}: contains NaN or Inf")
    return t.reshape(-1, t.shape[-1]).float()


def _spec_library(specs: str | Path | None):
    """The spec library entries are checked against; None when no spec folder was given or found."""
    from vwbench.spec import SpecLibrary, default_spec_root

    root = Path(specs) if specs is not None else default_spec_root()
    if specs is None and not root.is_dir():
        return None
    return SpecLibrary(root)


def load_embeddings(
    path_or_sub: str | Path | Submission, widths: dict[str, int] | None = None, specs: str | Path | None = None
) -> list[SubmittedVector]:
    """Every entry of an embeddings submission as a checked SubmittedVector (see `validate`)."""
    sub = path_or_sub if isinstance(path_or_sub, Submission) else read_manifest(path_or_sub)
    manifest = sub.path / MANIFEST
    if sub.kind != "embeddings":
        raise SubmissionError(sub.name, manifest, f"kind is {sub.kind!r}, not embeddings")
    lib = _spec_library(specs)
    widths = dict(widths or {})
    files: dict[Path, dict[str, torch.Tensor]] = {}
    seen: dict[tuple, int] = {}
    out = []
    for i, e in enumerate(sub.manifest["entries"]):
        where = f"entries[{i}]"
        if lib is not None:
            _check_entry_against_specs(sub, lib, e, where, widths)
        file = _inside(sub, e["file"], f"{where}.file")
        if file not in files:
            files[file] = read_embedding_file(file, sub.name)
        tensors = files[file]
        key = e.get("key")
        if key is None:
            if len(tensors) == 1:
                key = next(iter(tensors))
            elif e["concept"] in tensors:
                key = e["concept"]
            else:
                raise SubmissionError(
                    sub.name,
                    file,
                    f"{where} gives no key and the file holds {len(tensors)} "
                    f"tensors; name one with key: (keys: {', '.join(sorted(tensors)[:10])})",
                )
        if key not in tensors:
            raise SubmissionError(
                sub.name, file, f"no key {key!r} (named in {where}; keys: {', '.join(sorted(tensors)[:10])})"
            )
        vec = _check_tensor(sub.name, file, key, tensors[key])
        task, d = e["task"], vec.shape[1]
        if widths.get(task, d) != d:
            raise SubmissionError(
                sub.name, file, f"key {key!r}: width {d} does not match task {task!r} (width {widths[task]})"
            )
        widths[task] = d
        trial = (e["dataset"], e["concept"], e["anchor"], task, e.get("delta"))
        if trial in seen:
            raise SubmissionError(sub.name, manifest, f"{where}: same trial as entries[{seen[trial]}]")
        seen[trial] = i
        out.append(SubmittedVector(e["dataset"], e["concept"], e["anchor"], task, vec, e.get("delta"), e["file"], key))
    return out


def manifest_suite(sub: Submission) -> str | None:
    """The suite an embeddings submission says it is for (`suite:` in its manifest), if any."""
    return sub.manifest.get("suite")


def check_suite(sub: Submission, suite, vectors=None) -> None:
    """Every entry's task and dataset must be the suite's; else one line naming the mismatch (and the suite
    the submission names, when it names one). `vectors`: the loaded entries (default: sub.vectors, else loaded)."""
    vectors = vectors or sub.vectors or load_embeddings(sub)
    tasks = {t.name for t in suite.tasks}
    datasets = {d.name for d in suite.datasets}
    for v in vectors:
        kind, value, known = (
            ("task", v.task, tasks)
            if v.task not in tasks
            else ("dataset", v.dataset, datasets)
            if v.dataset not in datasets
            else (None, None, None)
        )
        if kind is None:
            continue
        named = manifest_suite(sub)
        hint = f"; the submission is for suite {named!r}: pass --suite {named}" if named and named != suite.name else ""
        raise SubmissionError(
            sub.name,
            sub.path / MANIFEST,
            f"its entries name {kind} {value!r}, which suite "
            f"{suite.name!r} does not have ({kind}s: {', '.join(sorted(known))}){hint}",
        )


def _check_entry_against_specs(sub: Submission, lib, e: dict, where: str, widths: dict[str, int]) -> None:
    manifest = sub.path / MANIFEST
    known = lib.names("datasets")
    if e["dataset"] not in known:
        raise SubmissionError(
            sub.name, manifest, f"{where}.dataset: unknown dataset {e['dataset']!r} (known: {', '.join(known)})"
        )
    try:
        ds = lib.dataset(e["dataset"])
        if e["task"] not in lib.names("tasks"):
            raise SubmissionError(
                sub.name, manifest, f"{where}.task: unknown task {e['task']!r} (known: {', '.join(lib.names('tasks'))})"
            )
        task = lib.task(e["task"])
    except SpecError as exc:
        raise SubmissionError(sub.name, manifest, f"{where}: the specs it names do not load: {exc}") from None
    if e["concept"] not in {c.id for c in ds.concepts}:
        raise SubmissionError(
            sub.name,
            manifest,
            f"{where}.concept: {e['concept']!r} is not a concept of {ds.name} "
            f"(concepts: {', '.join(c.id for c in ds.concepts)})",
        )
    if e["anchor"] not in ds.anchors:
        raise SubmissionError(
            sub.name,
            manifest,
            f"{where}.anchor: {e['anchor']!r} is not an anchor of {ds.name} (anchors: {', '.join(ds.anchors)})",
        )
    if task.model.is_tiny and task.name not in widths:
        from vwbench.models.zoo import tiny_text_width

        if tiny_text_width(task.model.id) is not None:
            widths[task.name] = tiny_text_width(task.model.id)
