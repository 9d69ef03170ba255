"""The two kinds of error a user can meet, and the exit codes the CLI gives them.

The CLI prints ``error: <message>`` on one line of stderr, with no traceback, and exits with
``exit_code``: 2 for bad input (a wrong argument, a malformed file, a checkpoint from another run),
1 for a failure of the world (every download mirror failed, a training run diverged).
"""

from __future__ import annotations


class DrlabError(Exception):
    """A failure the user can understand and act on; the CLI prints it as one line and exits 1."""

    exit_code: int = 1


class UsageError(DrlabError, ValueError):
    """Bad input from the user (argument, file, checkpoint); the CLI prints it and exits 2."""

    exit_code = 2
