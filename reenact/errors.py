"""Exceptions the library raises for user-facing problems.

Library code raises these with a message that says what was expected and what
came; only the CLI turns them into one line on stderr and a non-zero exit.
"""


class ReenactError(Exception):
    """Base class: a problem the user can fix (bad input, missing file or model)."""


class InputError(ReenactError):
    """An input file is missing, unreadable, empty, or of the wrong kind."""


class NoFaceError(ReenactError):
    """A video or image holds no trackable face (or too few face frames)."""


class FormatError(ReenactError):
    """A saved file (track, model) is corrupt or of another format version."""


class BackendUnavailableError(ReenactError):
    """An inference backend cannot run here (package, provider or GPU missing); the message names the fix."""


class OutputError(ReenactError):
    """An output cannot be written (folder missing or not writable, disk full); existing files are kept."""


class SettingError(ReenactError, ValueError):
    """A setting the user gave is malformed or out of range; the message shows the accepted form.

    Also a `ValueError`, what a bad argument is to Python callers of the library: configs raise it in their
    own checks, and the CLI reports it as one line like every other `ReenactError`."""
