"""`vwbench run --shard I/N` and `vwbench store merge`: merged shards give the unsharded run's records and
leaderboard; bad shard specs, conflicting records and mismatched stores are one-line errors that write nothing."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest
from run_fixtures import spec_root

from vwbench.cli import main

SHARDED = """
name: sharded
tasks: [tiny-generation, tiny-detection, tiny-classification]
datasets: [tiny-objects]
anchors: 2
deltas: [0.5]
train: {steps: 2, lr: 0.05, batch_size: 4, seed: 0, concepts_per_batch: 4}
controls: [anchor, constant]
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One unsharded run and the three shards of the same suite, each into its own store, plus their merge."""
    tmp = tmp_path_factory.mktemp("shards")
    specs = spec_root(tmp / "specs", sharded=SHARDED)

    def run(*args):
        assert (
            main(["--specs", str(specs), "run", "--suite", "sharded", "--device", "cpu", "--no-progress", *args]) == 0
        )

    run("--store", str(tmp / "whole"), "--out", str(tmp / "whole-lb"))
    for i in (1, 2, 3):
        run("--store", str(tmp / f"s{i}"), "--out", str(tmp / f"s{i}-lb"), "--shard", f"{i}/3")
    assert main(["store", "merge", *(str(tmp / f"s{i}") for i in (1, 2, 3)), "--into", str(tmp / "merged")]) == 0
    assert (
        main(
            [
                "--specs",
                str(specs),
                "leaderboard",
                "--store",
                str(tmp / "merged"),
                "--suite",
                "sharded",
                "--out",
                str(tmp / "merged-lb"),
            ]
        )
        == 0
    )
    return tmp, specs


def keys(store, table):
    with sqlite3.connect(store / "results.sqlite") as conn:
        return [r[0] for r in conn.execute(f"SELECT key FROM {table} ORDER BY key")]


def test_shards_are_disjoint_and_cover_every_record(runs):
    tmp, _ = runs
    for table in ("vectors", "scores"):
        parts = [set(keys(tmp / f"s{i}", table)) for i in (1, 2, 3)]
        assert all(parts) and sum(map(len, parts)) == len(set.union(*parts))  # disjoint, none empty
        assert set.union(*parts) == set(keys(tmp / "whole", table))
        assert keys(tmp / "merged", table) == keys(tmp / "whole", table)
    sizes = [len(keys(tmp / f"s{i}", "vectors")) for i in (1, 2, 3)]
    assert max(sizes) - min(sizes) <= 3  # one word more at most per (dataset, task)
    assert set(keys(tmp / "merged", "fits")) == set(keys(tmp / "whole", "fits"))


def test_merged_leaderboard_equals_the_unsharded_one(runs):
    tmp, _ = runs
    whole = json.loads((tmp / "whole-lb" / "results.json").read_text())
    merged = json.loads((tmp / "merged-lb" / "results.json").read_text())
    assert whole["n_scores"] == merged["n_scores"] > 0
    for part in ("cells", "per_concept", "method_leaderboard", "permutation_test", "datasets"):
        assert merged[part] == whole[part], part
    assert len(merged["provenance"]["runs"]) == 3
    assert (tmp / "merged-lb" / "leaderboard.md").read_text() == (tmp / "whole-lb" / "leaderboard.md").read_text()
    # a single shard's leaderboard is not the whole one
    assert json.loads((tmp / "s1-lb" / "results.json").read_text())["n_scores"] < whole["n_scores"]


def test_merged_store_records_the_shards(runs):
    tmp, _ = runs
    with sqlite3.connect(tmp / "merged" / "results.sqlite") as conn:
        shards = sorted(json.loads(m)["shard"] for (m,) in conn.execute("SELECT meta_json FROM runs"))
    assert shards == ["1/3", "2/3", "3/3"]
    from vwbench.store import Store

    with Store(tmp / "merged", readonly=True) as store:
        assert store.verify() == []  # every row's file is there and intact, no stray files


@pytest.mark.parametrize("shard", ["3/2", "0/0", "1/0", "a/b", "1/2/3", "-1/2", "0/3"])
def test_bad_shard_specs_are_one_line_errors_and_write_nothing(runs, tmp_path, capsys, shard):
    _, specs = runs
    code = main(
        [
            "--specs",
            str(specs),
            "run",
            "--suite",
            "sharded",
            "--device",
            "cpu",
            "--no-progress",
            "--store",
            str(tmp_path / "s"),
            f"--shard={shard}",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("vwbench run: error: --shard") and "\n" not in err
    assert not (tmp_path / "s").exists()


def _error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    return err


def test_conflicting_records_are_named_and_nothing_is_written(runs, tmp_path, capsys):
    tmp, _ = runs
    other = tmp_path / "other"
    shutil.copytree(tmp / "s1", other)
    with sqlite3.connect(other / "results.sqlite") as conn:
        key = conn.execute("SELECT key FROM scores ORDER BY key LIMIT 1").fetchone()[0]
        conn.execute("UPDATE scores SET value = value + 0.25 WHERE key = ?", (key,))
    err = _error(capsys, ["store", "merge", str(tmp / "s1"), str(other), "--into", str(tmp_path / "m")])
    assert f"conflicting records for key {key}" in err and "score of" in err
    assert not (tmp_path / "m").exists() and [p.name for p in tmp_path.iterdir()] == ["other"]
    # the same records twice are no conflict: kept once
    assert (
        main(
            ["store", "merge", str(tmp / "s1"), str(tmp / "s2"), str(tmp_path / "other"), "--into", str(tmp_path / "m")]
        )
        == 2
    )
    shutil.rmtree(other)
    shutil.copytree(tmp / "s1", other)
    assert main(["store", "merge", str(tmp / "s1"), str(other), "--into", str(tmp_path / "m")]) == 0
    assert keys(tmp_path / "m", "scores") == keys(tmp / "s1", "scores")


def test_a_vector_that_differs_is_a_conflict(runs, tmp_path, capsys):
    from vwbench.store import Store

    tmp, _ = runs
    other = tmp_path / "other"
    shutil.copytree(tmp / "s2", other)
    with Store(other) as store:
        key, trial, meta = store.vectors()[0]
        tensor, _ = store.get_vector(key)
        store.put_vector(key, trial, tensor + 1e-3, meta)
    err = _error(capsys, ["store", "merge", str(tmp / "s2"), str(other), "--into", str(tmp_path / "m")])
    assert f"conflicting records for key {key} (vector of" in err and not (tmp_path / "m").exists()


def test_mismatched_stores_are_refused(runs, tmp_path, capsys):
    tmp, _ = runs
    err = _error(capsys, ["store", "merge", str(tmp / "s1"), str(tmp / "s1"), "--into", str(tmp_path / "m")])
    assert "named twice" in err
    err = _error(capsys, ["store", "merge", str(tmp / "s1"), "--into", str(tmp_path / "m")])
    assert "at least two" in err
    err = _error(capsys, ["store", "merge", str(tmp / "s1"), str(tmp / "s2"), "--into", str(tmp / "s3")])
    assert "already exists" in err
    renamed = tmp_path / "renamed"
    shutil.copytree(tmp / "s2", renamed)
    with sqlite3.connect(renamed / "results.sqlite") as conn:
        for table in ("vectors", "scores"):
            conn.execute(f"UPDATE {table} SET suite = 'other'")
        conn.execute("UPDATE runs SET meta_json = json_set(meta_json, '$.suite', 'other')")
    err = _error(capsys, ["store", "merge", str(tmp / "s1"), str(renamed), "--into", str(tmp_path / "m")])
    assert "different suites" in err and "sharded" in err and "other" in err
    newer = tmp_path / "newer"
    shutil.copytree(tmp / "s2", newer)
    with sqlite3.connect(newer / "results.sqlite") as conn:
        conn.execute("UPDATE meta SET value = '2' WHERE name = 'schema_version'")
    err = _error(capsys, ["store", "merge", str(tmp / "s1"), str(newer), "--into", str(tmp_path / "m")])
    assert "schema version 2" in err
    assert not (tmp_path / "m").exists()
