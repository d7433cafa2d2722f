"""The short-lived commands start without trio, structlog, PyNaCl or pyte.

`mosh --local HOST` runs three fresh interpreters one after the other (the wrapper, which first
runs `mosh-client -c`, then `mosh-server new`, then the client), and each of those libraries
costs tens of milliseconds to import. Only the client's session and the daemon need them; they
import them in `mosh_client.client_run` and `moshd.daemon_cli`. Each check runs a fresh
interpreter, since this one has imported everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("trio", "structlog", "nacl", "pyte")

# What the wrapper (`mosh`) and `mosh-server new|list|kill|status` import.
LIGHT_MODULES = [
    "mosh_client.cli",  # entry points of `mosh` and `mosh-client`
    "mosh_client.bootstrap.run",  # the whole bootstrap but the fake proxy
    "mosh_client.bootstrap.fake_proxy",
    "mosh_client.mosh_args",
    "mosh_client.client_args",
    "moshd.cli",  # entry points of `mosh-server` and `moshd`
    "moshd.server_cli",
    "moshd.control",  # the package: every light module of the control protocol
    "moshd.control.client",
    "moshd.ports",
    "ssp",  # the package re-exports Endpoint and friends lazily, for this
    "ssp.key",
]


def _modules_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    """The top-level packages in sys.modules after a fresh interpreter runs `code`."""
    script = (
        "import sys, json\n"
        f"{code}\n"
        "print(json.dumps(sorted({name.partition('.')[0] for name in sys.modules})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.splitlines()[-1]))


@pytest.mark.parametrize("module", LIGHT_MODULES)
def test_importing_a_light_module_imports_nothing_heavy(module: str) -> None:
    loaded = _modules_after(f"import {module}")
    assert module.partition(".")[0] in loaded  # the check itself works
    assert loaded.isdisjoint(HEAVY), f"importing {module} imports {sorted(loaded & set(HEAVY))}"


@pytest.mark.parametrize(
    "call",
    [
        "from mosh_client.cli import client_main; client_main(['-c'])",  # the wrapper asks this
        "from mosh_client.cli import client_main; client_main(['--version'])",
        "from mosh_client.cli import client_main; client_main(['--help'])",
        "from mosh_client.cli import mosh_main; mosh_main(['--version'])",
        "from mosh_client.cli import mosh_main; mosh_main(['--help'])",
        "from moshd.cli import server_main; server_main(['--help'])",
        "from moshd.cli import server_main; server_main(['status'])",  # no daemon: fails fast
        "from moshd.cli import server_main; server_main(['list'])",
    ],
)
def test_short_commands_run_without_heavy_imports(call: str, tmp_path: Path) -> None:
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = {"PATH": "/usr/bin:/bin", "XDG_RUNTIME_DIR": str(runtime), "HOME": str(tmp_path)}
    loaded = _modules_after(call, env)
    assert loaded.isdisjoint(HEAVY), f"{call!r} imports {sorted(loaded & set(HEAVY))}"


def test_the_heavy_halves_still_import_what_they_need() -> None:
    """The other side of the split: the session and the daemon do load them (the test above
    would pass vacuously if the names in HEAVY were misspelt)."""
    assert {"trio", "nacl"} <= _modules_after("import mosh_client.client_run")
    assert set(HEAVY) <= _modules_after("import moshd.daemon_cli")


def test_ssp_never_imports_trio_or_its_users() -> None:
    ssp_modules = sorted(path.stem for path in (REPO / "ssp").glob("[!_]*.py"))
    loaded = _modules_after("\n".join(f"import ssp.{name}" for name in ssp_modules))
    assert loaded.isdisjoint({"trio", "structlog", "moshd", "mosh_client"})


def test_termemu_imports_only_ssp_and_pyte() -> None:
    # The client will run the emulator too (to speak to stock mosh servers).
    modules = sorted(path.stem for path in (REPO / "termemu").glob("[!_]*.py"))
    loaded = _modules_after("\n".join(f"import termemu.{name}" for name in modules))
    assert "pyte" in loaded  # the check itself works
    assert loaded.isdisjoint({"trio", "structlog", "nacl", "moshd", "mosh_client"})


def test_the_client_never_loads_a_logger() -> None:
    # The client owns the terminal: no log line may ever be printed onto the screen it draws.
    loaded = _modules_after("import mosh_client.client_run")
    assert "structlog" not in loaded
