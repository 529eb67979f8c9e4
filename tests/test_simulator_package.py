"""The simulator is its own distribution: erpsync runs without it, and says how to get it where a
command needs it."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib.metadata import requires
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Runs erpsync's CLI in a process where the simulator cannot be imported, as in a production install.
WITHOUT_SIMULATOR = (
    "import sys; sys.modules['shopify_simulator'] = None; from erpsync.cli import main; main()"
)


@pytest.mark.parametrize("command", [["simulator", "--port", "0"], ["demo"]])
def test_a_command_that_needs_the_simulator_names_the_extra(command: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_SIMULATOR, *command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "pip install 'erpsync[demo]'" in done.stderr
    assert "pip install -e ./shopify-simulator" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_service_loads_without_graphql_or_the_simulator() -> None:
    """The daemon, the sync and the CLI never import graphql-core: production need not carry it."""
    code = (
        "import sys; sys.modules['shopify_simulator'] = None\n"
        "import erpsync.cli, erpsync.daemon, erpsync.sync, erpsync.api.app\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] in ('graphql', 'shopify_simulator')"
        " and sys.modules[name] is not None))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout


def test_erpsync_requires_the_simulator_only_in_its_extras() -> None:
    declared = requires("erpsync") or []
    base = [line for line in declared if "extra ==" not in line]
    assert not [line for line in base if line.startswith(("graphql-core", "shopify-simulator"))]
    extras = [line for line in declared if line.startswith("shopify-simulator")]
    assert any('extra == "demo"' in line for line in extras), extras
    assert any('extra == "dev"' in line for line in extras), extras
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert not [name for name in project["tool"]["setuptools"]["packages"] if "simulator" in name]
    simulator = tomllib.loads((ROOT / "shopify-simulator" / "pyproject.toml").read_text())
    assert any(line.startswith("graphql-core") for line in simulator["project"]["dependencies"])
    assert (ROOT / "shopify-simulator" / "shopify_simulator" / "schema.graphql").stat().st_size > 500_000
