"""Every error erpsync raises on purpose stands in the tree drawn in `erpsync/errors.py`, under its
own parent: an operator reading it, and the edges translating errors, miss none."""

from __future__ import annotations

import importlib
import pkgutil
import re

import erpsync
from erpsync import errors
from erpsync.errors import ErpsyncError


def _all_subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_all_subclasses(sub)}
    return found


def test_every_error_class_is_drawn_in_the_tree_under_its_parent() -> None:
    for module in pkgutil.walk_packages(erpsync.__path__, "erpsync."):
        if module.name != "erpsync.__main__":
            importlib.import_module(module.name)
    tree = errors.__doc__ or ""
    lines = tree.splitlines()
    depth = {}
    for line in lines:
        for name in re.findall(
            r"\b([A-Z][A-Za-z]+(?:Error|Busy|Lost|Forbidden|Refused|Timeout|Cut|Unavailable|NotFound|Throttled|Exhausted|Exceeded|Errors|Reached))\b",
            line,
        ):
            depth.setdefault(name, len(line) - len(line.lstrip(" │├└─")))
    classes = {cls for cls in _all_subclasses(ErpsyncError) if cls.__module__.startswith("erpsync.")}
    missing = sorted(cls.__name__ for cls in classes if cls.__name__ not in depth)
    assert not missing, f"not drawn in erpsync/errors.py: {missing}"
    for cls in classes:
        parent = cls.__mro__[1]
        if parent is not ErpsyncError and parent.__name__ in depth:
            assert depth[cls.__name__] > depth[parent.__name__], (cls.__name__, parent.__name__)
