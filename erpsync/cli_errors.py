"""How an `erpsync` command ends when something fails: one line on stderr, a documented exit status.

A PostgreSQL that goes away mid-command surfaces as asyncpg's connection errors, often several at once in
an `ExceptionGroup` from concurrent work (each with the errors it caused chained on); they are told apart
from bugs here so that the operator reads one line, and a bug still shows its traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from typing import NoReturn, ParamSpec, TypeVar

import click
from pydantic import ValidationError

from erpsync.errors import ErpsyncError
from erpsync.logs import scrub

P = ParamSpec("P")
T = TypeVar("T")

# `erpsync sync` ends with this when PostgreSQL went away mid-run: the run is kept and resumes next time.
DATABASE_LOST_EXIT = 4
REFUSED_INPUT_MESSAGE = "PostgreSQL cannot store the input given (a NUL character, text that is not UTF-8, or a number out of range)"


def fail(message: str, *, status: int = 1) -> NoReturn:
    click.echo(f"erpsync: {scrub(message)}", err=True)
    sys.exit(status)


def config_problems(exc: ValidationError) -> str:
    """Every problem of a config, `field: reason; …`, as the API's error details name them."""
    from erpsync.api.problems import validation_details

    return "; ".join(f"{item['field']}: {item['message']}" for item in validation_details(exc))


def handle_errors(func: Callable[P, T]) -> Callable[P, T]:
    """Foreseen errors become one line on stderr, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return func(*args, **kwargs)
        except ErpsyncError as exc:
            fail(str(exc))
        except ValidationError as exc:
            fail(f"invalid sync config: {config_problems(exc)}")
        except KeyboardInterrupt:
            fail("interrupted")
        except Exception as exc:
            if refused_input(exc):
                fail(REFUSED_INPUT_MESSAGE)
            cause = lost_connection(exc)
            if cause is None:
                raise
            fail(f"lost the connection to PostgreSQL ({cause})", status=DATABASE_LOST_EXIT)

    return wrapper


def refused_input(exc: BaseException) -> bool:
    from erpsync.api.text import refused_input as refused

    return refused(exc)


def lost_connection(exc: BaseException) -> str | None:
    """What cut PostgreSQL away, when that is all `exc` says (an `ExceptionGroup` of such errors included);
    None when it holds anything else, which is a bug to be shown whole."""
    leaves = list(_leaves(exc))
    causes = [cause for leaf in leaves if (cause := _connection_cause(leaf)) is not None]
    if not causes or len(causes) < len([leaf for leaf in leaves if not _cancelled(leaf)]):
        return None
    return causes[0]


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc


def _cancelled(exc: BaseException) -> bool:
    import asyncio

    return isinstance(exc, asyncio.CancelledError)


def _connection_cause(exc: BaseException) -> str | None:
    """The lost connection behind `exc`: the deepest such error of its chain (what it was raised from or
    during), named; None when the chain holds none."""
    import asyncpg

    from erpsync.locks import LockLost

    found: str | None = None
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, LockLost):
            return "the session holding the run's lock was cut"
        lost = isinstance(
            current,
            asyncpg.PostgresConnectionError
            | asyncpg.CannotConnectNowError
            | asyncpg.AdminShutdownError
            | ConnectionError,
        ) or (isinstance(current, asyncpg.InterfaceError) and "closed" in str(current))
        if lost:
            found = str(current) or type(current).__name__
        current = current.__cause__ or current.__context__
    return found
