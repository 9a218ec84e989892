"""Every public exception swerm raises, in one place.

Each is a :class:`SwermError`, so a script can catch them all, and also a subclass of the
built-in exception it most resembles (``ValueError`` for bad input, ``RuntimeError`` for an
environment that cannot do the job), so existing ``except ValueError`` code keeps working.
``hint`` is the one line the command line prints under the error, saying what to do.
"""

from __future__ import annotations

from pathlib import Path


class SwermError(Exception):
    """Base class; ``hint`` (optional) says what to do about it."""

    hint: str | None = None

    def __init__(self, message: str = "", *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class ConfigError(SwermError, ValueError):
    """A configuration value or key is wrong; the message names where it came from."""


class PluginError(SwermError, RuntimeError):
    """A plugin failed to load or returned something unusable; the message names it."""


class InputFormatError(SwermError, ValueError):
    """An input file is not what it should be; the message names file, line or record, field,
    and what was expected."""

    def __init__(
        self,
        path: str | Path,
        problem: str,
        *,
        record: int | str | None = None,
        field: str | None = None,
        expected: str | None = None,
        line: int | None = None,
    ) -> None:
        self.path = str(path)
        self.record = record
        self.field = field
        self.expected = expected
        self.line = line
        self.problem = problem
        where = self.path
        if line is not None:
            where += f", line {line}"
        if record is not None:
            where += f", record {record}"
        if field is not None:
            where += f", field '{field}'"
        message = f"{where}: {problem}"
        if expected:
            message += f" (expected {expected})"
        super().__init__(message)

    def __reduce__(self) -> tuple[object, ...]:  # pickles across processes (Ray, workers)
        return (_rebuild_input_error, (type(self), self.path, self.problem, self._fields()))

    def _fields(self) -> dict[str, object]:
        return {
            "record": self.record,
            "field": self.field,
            "expected": self.expected,
            "line": self.line,
        }


def _rebuild_input_error(
    cls: type[InputFormatError], path: str, problem: str, fields: dict[str, object]
) -> InputFormatError:
    return cls(path, problem, **fields)  # type: ignore[arg-type]


class TrajectoryFormatError(InputFormatError):
    """A file is not a readable trajectory (or predictions, or report) file."""


class UnknownTemplateError(SwermError, KeyError):
    """No prompt template is registered under the requested name."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class PromptRenderError(SwermError, ValueError):
    """A trajectory could not be rendered with this tokenizer/template; the message says why."""


class PromptTooLong(PromptRenderError):
    """Even after every allowed cut, the prompt does not fit the token budget."""


class BackendUnavailable(SwermError, RuntimeError):
    """The backend cannot run here (missing extra, no server); the message says what to do."""


class RemoteError(SwermError, RuntimeError):
    """A request to an inference server failed for good; the message says why and what to do."""

    def __init__(self, message: str, *, attempts: int, status: int | None = None) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.status = status


class VerifierError(SwermError, RuntimeError):
    """Scoring failed and ``on_error = "raise"`` asked for the failure to propagate."""


class CalibrationError(SwermError, ValueError):
    """Scores or labels cannot be used as given; the message says what to change."""


class NotFittedError(CalibrationError):
    """``transform`` was called before ``fit``."""


class InfeasibleTargetError(CalibrationError):
    """No threshold reaches the target precision with the requested confidence."""


class CandidatesError(SwermError, ValueError):
    """Runs, labels or scores do not fit together; the message says which file and why."""


class RewardError(SwermError, ValueError):
    """A reward cannot be computed from what was given; the message says what is missing."""


class PredictionsWriteError(SwermError, ValueError):
    """Predictions could not be written as asked (unknown suffix, duplicate ids in a .json)."""


class OutputFileError(SwermError, ValueError):
    """An output file exists but is not swerm's own, or is an input; swerm will not touch it."""


class SubmissionError(SwermError, ValueError):
    """A leaderboard submission folder cannot be written as asked; the message says why."""


class ConversionError(SwermError, ValueError):
    """A model cannot be converted as asked (``swerm convert``); the message says why."""


class IntegrationError(SwermError, RuntimeError):
    """An integration cannot run as configured; the message says what to change."""


class PlotsUnavailable(SwermError, RuntimeError):
    """matplotlib is not installed."""


class ScaleError(SwermError, RuntimeError):
    """A Ray batch job cannot start (Ray missing, cluster unreachable, bad settings) or stopped;
    finished shards are kept, so the same command resumes it."""


class ServeError(SwermError, RuntimeError):
    """``swerm serve`` cannot start as asked (the address is taken, a setting is wrong)."""


class JudgeError(SwermError, ValueError):
    """A judge pool or exemplars file is not usable, or exemplars cannot be chosen as asked;
    the message names the file and says what to do."""


class DistillError(SwermError, ValueError):
    """A distillation cannot run as asked (teacher scores, student, output folder); the message
    says what to change."""
