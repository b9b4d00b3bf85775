"""The `vwbench` entry point: help lists the subcommands and stays light (no heavy imports)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys

import pytest

from vwbench import cli


def _shipped_commands() -> list[str]:
    return [n for n, m in cli.COMMANDS.items() if importlib.util.find_spec(f"vwbench.commands.{m}") is not None]


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    shipped = _shipped_commands()
    assert {"list", "validate"} <= set(shipped)
    for name in shipped:
        assert re.search(rf"^    {re.escape(name)}(\s|$)", out, re.MULTILINE), name
    assert "--specs" in out


def test_no_command_prints_help(capsys):
    assert cli.main([]) == 0
    assert "validate" in capsys.readouterr().out


def test_unknown_subcommand_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["no-such-command"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_help_does_not_import_heavy_libraries():
    code = (
        "import sys\n"
        "from vwbench.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('HEAVY', sorted(m for m in ('diffusers', 'open_clip', 'transformers', 'torch') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "validate" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == "HEAVY []"


def test_module_entry_point_runs():
    proc = subprocess.run(
        [sys.executable, "-m", "vwbench", "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0 and proc.stdout.startswith("vwbench ")
