"""Validate spec files or folders (and, once submissions exist, submission folders) without running anything.

Exits non-zero with one line per problem naming the file, the field path and what was expected."""

from __future__ import annotations

import sys
from pathlib import Path

HELP = "validate specs (files or folders) without running anything"


def add_arguments(p):
    p.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="a spec file, a spec folder such as vwbench/specs/, or a submission folder "
        "(default: the spec root in use, --specs, $VWBENCH_SPECS or the shipped specs)",
    )


def _spec_kind(path: Path) -> str | None:
    for parent in (path.parent.name, path.parent.parent.name):
        if parent in ("tasks", "datasets", "suites") and parent == path.parent.name:
            return parent
    return None


def validate_path(path: Path) -> list[str]:
    """Check one path; returns the problems found (empty when valid)."""
    from vwbench.errors import SpecError, VWBenchError
    from vwbench.spec import SpecLibrary, check_single_token_anchors

    problems: list[str] = []
    if not path.exists():
        return [f"{path}: no such file or folder"]
    if path.is_dir() and (path / "submission.yaml").exists():
        from vwbench import submissions

        try:
            submissions.validate(path)
        except VWBenchError as exc:
            problems.append(str(exc))
        return problems
    if path.is_dir():
        if all((path / k).is_dir() for k in ("tasks", "datasets", "suites")):
            files = sorted(p for k in ("tasks", "datasets", "suites") for p in (path / k).glob("*.yaml"))
        elif path.name in ("tasks", "datasets", "suites"):
            files = sorted(path.glob("*.yaml"))
        else:
            return [f"{path}: not a spec folder (expected tasks/, datasets/ and suites/ inside) nor a submission"]
    else:
        files = [path]
    tokenizer = None
    for f in files:
        kind = _spec_kind(f.resolve())
        if kind is None:
            problems.append(f"{f}: not inside a tasks/, datasets/ or suites/ folder of a spec root")
            continue
        lib = SpecLibrary(f.resolve().parent.parent)
        try:
            if kind == "tasks":
                from vwbench.metrics import check_task

                check_task(lib.task(f.stem))
            elif kind == "suites":
                lib.suite(f.stem)
            else:
                ds = lib.dataset(f.stem)
                if tokenizer is None:
                    from vwbench.tokenizer import clip_tokenizer

                    tokenizer = clip_tokenizer()
                check_single_token_anchors(ds, tokenizer)
        except SpecError as exc:
            problems.append(str(exc))
    return problems


def run(args) -> int:
    if not args.paths:
        from vwbench.spec import default_spec_root

        args.paths = [str(args.specs or default_spec_root())]
    problems: list[str] = []
    for p in args.paths:
        problems += validate_path(Path(p))
    problems = list(dict.fromkeys(problems))  # a broken file is reached once per spec that uses it; say it once
    for line in problems:
        print(line, file=sys.stderr)
    if not problems:
        print(f"ok: {', '.join(args.paths)}")
    return 1 if problems else 0
