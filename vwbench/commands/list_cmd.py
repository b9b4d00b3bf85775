"""List the tasks, datasets, concepts, suites, transfer methods or metrics that vwbench knows."""

from __future__ import annotations

HELP = "list tasks, datasets, concepts, suites, methods or metrics"


def add_arguments(p):
    p.add_argument("what", choices=["tasks", "datasets", "concepts", "suites", "methods", "metrics"])
    p.add_argument("--suite", help="only what this suite uses")


def run(args) -> int:
    from tabulate import tabulate

    from vwbench.spec import SpecLibrary

    lib = SpecLibrary(args.specs)
    suite = lib.suite(args.suite) if args.suite else None
    if args.what == "tasks":
        tasks = suite.tasks if suite else [lib.task(n) for n in lib.names("tasks")]
        rows = [
            (t.name, t.task, t.family, t.model.id, t.model.revision or "-", t.image_size, t.template) for t in tasks
        ]
        print(tabulate(rows, headers=["name", "task", "family", "model", "revision", "size", "template"]))
    elif args.what == "datasets":
        datasets = suite.datasets if suite else [lib.dataset(n) for n in lib.names("datasets")]
        rows = [
            (d.name, d.source["format"], d.source["label_rule"], len(d.concepts), ", ".join(d.anchors))
            for d in datasets
        ]
        print(tabulate(rows, headers=["name", "format", "label rule", "concepts", "anchors"]))
    elif args.what == "concepts":
        datasets = suite.datasets if suite else [lib.dataset(n) for n in lib.names("datasets")]
        policy = suite.anchors if suite else "all"
        rows = [
            (d.name, c.id, c.name, c.source_id, c.anchor, ", ".join(d.anchors_for(c, policy)))
            for d in datasets
            for c in d.concepts
        ]
        print(tabulate(rows, headers=["dataset", "concept", "name", "source id", "own anchor", "trained from"]))
        print(f"\n{len(rows)} concepts")
    elif args.what == "suites":
        rows = []
        for n in lib.names("suites"):
            s = lib.suite(n)
            rows.append(
                (
                    s.name,
                    len(s.tasks),
                    len(s.datasets),
                    sum(len(d.concepts) for d in s.datasets),
                    ",".join(map(str, s.anchors)) if isinstance(s.anchors, tuple) else s.anchors,
                    ",".join(map(str, s.deltas)) or "-",
                    s.train.steps,
                    s.description,
                )
            )
        print(
            tabulate(
                rows, headers=["suite", "tasks", "datasets", "concepts", "anchors", "deltas", "steps", "description"]
            )
        )
    elif args.what == "methods":
        from vwbench.transfer import registry

        rows = [(name, doc) for name, doc in registry.describe().items()]
        print(tabulate(rows, headers=["method", "description"]))
    elif args.what == "metrics":
        from vwbench.metrics import METRICS

        rows = []
        for name, doc in METRICS.describe().items():
            rows.append((name, "?" if doc.startswith("(unavailable") else METRICS.get(name).task, doc))
        print(tabulate(rows, headers=["metric", "task", "description"]))
    return 0
