"""Logging: structlog, JSON lines for journald, readable lines on a terminal, and never a secret.

Secrets are kept out twice: values under secret-sounding keys are masked, and every secret the
process knows (settings, stored credentials) is registered with `register_secret` and replaced
wherever it appears inside any logged string — an exception message quoting a URL with a password
in it included.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
from collections.abc import Iterator, MutableMapping
from typing import Any, TextIO

import structlog
from pydantic import SecretStr

MASK = "***"
SECRET_KEY_PATTERN = re.compile(
    r"(pass(word|phrase)?|secret|token|authorization|private_key|api_key|credential)", re.IGNORECASE
)
_known_secrets: set[str] = set()
_secret_pattern: re.Pattern[str] | None = None
# Secrets shorter than this would mask ordinary words; such short secrets are refused elsewhere.
MIN_SECRET_LENGTH = 4


def register_secret(secret: str | SecretStr | None) -> None:
    """Remember a secret so that any log line containing it is masked."""
    global _secret_pattern  # noqa: PLW0603 - one process-wide registry, rebuilt rarely
    if secret is None:
        return
    value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    if len(value) < MIN_SECRET_LENGTH or value in _known_secrets:
        return
    _known_secrets.add(value)
    ordered = sorted(_known_secrets, key=len, reverse=True)
    _secret_pattern = re.compile("|".join(re.escape(item) for item in ordered))


def scrub(text: str) -> str:
    """`text` with every registered secret replaced by the mask."""
    if _secret_pattern is None:
        return text
    return _secret_pattern.sub(MASK, text)


def _scrub_value(key: str, value: Any) -> Any:
    if isinstance(value, SecretStr):
        return MASK
    if isinstance(value, str):
        if SECRET_KEY_PATTERN.search(key) and value:
            return MASK
        return scrub(value)
    if isinstance(value, dict):
        return {k: _scrub_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_value(key, item) for item in value]
    if isinstance(value, BaseException):
        return scrub(f"{type(value).__name__}: {value}")
    return value


def redact_secrets(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask secret-looking keys and every registered secret value."""
    for key in list(event_dict):
        event_dict[key] = _scrub_value(key, event_dict[key])
    return event_dict


def configure_logging(*, log_format: str = "auto", level: str = "info", stream: TextIO | None = None) -> None:
    """JSON when the stream is not a terminal (journald), colored console lines when it is."""
    out = stream if stream is not None else sys.stdout
    use_json = log_format == "json" or (log_format == "auto" and not out.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_secrets,
        renderer,
    ]
    numeric_level = logging.getLevelNamesMapping()[level.upper()]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    # Libraries (aiohttp, arq, asyncssh) log through the standard library: same format, same scrubbing.
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                structlog.processors.format_exc_info,
                redact_secrets,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(max(numeric_level, logging.WARNING))


def get_logger(name: str | None = None) -> Any:
    """A lazy structlog logger (it follows `configure_logging` even when made at import); `name` becomes
    the `component` key."""
    return structlog.get_logger(component=name) if name else structlog.get_logger()


@contextlib.contextmanager
def bound_run(config_id: str, run_id: int | str) -> Iterator[None]:
    """Every log line inside carries `config_id` and `run_id`, across awaits in this task."""
    with structlog.contextvars.bound_contextvars(config_id=config_id, run_id=run_id):
        yield
