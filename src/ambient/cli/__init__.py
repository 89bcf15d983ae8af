"""The `ambient` command: argument parsing and printing only.

Each command is a thin call into a layer, and imports that layer only when it runs, so
`ambient --help`, `ambient seeds` or `ambient render` never pay for torch. Commands live
in one module per group: `music` (make and hear pieces), `collection` (records to notes
to a model), `pipeline` (the incremental pipeline); `output` prints.

Bad input arrives here as an `AmbientError` and leaves as one line on stderr and exit
status 1 (`--debug` shows the traceback). A `ParameterError` names the layer's parameter
(`top_p`); the user sees the flag they typed (`--top-p`).
"""

from __future__ import annotations

import sys

import typer

from ambient.cli import collection, compose, evaluate, music, pipeline, stream, studio
from ambient.cli.output import flag_for, print_error, say
from ambient.errors import AmbientError, ParameterError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Learn ambient music from a collection and generate new pieces you can hear.")
_debug = False


@app.callback()
def _options(debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors.")):
    global _debug
    _debug = debug


for group in (music, compose, collection, evaluate, stream, studio):
    group.register(app)
app.add_typer(pipeline.app, name="pipeline")


def _message(error: AmbientError) -> str:
    if isinstance(error, ParameterError):
        return f"{flag_for(typer.main.get_command(app), error.parameter)} {error.problem}"
    return str(error)


def main() -> None:
    try:
        code = app(standalone_mode=False)  # click hands back typer.Exit codes here instead of raising
        sys.exit(code if isinstance(code, int) else 0)
    except AmbientError as e:
        if _debug:
            raise
        print_error(_message(e))
        sys.exit(1)
    except ModuleNotFoundError as e:
        from ambient.extras import missing

        known = missing(e, f"ambient {' '.join(sys.argv[1:2])}".strip())
        if known is None or _debug:
            raise
        print_error(str(known))
        sys.exit(1)
    except (typer.Exit, SystemExit) as e:
        sys.exit(getattr(e, "exit_code", getattr(e, "code", 0)))
    except KeyboardInterrupt:
        say("interrupted")
        sys.exit(130)
    except Exception as e:
        # Usage errors come from click, or from the copy of click that typer >= 0.2x
        # carries inside itself (no `click` module then): recognise them by shape.
        if callable(getattr(e, "show", None)) and isinstance(getattr(e, "exit_code", None), int):
            e.show()
            sys.exit(e.exit_code)
        if type(e).__name__ == "Abort":  # Ctrl-C at a prompt
            sys.exit(1)
        raise
