"""Write the example embeddings submission for the tiny suite (run once; its output is committed).

Vectors are random (seeded), not learned: the example shows the format, not a result. One vwbench-format
file per task model with one key per trial (`dataset/concept/anchor`), plus one file in diffusers' single-key
`{token: tensor}` format for a δ-ball trial, whose entry therefore needs no `key`.

    python submissions/example-embeddings/make.py
"""

from pathlib import Path

import torch
import yaml
from safetensors.torch import save_file

HERE = Path(__file__).resolve().parent
TASKS = {"tiny-generation": 32, "tiny-detection": 48, "tiny-classification": 64}  # text widths of the tiny models
DATASETS = {
    "tiny-objects": (["red_square", "blue_circle", "green_triangle"], ["square", "circle", "triangle"]),
    "tiny-scenes": (["yellow_star", "purple_ring", "white_cross"], ["star", "ring", "cross"]),
}


def main() -> None:
    g = torch.Generator().manual_seed(0)
    entries = []
    for task, width in TASKS.items():
        tensors = {}
        for dataset, (concepts, anchors) in DATASETS.items():
            for concept in concepts:
                for anchor in anchors:
                    key = f"{dataset}/{concept}/{anchor}"
                    tensors[key] = (0.02 * torch.randn(1, width, generator=g)).contiguous()
                    entries.append(
                        {
                            "dataset": dataset,
                            "concept": concept,
                            "anchor": anchor,
                            "task": task,
                            "file": f"{task}.safetensors",
                            "key": key,
                        }
                    )
        save_file(tensors, str(HERE / f"{task}.safetensors"), metadata={"format": "pt"})
    # diffusers' load_textual_inversion format: a single key, the token
    save_file(
        {"<red_square>": 0.02 * torch.randn(1, 32, generator=g)},
        str(HERE / "red_square-delta0.5.safetensors"),
        metadata={"format": "pt"},
    )
    entries.append(
        {
            "dataset": "tiny-objects",
            "concept": "red_square",
            "anchor": "square",
            "task": "tiny-generation",
            "file": "red_square-delta0.5.safetensors",
            "delta": 0.5,
        }
    )
    header = {
        "name": "example-embeddings",
        "kind": "embeddings",
        "version": "1.0.0",
        "authors": ["vwbench maintainers"],
        "description": "Random seeded vectors in the submission format for the tiny suite (a format example, not a result).",
        "suite": "tiny",
    }
    lines = [
        "# Written by make.py; see submissions/README.md.",
        yaml.safe_dump(header, sort_keys=False).strip(),
        "entries:",
    ]
    lines += ["  - " + yaml.safe_dump(e, sort_keys=False, default_flow_style=True, width=1000).strip() for e in entries]
    (HERE / "submission.yaml").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
