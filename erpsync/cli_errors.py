"""How an `erpsync` command ends when something fails: one line on stderr, a documented exit status.

A PostgreSQL that goes away mid-command surfaces as asyncpg's connection errors, often several at once in
an `ExceptionGroup` from concurrent work (each with the errors it caused chained on); they are told apart
from bugs here so that the operator reads one line, and a bug still shows its traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, ParamSpec, TypeVar

import click
from pydantic import ValidationError

from erpsync.errors import ErpsyncError
from erpsync.logs import scrub

P = ParamSpec("P")
T = TypeVar("T")

# Exit statuses: erpsync's own for how a run ended, sysexits(3) values where that convention has one.
EXIT_FAILED = 1
EXIT_NEEDS_ATTENTION = 2
EXIT_PARTIAL = 3
EX_USAGE = 64
EX_DATAERR = 65
EX_NOT_FOUND = 66  # EX_NOINPUT
EX_UNAVAILABLE = 69
EX_TEMPFAIL = 75
EX_CONFIG = 78
# `erpsync sync` ends with this when PostgreSQL went away mid-run: the run is kept and resumes next time.
DATABASE_LOST_EXIT = EX_TEMPFAIL
EXIT_STATUSES = (
    (0, "success (a sync: every row is in the shop as the feed says, or the feed is unchanged; a dry run)"),
    (
        EXIT_FAILED,
        "failed: the reason is printed (a sync: nothing was written or deleted, or publishing failed)",
    ),
    (EXIT_NEEDS_ATTENTION, "needs attention: a sync's deletes were held back by the guard"),
    (EXIT_PARTIAL, "partial: rows were rejected, or products failed; each is named"),
    (EX_USAGE, "usage error: an unknown command or option, a missing argument"),
    (EX_DATAERR, "invalid input: a config file that is not valid JSON or not a valid config"),
    (EX_NOT_FOUND, "not found: no sync config (or run) with that id; a run to revert whose config is gone"),
    (EX_UNAVAILABLE, "unavailable: PostgreSQL cannot be reached, or the API's port is taken"),
    (
        EX_TEMPFAIL,
        "try again: the config is syncing elsewhere, a run to revert has not finished, or PostgreSQL was "
        "lost mid-run (it resumes)",
    ),
    (EX_CONFIG, "settings error: a bad setting, or a secret key that cannot decrypt stored credentials"),
)


def exit_statuses_help() -> str:
    """The exit statuses as `--help` prints them (click keeps lines after a \\b as they are)."""
    return "\b\nExit status:\n" + "\n".join(f"  {code:>2}  {meaning}" for code, meaning in EXIT_STATUSES)


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
            fail(str(exc), status=exit_status(exc))
        except ValidationError as exc:
            fail(f"invalid sync config: {config_problems(exc)}", status=EX_DATAERR)
        except KeyboardInterrupt:
            fail("interrupted")
        except Exception as exc:
            if refused_input(exc):
                fail(REFUSED_INPUT_MESSAGE, status=EX_DATAERR)
            cause = lost_connection(exc)
            if cause is None:
                raise
            fail(f"lost the connection to PostgreSQL ({cause})", status=EX_UNAVAILABLE)

    return wrapper


def exit_status(exc: BaseException) -> int:
    """The documented exit status for an error erpsync raised on purpose."""
    from erpsync.errors import (
        ConfigError,
        ConfigNotFound,
        DatabaseError,
        ListenError,
        SecretKeyError,
        SettingsError,
    )
    from erpsync.locks import SyncBusy

    if isinstance(exc, ConfigNotFound):
        return EX_NOT_FOUND
    if isinstance(exc, SyncBusy):
        return EX_TEMPFAIL
    if isinstance(exc, SettingsError | SecretKeyError):
        return EX_CONFIG
    if isinstance(exc, ConfigError):
        return EX_DATAERR
    if isinstance(exc, DatabaseError | ListenError):
        return EX_UNAVAILABLE
    return EXIT_FAILED


class UsageExit(click.Group):
    """A group whose usage errors (an unknown command or option, a missing argument) exit with
    EX_USAGE, not click's 2, which `erpsync sync` gives to a run that needs attention."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as error:
            error.exit_code = EX_USAGE  # type: ignore[misc]  # an instance's own, as click reads it
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as error:
            error.exit_code = EX_USAGE  # type: ignore[misc]  # an instance's own, as click reads it
            raise


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
