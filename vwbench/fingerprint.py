"""Fingerprints of the code behind a stored result: a change that could move a number recomputes it.

The keys of `vwbench.study` hold every setting a result depends on and, next to them, sha256 digests of the
source files that compute it (`code(group)`), grouped so that a change recomputes only what it can affect:

  learn            vwbench/learn.py: the training loop and the δ-ball projection
  data             vwbench/data/*.py, vwbench/data/micro/*.py: how images and boxes are read or rendered
  model:<kind>:<families>[:<model ids>]
                   vwbench/models/*.py except the other two kinds' adapters (so base.py, zoo.py, factory.py,
                   <kind>.py, space.py (the vocabulary) and any helper module added there), vwbench/tokenizer.py;
                   each family's file (models/families/<family>.py, with families/__init__.py) and the models/
                   modules it imports outside micro/; the config of each `tiny:` model (models/configs/); for
                   `micro:` models also vwbench/models/micro/{store,training}.py, data/micro/world.py and the
                   model's own module (sd.py, owlv2.py, clip.py); the weights themselves are hashed by
                   `keys.model_id`
  transfer         vwbench/transfer/base.py, vwbench/models/space.py: pair finding, fit reports, output checks
  method           `method_code`: the files defining the method's class and its bases (inside vwbench or the
                   submission), and every .py file of a submission folder

`packages()` adds the versions of the numerical libraries (torch, diffusers, …): an upgrade recomputes too.

Deliberately left out, since they cannot change a stored number: the CLI (cli.py, commands/), reports
(report/), the store, spec parsing and validation (the values they produce are keyed themselves), submission
validation, and the micro zoo's trainers beyond the modules above (what they produce, the weights, is hashed).
"""

from __future__ import annotations

import hashlib
import inspect
from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
KINDS = ("generation", "detection", "classification")
# distribution names of the libraries whose code computes vectors and scores
NUMERIC_PACKAGES = (
    "torch",
    "torchvision",
    "diffusers",
    "transformers",
    "open_clip_torch",
    "torchmetrics",
    "numpy",
    "pillow",
)
MICRO_MODULES = {
    "micro:sd": "sd.py",
    "micro:owlv2": "owlv2.py",
    "micro:clip": "clip.py",
    "micro:clip-evaluator": "clip.py",
}
GROUPS = {
    "learn": ("learn.py",),
    "data": ("data/*.py", "data/micro/*.py"),
    "transfer": ("transfer/base.py", "models/space.py"),
    "micro": ("models/micro/store.py", "models/micro/training.py", "data/micro/world.py"),
}


@lru_cache(maxsize=4096)
def _file_digest(path: str, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def file_digest(path: str | Path) -> str:
    """sha256 of a file's bytes (cached while its mtime and size stay the same)."""
    st = Path(path).stat()
    return _file_digest(str(path), st.st_mtime_ns, st.st_size)


def files_digest(files, root: Path | None = None) -> str:
    """One digest of several files: their paths (relative to `root` when given) and contents, in path order."""
    h = hashlib.sha256()
    for f in sorted({Path(f) for f in files}):
        name = f.relative_to(root).as_posix() if root is not None else f.name
        h.update(f"{name}\0{file_digest(f)}\n".encode())
    return h.hexdigest()


def group_files(patterns, root: Path = PACKAGE) -> list[Path]:
    out = set()
    for p in patterns:
        out.update(f for f in root.glob(p) if f.is_file())
    return sorted(out)


def family_files(family: str, root: Path = PACKAGE) -> list[Path]:
    """A family's file, families/__init__.py and the vwbench.models modules the file imports (micro/ aside: the
    micro models' own files key only micro models)."""
    import re

    own = root / "models" / "families" / f"{family}.py"
    files = group_files(("models/families/__init__.py", f"models/families/{family}.py"), root)
    text = own.read_text() if own.is_file() else ""
    for module in re.findall(r"^\s*from vwbench\.models\.(\w+) import", text, flags=re.MULTILINE):
        if module not in ("micro", "families"):
            files += group_files((f"models/{module}.py",), root)
    return files


def model_files(kind: str, model_ids=(), root: Path = PACKAGE, families=()) -> list[Path]:
    """The source files behind a task model of `kind` (see the module docstring)."""
    others = {f"{k}.py" for k in KINDS if k != kind}
    files = [f for f in group_files(("models/*.py",), root) if f.name not in others]
    files += group_files(("tokenizer.py", "metrics/*.py"), root)
    for family in families:
        files += family_files(family, root)
    files += group_files(
        tuple(f"models/configs/{i.replace(':', '-', 1)}.json" for i in model_ids if i.startswith("tiny:")), root
    )
    micro = [MICRO_MODULES[i] for i in model_ids if i in MICRO_MODULES]
    if micro:
        files += group_files(GROUPS["micro"] + tuple(f"models/micro/{m}" for m in micro), root)
        if "clip.py" in micro:  # models/micro/clip.py encodes text with models/classification.encode_text
            files += group_files(("models/classification.py",), root)
    return sorted(set(files))


def code(group: str, root: Path = PACKAGE) -> str:
    """Digest of one group of vwbench's source: learn, data, transfer, or model:<kind>:<families>[:<model ids>]
    (comma-separated lists)."""
    if group.startswith("model:"):
        kind, families, *ids = group.split(":", 3)[1:] + ([""] if group.count(":") < 2 else [])
        ids = ids[0].split(",") if ids and ids[0] else []
        return files_digest(model_files(kind, ids, root, [f for f in families.split(",") if f]), root)
    return files_digest(group_files(GROUPS[group], root), root)


def model_code(kind: str, model_ids, families=()) -> str:
    """The code digest of a task model of `kind` from `families` (its own, its evaluator's) with `model_ids`."""
    group = f"model:{kind}:{','.join(sorted(set(families)))}"
    return code(group + f":{','.join(sorted(model_ids))}" if model_ids else group)


def packages() -> dict[str, str | None]:
    """Installed versions of the numerical libraries (None when absent)."""
    return dict(_packages())


@lru_cache(maxsize=1)
def _packages() -> tuple:
    from importlib import metadata

    out = []
    for name in NUMERIC_PACKAGES:
        try:
            out.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            out.append((name, None))
    return tuple(out)


def method_code(method, folder: str | Path | None = None) -> str:
    """Digest of a transfer method's code: the source file of its class, those of its bases that lie in vwbench
    or in `folder`, and every .py file under `folder` (a submission's helpers may be imported by its entry)."""
    folder = Path(folder).resolve() if folder is not None else None
    files = set()
    for i, cls in enumerate(type(method).__mro__):
        try:
            src = inspect.getsourcefile(cls)
        except TypeError:  # builtins (object)
            continue
        if src is None:
            continue
        p = Path(src).resolve()
        if i == 0 or p.is_relative_to(PACKAGE) or (folder is not None and p.is_relative_to(folder)):
            files.add(p)
    if folder is not None:
        files.update(f.resolve() for f in folder.rglob("*.py") if "__pycache__" not in f.parts)
    h = hashlib.sha256()
    for f in sorted(files):
        if folder is not None and f.is_relative_to(folder):
            name = "submission/" + f.relative_to(folder).as_posix()
        elif f.is_relative_to(PACKAGE):
            name = "vwbench/" + f.relative_to(PACKAGE).as_posix()
        else:
            name = f.name
        h.update(f"{name}\0{file_digest(f)}\n".encode())
    return h.hexdigest()


def tensor_digest(t) -> str:
    """sha256 of a tensor's float32 bytes and shape (a submitted vector's identity)."""
    import numpy as np

    a = np.ascontiguousarray(t.detach().cpu().float().numpy() if hasattr(t, "detach") else t, dtype=np.float32)
    h = hashlib.sha256(repr(a.shape).encode())
    h.update(a.tobytes())
    return h.hexdigest()
