"""Text PostgreSQL refuses to store, caught where a request enters rather than as a 500 from the query.

PostgreSQL's text and jsonb hold no NUL character and only valid UTF-8 (so no lone surrogate); its
bigint holds 64 bits. A path id with such text names nothing that can exist (404); a body or query value
with it is invalid input (422).
"""

from __future__ import annotations

from typing import Any

import asyncpg

NUL_MESSAGE = "NUL characters are not allowed in text"
UTF8_MESSAGE = "text must be valid UTF-8 (no lone surrogates)"
# What PostgreSQL says of a value it cannot take: a character, an encoding, a number out of range.
REFUSED_INPUT: tuple[type[Exception], ...] = (
    asyncpg.CharacterNotInRepertoireError,
    asyncpg.UntranslatableCharacterError,
    asyncpg.NumericValueOutOfRangeError,
    asyncpg.InvalidTextRepresentationError,
    asyncpg.StringDataRightTruncationError,
    asyncpg.DatetimeFieldOverflowError,
)


def text_problem(text: str) -> str | None:
    """Why PostgreSQL would refuse `text`, or None when it can be stored."""
    if "\x00" in text:
        return NUL_MESSAGE
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return UTF8_MESSAGE
    return None


def refused_input(exc: BaseException) -> bool:
    """True when PostgreSQL (or asyncpg, encoding a parameter) refused a value the client sent.

    asyncpg raises the base `DataError` itself for a parameter it cannot encode ("invalid input for
    query argument"); other `DataError` kinds (a division by zero...) are the server's bugs, not input.
    """
    return isinstance(exc, REFUSED_INPUT) or type(exc) is asyncpg.DataError


def problem_path(value: Any, path: str = "") -> tuple[str, str] | None:
    """The dotted path of the first string (or key) PostgreSQL would refuse in a JSON value, and why."""
    if isinstance(value, str):
        problem = text_problem(value)
        return (path or "(body)", problem) if problem else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}".strip(".")
            problem = text_problem(str(key))
            if problem:
                return where, problem
            found = problem_path(item, where)
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = problem_path(item, f"{path}.{index}".strip("."))
            if found:
                return found
    return None
