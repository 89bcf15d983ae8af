"""The one exception type a user sees: a message that names the file and the problem.

Every layer raises `AmbientError` for bad input; the CLI prints its message as a single
line and exits non-zero. Anything else that escapes is a bug and shows a traceback
only under `--debug`.
"""


class AmbientError(Exception):
    """Bad input or a broken file, described in one line the user can act on."""


class ParameterError(AmbientError, ValueError):
    """A setting out of range, named as the Python API names it (`top_p`).

    The CLI shows the flag a user typed instead (`--top-p`); a Python caller sees the
    parameter it passed.
    """

    def __init__(self, parameter: str, problem: str):
        self.parameter, self.problem = parameter, problem
        super().__init__(f"{parameter} {problem}")
