"""Prepare and check dataset manifests.

`vwbench data prepare DATASET --root PATH` reads a dataset in its own on-disk format (ImageNet ILSVRC, DreamBooth,
COCO 2017, PASCAL VOC; nothing is downloaded), chooses each concept's train and test images with the spec's seed,
checks them and writes a JSON-lines manifest (default data/DATASET.jsonl). `vwbench data check DATASET MANIFEST`
verifies a manifest against the spec and the image files. See docs/datasets.md."""

from __future__ import annotations

import sys

HELP = "prepare (and check) manifests of the real datasets"


def add_arguments(p):
    sub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    prep = sub.add_parser(
        "prepare",
        help="write a dataset's manifest from its folder on disk",
        description="Write a dataset's manifest from its folder on disk (nothing is downloaded).",
    )
    prep.add_argument("dataset", help="a dataset spec name (vwbench list datasets)")
    prep.add_argument("--root", required=True, metavar="PATH", help="the dataset's folder")
    prep.add_argument("--out", metavar="FILE", help="manifest to write (default: data/DATASET.jsonl)")
    prep.add_argument(
        "--skip-bad",
        action="store_true",
        help="skip unreadable images and bad boxes (and report how many) instead of stopping",
    )
    prep.add_argument(
        "--boxes",
        metavar="FILE|owlv2",
        help='DreamBooth only: a JSON boxes file {"subject/file.jpg": [[x0,y0,x1,y1], ...]}, '
        "or `owlv2` to detect them with the detection task's model",
    )
    prep.add_argument(
        "--detection-task",
        default="detection",
        metavar="NAME",
        help="task spec whose model `--boxes owlv2` uses (default: detection)",
    )
    prep.add_argument(
        "--owl-threshold",
        type=float,
        default=0.1,
        metavar="S",
        help="minimum OWLv2 score of a derived box (default 0.1)",
    )
    prep.add_argument("--device", help="device for `--boxes owlv2` (default: cuda if available)")
    chk = sub.add_parser("check", help="verify a manifest against its spec and image files")
    chk.add_argument("dataset")
    chk.add_argument("manifest", metavar="FILE")
    chk.add_argument("--root", metavar="PATH", help="the dataset's folder, if it moved since `prepare`")


def run(args) -> int:
    from vwbench.spec import SpecLibrary

    lib = SpecLibrary(args.specs)
    spec = lib.dataset(args.dataset)
    if args.data_command == "check":
        return _check(args, spec)
    return _prepare(args, lib, spec)


def _prepare(args, lib, spec) -> int:
    from vwbench.data.manifest import prepare_manifest
    from vwbench.errors import VWBenchError

    out = args.out or f"data/{spec.name}.jsonl"
    boxes_file = box_fn = box_info = None
    boxes = args.boxes or ("owlv2" if spec.source.get("boxes") == "owlv2" else None)  # the spec may ask for owlv2
    if boxes == "owlv2":
        from vwbench.data import formats

        if not formats.get(spec).needs_boxes:
            raise VWBenchError(f"--boxes applies to DreamBooth only; dataset {spec.name!r} ships its own boxes")
        from vwbench.tools.autoboxes import owlv2_from_task

        task = lib.task(args.detection_task)
        if task.family != "owlv2":
            raise VWBenchError(f"task {task.name!r} is not an OWLv2 task (family {task.family!r})")
        box_fn, box_info = owlv2_from_task(task, device=args.device, threshold=args.owl_threshold)
    elif boxes:
        boxes_file = boxes
    result = prepare_manifest(
        spec,
        args.root,
        out,
        skip_bad=args.skip_bad,
        boxes_file=boxes_file,
        box_fn=box_fn,
        box_info=box_info,
        progress=lambda m: print(f"  {m}", file=sys.stderr),
    )
    header = result["header"]
    n_train = sum(c["train"] for c in header["counts"].values())
    n_test = sum(c["test"] for c in header["counts"].values())
    print(
        f"wrote {result['path']}: {spec.name}, {len(header['counts'])} concepts, {n_train} train and "
        f"{n_test} test images (root {header['root']})"
    )
    short = [c for c, n in header["counts"].items() if n["test"] < int(spec.split["test_images"])]
    if short:
        print(
            f"note: fewer than {spec.split['test_images']} test images for "
            + ", ".join(f"{c} ({header['counts'][c]['test']})" for c in short)
        )
    if result["skipped"]:
        print(f"skipped {len(result['skipped'])} bad images (--skip-bad); first: {result['skipped'][0]}")
    return 0


def _check(args, spec) -> int:
    from vwbench.data.manifest import load_manifest

    data = load_manifest(args.manifest, spec, root=args.root)
    n_train, n_test = len(data.all_train()), len(data.all_test())
    print(
        f"ok: {args.manifest}: {spec.name}, {len(data.concepts)} concepts, {n_train} train and {n_test} test "
        "images, all hashes match"
    )
    return 0
