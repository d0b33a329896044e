"""Exit codes scripts can rely on, and the one error type every command ends with."""

from __future__ import annotations

from enum import IntEnum
from typing import Any

__all__ = ["EXIT_CODES_HELP", "CliError", "ExitCode", "exit_code_for_status"]


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    AUTH = 3
    NOT_FOUND = 4
    CONFLICT = 5
    JOB_FAILED = 6
    UNREACHABLE = 7
    RATE_LIMITED = 8
    INTERRUPTED = 130


_MEANING = {
    ExitCode.OK: "success",
    ExitCode.ERROR: "any other error (a server error, a local file problem)",
    ExitCode.USAGE: "wrong arguments or option values (also a request the server calls malformed)",
    ExitCode.AUTH: "not logged in, session expired, wrong email or password, or not allowed",
    ExitCode.NOT_FOUND: "no such job (or not yours)",
    ExitCode.CONFLICT: "the job is not in a state that allows it (e.g. cancel a finished job, MP3 not ready)",
    ExitCode.JOB_FAILED: "a job failed or was cancelled, or the server refused the video (e.g. no audio, too large)",
    ExitCode.UNREACHABLE: "the server (or a service behind it) cannot be reached",
    ExitCode.RATE_LIMITED: "too many attempts: wait and retry",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C): an upload or download resumes when run again",
}

EXIT_CODES_HELP = "**Exit codes**\n\n" + "\n".join(f"* {int(code)}: {text}" for code, text in _MEANING.items())

_BY_STATUS = {
    400: ExitCode.USAGE,
    401: ExitCode.AUTH,
    403: ExitCode.AUTH,
    404: ExitCode.NOT_FOUND,
    409: ExitCode.CONFLICT,
    412: ExitCode.ERROR,
    413: ExitCode.JOB_FAILED,
    415: ExitCode.JOB_FAILED,
    416: ExitCode.CONFLICT,
    422: ExitCode.JOB_FAILED,
    423: ExitCode.CONFLICT,
    429: ExitCode.RATE_LIMITED,
    502: ExitCode.UNREACHABLE,
    503: ExitCode.UNREACHABLE,
    504: ExitCode.UNREACHABLE,
}


def exit_code_for_status(status: int) -> ExitCode:
    return _BY_STATUS.get(status, ExitCode.ERROR)


class CliError(Exception):
    """What ends a command unsuccessfully: a message for people, a code for scripts and,
    for errors the server answered, its problem document."""

    def __init__(
        self,
        message: str,
        code: ExitCode = ExitCode.ERROR,
        *,
        status: int | None = None,
        hint: str | None = None,
        problem: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message, self.code, self.status, self.hint = message, code, status, hint
        self.problem = problem
        """The server's problem document, when the server answered one."""
