"""The shipped micro weights (vwbench/models/micro/weights/): SD generates the prompted colour, and the default suite
learns a word with them."""

import pytest

from vwbench.cli import main


def test_shipped_sd_generates_the_prompted_colour_above_chance():
    from vwbench.models.micro import sd, sd_colour

    pipe = sd.load()
    pipe.set_progress_bar_config(disable=True)
    assert sd_colour.colour_accuracy(pipe, n_prompts=30) > 3 * 0.1  # 10 known colours


@pytest.mark.parametrize("task", ["micro-classification", "micro-detection"])
def test_default_suite_learns_a_word_with_the_shipped_models(task, tmp_path, capsys):
    assert (
        main(
            [
                "learn",
                "--task",
                task,
                "--dataset",
                "micro-objects",
                "--concept",
                "hexagon",
                "--steps",
                "5",
                "--out",
                str(tmp_path),
                "--no-progress",
            ]
        )
        == 0
    )
    assert list(tmp_path.rglob("*.safetensors"))
    assert "hexagon" in capsys.readouterr().out
