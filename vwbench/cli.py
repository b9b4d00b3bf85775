"""The `vwbench` command line. Each subcommand lives in `vwbench/commands/<name>.py` and imports heavy
libraries (torch, diffusers, open_clip) only when it runs, so `vwbench --help` and `vwbench list` stay fast."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys

from vwbench import __version__
from vwbench.errors import VWBenchError

# subcommand name -> module under vwbench.commands (order is the order shown in --help)
COMMANDS = {
    "plan": "plan",
    "run": "run",
    "learn": "learn",
    "probe": "probe",
    "leaderboard": "leaderboard",
    "analyze": "analyze",
    "check": "check",
    "store": "store_cmd",
    "data": "data_cmd",
    "zoo": "zoo_cmd",
    "models": "models",
    "bench": "bench",
    "list": "list_cmd",
    "validate": "validate",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vwbench",
        description="Learn new visual words in generation, detection and classification models, transfer "
        "them across models, and score them (Trabucco et al. 2024).",
    )
    parser.add_argument("--version", action="version", version=f"vwbench {__version__}")
    parser.add_argument(
        "--specs",
        metavar="DIR",
        help="spec folder with tasks/, datasets/ and suites/ (default: $VWBENCH_SPECS, else the specs shipped in the package, vwbench/specs/)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        if importlib.util.find_spec(f"vwbench.commands.{module}") is None:
            continue  # a subcommand ships only once its module exists
        mod = importlib.import_module(f"vwbench.commands.{module}")
        p = sub.add_parser(name, help=mod.HELP, description=mod.__doc__)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader went away


def _stdout_closed() -> int:
    """The reader of stdout went away (`vwbench list concepts | head`): stop quietly. Point stdout at
    /dev/null so that the interpreter's final flush does not raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
    return EXIT_BROKEN_PIPE


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    try:
        code = int(args._run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows up here when the output fitted in the buffer
        return code
    except BrokenPipeError:
        return _stdout_closed()
    except VWBenchError as exc:
        print(f"vwbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vwbench: interrupted; finished results are kept, rerun to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
