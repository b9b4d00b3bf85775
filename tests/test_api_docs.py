"""The Python API: `import vwbench` stays light, names resolve lazily, and the code blocks of docs/api.md run
as written (on the tiny suite, in a temporary folder)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "api.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


def test_import_vwbench_imports_nothing_heavy():
    code = (
        "import sys, vwbench; heavy = [m for m in ('torch', 'diffusers', 'transformers', 'open_clip') "
        "if m in sys.modules]; print(heavy, sorted(vwbench.__all__))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO).stdout
    assert out.startswith("[] ") and "'run'" in out and "'Study'" in out and "'SpecLibrary'" in out


def test_lazy_names():
    import vwbench
    from vwbench.spec import SpecLibrary
    from vwbench.store import Store
    from vwbench.study import Study, StudyOptions

    assert (vwbench.Study, vwbench.StudyOptions, vwbench.Store, vwbench.SpecLibrary) == (
        Study,
        StudyOptions,
        Store,
        SpecLibrary,
    )
    assert callable(vwbench.run) and vwbench.run.__module__ == "vwbench.api"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        vwbench.nope  # noqa: B018


def test_bad_arguments_raise_one_line_errors(tmp_path):
    import vwbench

    for kwargs, message in [
        ({"limit": 0}, "--limit must be a positive integer"),
        ({"tasks": ["segmentation"]}, "unknown task 'segmentation'"),
        ({"methods": ["ridge:alpha=1"]}, "accepted: lam"),
        ({"seeds": ["a"]}, "seeds must be integers"),
    ]:
        with pytest.raises(vwbench.VWBenchError, match=message):
            vwbench.run("tiny", store=tmp_path / "s", progress=False, **kwargs)


def test_docs_api_examples_run(tmp_path, monkeypatch, capsys):
    blocks = python_blocks(DOC.read_text(encoding="utf-8"))
    assert len(blocks) == 2
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102 - our own docs, run as a test
    printed = capsys.readouterr().out
    results = namespace["results"]
    assert results["filters"] == {"task": ["detection", "classification"], "dataset": ["tiny-objects"], "limit": 1}
    assert [r["method"] for r in sorted(results["method_leaderboard"], key=lambda r: r["method"])] == [
        "constant",
        "linear_transfer",
        "nearest_token",
        "random_map",
        "ridge(lam=0.1)",
    ]
    assert [r["method"] for r in results["method_leaderboard"] if not r["control"]] == [
        r["method"] for r in results["method_leaderboard"] if r["method"] in ("linear_transfer", "ridge(lam=0.1)")
    ]
    written = json.loads((tmp_path / "leaderboards" / "tiny-quick" / "results.json").read_text())
    assert written == json.loads(json.dumps(results))
    n = len((tmp_path / "leaderboards" / "tiny-quick" / "scores.jsonl").read_text().splitlines())
    # 6 unconstrained words: in-domain and two methods 18, the three controls 18, the untrained anchor
    # in-domain and transferred by each of the two methods 18
    assert n == results["n_scores"] == 18 + 18 + 18
    # the second example reused every result of the first
    assert "{} {'vectors': 6, 'scores': 54}" in printed
    assert namespace["doc"]["n_scores"] == 54 and namespace["doc"]["filters"] is None
