"""Pieces shared by every wing of drlab: errors, seeding, atomic and safe file I/O, device choice,
typed dataclass configs turned into command-line options, plotting and run directories.

Nothing here imports torch or matplotlib at module level; the functions that need them import them.
"""

from drlab.common.errors import DrlabError, UsageError

__all__ = ["DrlabError", "UsageError"]
