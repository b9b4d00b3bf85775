"""Where `run`, `probe` and `leaderboard` write their tables: into the store unless --out says where, so a
run never overwrites the committed golden file that `check` compares it with."""

from __future__ import annotations

from pathlib import Path

import pytest

from vwbench.cli import build_parser, main

REPO = Path(__file__).resolve().parents[2]
FILES = ("leaderboard.md", "leaderboard.html", "results.json")


def test_run_and_leaderboard_write_into_the_store_not_the_golden_folder(specs, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    golden = tmp_path / "leaderboards" / "mini" / "results.json"
    golden.parent.mkdir(parents=True)
    golden.write_text("the committed golden file")
    assert (
        main(["--specs", str(specs), "run", "--suite", "mini", "--no-deltas", "--store", "runs/mini", "--no-progress"])
        == 0
    )
    out = capsys.readouterr().out
    lb = Path("runs/mini/leaderboard/mini")
    assert f"leaderboard: {lb}/{{" in out and "(in the store; --out DIR puts it elsewhere)" in out
    assert all((lb / f).is_file() for f in FILES)
    assert golden.read_text() == "the committed golden file"
    assert sorted(p.name for p in golden.parent.iterdir()) == ["results.json"]
    built = (lb / "results.json").read_bytes()

    # leaderboard: same default folder, same bytes; the golden file changes only with an explicit --out
    (lb / "results.json").unlink()
    assert main(["leaderboard", "--store", "runs/mini"]) == 0
    assert f"-> {lb}/{{" in capsys.readouterr().out and (lb / "results.json").read_bytes() == built
    assert golden.read_text() == "the committed golden file"
    assert main(["leaderboard", "--store", "runs/mini", "--out", "leaderboards/mini"]) == 0
    assert golden.read_bytes() == built

    # probe shares run's defaults
    assert (
        main(
            [
                "--specs",
                str(specs),
                "probe",
                "--suite",
                "mini",
                "--deltas",
                "0.5",
                "--store",
                "runs/mini",
                "--no-progress",
            ]
        )
        == 0
    )
    assert "(in the store" in capsys.readouterr().out
    assert golden.read_bytes() == built


@pytest.mark.parametrize("cmd", ["run", "probe", "leaderboard"])
def test_help_says_where_the_tables_go(cmd):
    sub = build_parser()._subparsers._group_actions[0].choices[cmd]
    text = " ".join(sub.format_help().split())
    assert "STORE/leaderboard/<suite>/" in text and "--out leaderboards/<suite>" in text
