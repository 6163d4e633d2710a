"""The package's own exceptions: each message names the file or value and says how to fix it."""


class TutorialError(Exception):
    """Base class: anything the CLI reports as one line on stderr, with exit status 2 (a diverged run: 1)."""


class ConfigError(TutorialError, ValueError):
    """A setting out of range or unavailable on this machine."""


class DataError(TutorialError, OSError):
    """A data file that is missing, unreadable, truncated or malformed, or a download that failed."""


class CheckpointError(TutorialError, OSError):
    """A checkpoint that is missing, unreadable, or of another shape."""


class OutputError(TutorialError, OSError):
    """An output file (metrics, figures) that cannot be written."""


class TrainingDivergedError(TutorialError, ArithmeticError):
    """The loss became NaN or infinite."""
