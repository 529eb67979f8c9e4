"""Logging: structlog, JSON lines for journald, readable lines on a terminal, and never a secret.

Secrets are kept out three ways: values under secret-sounding keys are masked; every secret the
process knows (settings, stored credentials) is registered with `register_secret` and replaced
wherever it appears inside any logged string — an exception message quoting a URL with a password
in it included; and any URL's password and credential-looking query values (`?token=`, `&sig=`...)
are masked by their place, registered or not (`mask_url`).
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import time
from collections.abc import Iterator, MutableMapping
from typing import Any, TextIO
from urllib.parse import unquote_plus

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
# Query parameter names that carry a credential: the distinctive words anywhere in the name, the short
# ones only whole or after a separator (`api_key`, `X-Amz-Signature`, `sig`, but not `monkey`).
SECRET_PARAM = re.compile(
    r"token|secret|passw|passphrase|signature|credential|apikey|authorization"
    r"|^(?:.*[_-])?(?:key|sig|pwd|pass|auth)$",
    re.IGNORECASE,
)
# `scheme://user:PASSWORD@` and `?name=VALUE` / `&name=VALUE` (also after `;` and `#`), inside any text.
URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/?#\s:@]*:)([^@/?#\s]+)(?=@)")
URL_PARAM = re.compile(r"([?&;#])([^=&#?;\s]+)=([^&#;\s\"'<>]*)")


def is_secret_param(name: str) -> bool:
    return bool(SECRET_PARAM.search(unquote_plus(name)))


def url_secrets(url: str) -> list[str]:
    """The credentials a URL carries (its password, its secret query values), as written and decoded."""
    found = [match[2] for match in URL_PASSWORD.finditer(url)]
    found += [match[3] for match in URL_PARAM.finditer(url) if is_secret_param(match[2]) and match[3]]
    decoded = [unquote_plus(value) for value in found]
    return [value for value in dict.fromkeys(found + decoded) if value != MASK]


def mask_url(text: str) -> str:
    """`text` with every URL password and secret query value shown as the mask, the rest as written."""
    if "://" in text:
        text = URL_PASSWORD.sub(lambda match: match[1] + MASK, text)
    if "=" in text:
        text = URL_PARAM.sub(_mask_param, text)
    return text


def _mask_param(match: re.Match[str]) -> str:
    separator, name, value = match.groups()
    if not value or not is_secret_param(name):
        return match[0]
    tail = value[len(value.rstrip(":.,)")) :]  # "…?token=abc: 403 Forbidden" keeps its colon
    return f"{separator}{name}={MASK}{tail}"


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
    """`text` with every registered secret, and every credential a URL in it carries, replaced by the mask."""
    if _secret_pattern is not None:
        text = _secret_pattern.sub(MASK, text)
    return mask_url(text)


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


# A warning said again with the same words within this many seconds is counted, not printed: an
# outage that a loop retries every few seconds fills no journal. The next one printed carries
# `repeated`, how many were held back.
REPEAT_WINDOW = 300.0


class RepeatFilter:
    """Drops a warning or error identical (component, event and every value) to one printed less than
    REPEAT_WINDOW seconds ago; when it is printed again, `repeated` says how many were dropped."""

    def __init__(self, window: float = REPEAT_WINDOW, clock: Any = time.monotonic) -> None:
        self._window = window
        self._clock = clock
        self._seen: dict[str, tuple[float, int]] = {}

    def __call__(self, _logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
        if method not in ("warning", "error"):
            return event
        key = repr(sorted((name, repr(value)) for name, value in event.items() if name != "timestamp"))
        now = self._clock()
        printed, dropped = self._seen.get(key, (None, 0))
        if printed is not None and now - printed < self._window:
            self._seen[key] = (printed, dropped + 1)
            raise structlog.DropEvent
        if len(self._seen) > 1000:
            self._seen.clear()
        self._seen[key] = (now, 0)
        if dropped:
            event["repeated"] = dropped
        return event


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
        RepeatFilter(),
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
