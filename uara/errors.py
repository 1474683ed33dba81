"""User-facing errors. Each prints as one line that names what is wrong.

The CLI catches :class:`UaraError` and prints ``uara: error: <message>`` with a
non-zero exit status; nothing else is caught there, so a bug still shows its
traceback.
"""

from __future__ import annotations


class UaraError(ValueError):
    """Base class of every error a user can cause with bad input."""


class InstanceError(UaraError):
    """An instance (file or object) is malformed.

    ``field`` is the JSON path of the offending value, e.g. ``slots[3].gain_db[12][4]``.
    """

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)


class SolutionError(UaraError):
    """A solution (decisions or file) is malformed or infeasible for its instance."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)


class SolverError(UaraError):
    """A solver was misused: unknown name, bad option, or instance out of its reach."""


class MissingDependencyError(UaraError):
    """An optional package is needed for this feature and is not installed."""

    def __init__(self, package: str, extra: str, feature: str = ""):
        self.package = package
        self.extra = extra
        what = f" for {feature}" if feature else ""
        super().__init__(
            f"the optional package '{package}' is needed{what}: "
            f"pip install 'uara[{extra}]' (or run `make demo`)"
        )
