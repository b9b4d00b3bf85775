"""`vwbench zoo build micro` (vwbench/tools/micro_build.py): bad input refused, training into a given folder, and
parallel builds equal to sequential ones."""

from vwbench.cli import main


def test_zoo_build_rejects_bad_input(capsys):
    assert main(["zoo", "build", "micro", "--only", "dalle"]) == 2
    assert "unknown micro model 'dalle'" in capsys.readouterr().err
    assert main(["zoo", "build", "micro", "--scale", "0"]) == 2
    assert main(["zoo", "build", "micro", "--jobs", "0"]) == 2
    assert main(["zoo", "check", "micro", "--samples", "3"]) == 2


def test_zoo_build_cli_trains_into_the_given_folder(tmp_path):
    assert (
        main(
            [
                "zoo",
                "build",
                "micro",
                "--only",
                "clip-evaluator",
                "--scale",
                "0.002",
                "--out",
                str(tmp_path),
                "--no-progress",
            ]
        )
        == 0
    )
    assert (tmp_path / "clip-evaluator.safetensors").is_file() and (tmp_path / "clip-evaluator.json").is_file()


def test_parallel_build_gives_the_same_weights_as_a_sequential_one(tmp_path):
    from vwbench.tools.micro_build import build

    models = ["clip", "clip-evaluator"]
    reports = {
        jobs: list(build(tmp_path / str(jobs), models, scale=0.002, progress=False, jobs=jobs)) for jobs in (1, 2)
    }
    assert sorted(r["model"] for r in reports[2]) == models
    for name in models:
        assert (tmp_path / "1" / f"{name}.safetensors").read_bytes() == (
            tmp_path / "2" / f"{name}.safetensors"
        ).read_bytes()
