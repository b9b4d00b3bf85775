"""The paper's analyses of learned words (PROTOCOL.md section 10; docs/report.md).

`vwbench analyze truncation`: generate and score learned and anchor words with the generation model's text
encoder truncated after N blocks, with and without its final LayerNorm; plots the score against N.
`vwbench analyze layers`: per-layer pooled activations of prompts with learned words and their anchors in every
text tower; linear-probe decodability of the concept by layer and a t-SNE of four layers.

The words come from the suite's store; missing ones are learned first (in-domain only, with the suite's keys, so
`vwbench run` reuses them). Defaults keep the work to minutes on 2 CPU cores: the suite's first dataset and a few
concepts; --dataset, --concept and --limit take more. Figures and JSON go to STORE/analysis/SUITE/ unless --out."""

from __future__ import annotations

HELP = "the paper's analyses: text-encoder truncation, per-layer probes and t-SNE"
DEFAULT_LIMIT = {"truncation": 4, "layers": 10}


def add_arguments(p):
    sub = p.add_subparsers(dest="analysis", metavar="ANALYSIS", required=True)
    for name, text in (
        ("truncation", "score words with the generation text encoder cut after N blocks"),
        ("layers", "per-layer probes and t-SNE of the pooled token in every text tower"),
    ):
        q = sub.add_parser(name, help=text, description=text)
        q.add_argument("--suite", default="micro", help="suite name or YAML file (default: micro)")
        q.add_argument("--store", metavar="DIR", help="results store (default: vwbench-runs/<suite>)")
        q.add_argument("--out", metavar="DIR", help="output folder (default: STORE/analysis/<suite>/<analysis>/)")
        q.add_argument("--dataset", action="append", metavar="D", help="dataset (repeatable; default: the first)")
        q.add_argument("--concept", action="append", metavar="C", help="concept id (repeatable)")
        q.add_argument(
            "--limit",
            metavar="N",
            default=str(DEFAULT_LIMIT[name]),
            help=f"at most N concepts per dataset (default: {DEFAULT_LIMIT[name]})",
        )
        q.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
        q.add_argument("--no-progress", action="store_true", help="no progress bars")
        if name == "truncation":
            q.add_argument(
                "--blocks",
                metavar="N,N,...",
                help="blocks to keep (default: all for small encoders, else 7 evenly spaced from 0 to all)",
            )
            q.add_argument(
                "--images",
                metavar="N",
                help="images generated per word and setting (default: the task's images_per_trial)",
            )


def run(args) -> int:
    from pathlib import Path

    from vwbench import analysis
    from vwbench.commands.filters import integer
    from vwbench.errors import VWBenchError
    from vwbench.selection import Selection
    from vwbench.spec import SpecLibrary
    from vwbench.store import Store, default_root

    suite = SpecLibrary(args.specs).suite(args.suite)
    datasets = tuple(args.dataset or (suite.datasets[0].name,))
    tasks = ("generation",) if args.analysis == "truncation" else ()
    select = Selection(tasks, datasets, tuple(args.concept or ()), integer("--limit", args.limit, minimum=1))
    select.check(suite)
    if args.analysis == "truncation" and not select.task_specs(suite):
        raise VWBenchError(f"suite {suite.name!r} has no generation task to truncate")
    blocks = images = None
    if args.analysis == "truncation":
        if args.blocks:
            blocks = [integer("--blocks", b, minimum=0) for b in args.blocks.split(",") if b.strip()]
        if args.images:
            images = integer("--images", args.images, minimum=1)
    store = Store(Path(args.store) if args.store else default_root(suite.name))
    with store:
        study, found = analysis.words(suite, store, select, args.device, progress=not args.no_progress)
        out = Path(args.out) if args.out else analysis.out_dir(store.root, study.name, args.analysis)
        if args.analysis == "truncation":
            from vwbench.analysis import truncation

            for w in found:
                if images:
                    analysis.with_metric(w.model, images_per_trial=images)
                r = truncation.run(w, out, blocks, progress=not args.no_progress)
                full = r["curves"]["learned"][-1]
                print(
                    f"{r['dataset']}: {len(r['concepts'])} words, blocks {r['blocks']} of {r['blocks_total']}; "
                    f"learned word at N={full['blocks']}: {full['mean']:.3f}, anchor: "
                    f"{r['curves']['anchor'][-1]['mean']:.3f}"
                )
        else:
            from vwbench.analysis import layers

            for r in layers.run(found, out, progress=not args.no_progress):
                acc = r["probe_accuracy"]
                print(
                    f"{r['dataset']} {r['kind']}: probe accuracy by block, learned "
                    f"{' '.join(f'{a:.2f}' for a in acc['learned'])}; anchor "
                    f"{' '.join(f'{a:.2f}' for a in acc['anchor'])} (chance {r['chance']:.2f})"
                )
    print(f"{args.analysis}: {out}/")
    return 0
