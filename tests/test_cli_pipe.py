"""`vwbench list concepts --suite paper | head`: a reader that goes away early ends the command quietly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vwbench.cli import EXIT_BROKEN_PIPE

REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}


@pytest.mark.parametrize("args", [["list", "concepts", "--suite", "paper"], ["list", "suites"]])
def test_reader_closed_before_any_output(args):
    proc = subprocess.Popen(
        [sys.executable, "-m", "vwbench", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV
    )
    proc.stdout.close()  # the reader is gone before vwbench writes a byte
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == EXIT_BROKEN_PIPE
    assert err == "", err  # no BrokenPipeError traceback, no 'Exception ignored' at exit


def test_head_reading_one_line():
    """A real pipeline: `head -n 1` reads the first line and exits; the writer keeps writing."""
    code = (
        "import sys; from vwbench.cli import main\n"
        "sys.argv = ['vwbench']\n"
        "for _ in range(50):\n"
        "    code = main(['list', 'concepts', '--suite', 'paper'])\n"
        "    if code: sys.exit(code)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    head = subprocess.Popen(["head", "-n", "1"], stdin=proc.stdout, stdout=subprocess.PIPE)
    proc.stdout.close()  # only head holds the read end
    first = head.communicate(timeout=60)[0].decode()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == EXIT_BROKEN_PIPE  # 50 tables never fit in the pipe: the write fails
    assert first.split()[:2] == ["dataset", "concept"]
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
