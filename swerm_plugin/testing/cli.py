"""Running the ``swerm`` command line in-process, as a user's shell would: through
:func:`swerm_plugin.cli.main`, with its error format and exit codes, output captured."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass


@dataclass(frozen=True)
class CliResult:
    """What one ``swerm`` invocation printed, and how it exited."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """stdout and stderr together (results, then messages)."""
        return self.stdout + self.stderr


def run_cli(*args: object) -> CliResult:
    """``swerm ARGS...`` in this process; every argument is passed as ``str``."""
    from swerm_plugin.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(arg) for arg in args])
    return CliResult(code, out.getvalue(), err.getvalue())
