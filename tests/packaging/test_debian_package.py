"""The packages: the Debian one builds (packaging/debian/build.sh), holds what it should and its
installed `mosh-server new` works; the man pages render cleanly and document every option; the
Arch PKGBUILD and the RPM spec parse and agree with pyproject.toml.

"Installed" without touching the machine (which may have upstream's `mosh` package, which ours
conflicts with): the .deb is extracted with `dpkg-deb -x` into a scratch root, and — as root,
where the kernel allows it — run in a private mount namespace whose /usr is an overlay of the
scratch root's usr/ on the real one, so that /usr/bin/mosh-server, its shebang
/usr/lib/moshd/bin/python and the environment in /usr/lib/moshd are exactly where the package
puts them. Elsewhere the packaged interpreter runs the packaged script from the scratch root.

Needs PyPI (for the build) and the Debian packages python3-venv and groff-base; mandoc, rpm,
makepkg and shellcheck add checks that are skipped without them.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Mapping
from pathlib import Path

import pytest

from testsupport.processes import alive

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"
BUILD_SCRIPT = PACKAGING / "debian" / "build.sh"
COMMANDS = ("mosh", "mosh-client", "mosh-server", "moshd")
UNITS = ("moshd.service", "moshd.socket")
MAN_PAGES = {"mosh.1": "man1", "mosh-client.1": "man1", "mosh-server.1": "man1", "moshd.8": "man8"}
# What a stock wrapper accepts (a protocol-2 key), and what our wrapper asks for (native).
CONNECT_LINE = re.compile(r"^MOSH CONNECT (\d+?) ([A-Za-z0-9/+]{22})\s*$", re.MULTILINE)
NATIVE_CONNECT_LINE = re.compile(r"^MOSH CONNECT (\d+) ([A-Za-z0-9+/]{43})\r?$", re.MULTILINE)
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
VERSION: str = PYPROJECT["project"]["version"]
# Where the package puts its private Python environment (and its console scripts).
PREFIX = "/usr/lib/moshd"
# Mount the scratch root's usr/ over the real /usr ($1), then run the rest of the arguments.
OVERLAY_SCRIPT = 'mount -t overlay moshd-test -o lowerdir="$1/usr":/usr /usr && shift && exec "$@"'
IN_NAMESPACE = ["unshare", "--mount", "--propagation", "private", "sh", "-c", OVERLAY_SCRIPT, "sh"]


# --- building and unpacking --------------------------------------------------------------------
@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    missing = [unit for unit in UNITS if not (REPO / "systemd" / unit).is_file()]
    assert not missing, f"systemd/{missing} must exist: the package installs them"
    out = tmp_path_factory.mktemp("deb-out")
    result = subprocess.run(
        ["bash", str(BUILD_SCRIPT), str(out)],
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert result.returncode == 0, f"build.sh failed:\n{result.stdout}\n{result.stderr}"
    debs = sorted(out.glob("*.deb"))
    assert len(debs) == 1, f"expected one .deb in {out}, found {debs}"
    assert result.stdout.strip().splitlines()[-1] == str(debs[0])
    return debs[0]


@pytest.fixture(scope="module")
def root(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    scratch = tmp_path_factory.mktemp("scratch-root")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(scratch)], check=True)
    return scratch


def _field(deb: Path, name: str) -> str:
    return subprocess.run(
        ["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True, check=True
    ).stdout.strip()


# --- running what was installed ----------------------------------------------------------------
def _overlay_works() -> bool:
    """Whether we may mount an overlay on /usr in a mount namespace of our own (root, and a
    kernel and container that allow it)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    with tempfile.TemporaryDirectory() as empty:
        Path(empty, "usr").mkdir()
        probe = subprocess.run([*IN_NAMESPACE, empty, "true"], capture_output=True, check=False)
    return probe.returncode == 0


OVERLAY = _overlay_works()


def installed(root: Path, command: str, *args: str) -> list[str]:
    """The argv that runs `command` as the package installed it (see the module docstring)."""
    if OVERLAY:
        return [*IN_NAMESPACE, str(root), f"/usr/bin/{command}", *args]
    interpreter = root / PREFIX.lstrip("/") / "bin" / "python"
    return [str(interpreter), str(root / "usr/bin" / command), *args]


def expected_interpreter(root: Path) -> str:
    """What a daemon that the packaged mosh-server started runs as (its argv[0])."""
    return f"{PREFIX}/bin/python" if OVERLAY else str(root / PREFIX.lstrip("/") / "bin/python")


def run_installed(
    root: Path, command: str, *args: str, env: Mapping[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        installed(root, command, *args),
        capture_output=True,
        text=True,
        env=dict(env),
        cwd=cwd,  # not the checkout: `python -m moshd` must not find the repository's moshd
        stdin=subprocess.DEVNULL,
        timeout=30,
        check=False,
    )


def clean_environment(home: Path) -> dict[str, str]:
    """A user's environment with nothing of this test run's Python in it."""
    runtime = home / "run"
    runtime.mkdir(mode=0o700)
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "XDG_RUNTIME_DIR": str(runtime),  # private: no systemd user instance, our own socket
        "XDG_STATE_HOME": str(home / "state"),
        "MOSHD_PORT": "63900:63999",
        "MOSHD_BIND": "127.0.0.1",
    }


def _processes_mentioning(text: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if text.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
    return pids


def _stop(pid: int) -> bool:
    """SIGTERM, then SIGKILL after 10 s; whether it went on SIGTERM alone."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return False


# --- the Debian package ------------------------------------------------------------------------
@pytest.mark.slow
def test_control_file_declares_the_conflict_and_the_interpreter(deb: Path) -> None:
    assert _field(deb, "Package") == "moshd"
    assert _field(deb, "Version") == f"{VERSION}-1"
    host_arch = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert _field(deb, "Architecture") == host_arch
    # Upstream's mosh owns /usr/bin/mosh*; ours replaces it and serves its clients (and
    # reaches its servers), so it provides it, unversioned.
    assert _field(deb, "Conflicts") == "mosh"
    assert _field(deb, "Replaces") == "mosh"
    assert _field(deb, "Provides") == "mosh"
    # The private environment is bound to the interpreter's minor version.
    system_python = subprocess.run(
        ["/usr/bin/python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert f"python{system_python}" in [
        part.strip().split(" ")[0] for part in _field(deb, "Depends").split(",")
    ]


@pytest.mark.slow
def test_package_holds_commands_units_and_man_pages(deb: Path, root: Path) -> None:
    listing = subprocess.run(
        ["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True
    ).stdout
    paths = {line.split()[5].removeprefix(".") for line in listing.splitlines()}
    expected = {f"/usr/bin/{command}" for command in COMMANDS}
    expected |= {f"/usr/lib/systemd/user/{unit}" for unit in UNITS}
    expected |= {f"/usr/share/man/{section}/{page}.gz" for page, section in MAN_PAGES.items()}
    assert expected <= paths, f"missing: {sorted(expected - paths)}"
    for unit in UNITS:  # the repository's units, unchanged
        packaged = root / "usr/lib/systemd/user" / unit
        assert packaged.read_bytes() == (REPO / "systemd" / unit).read_bytes()
    for command in COMMANDS:  # each a console script of the private environment
        script = root / PREFIX.lstrip("/") / "bin" / command
        assert (root / "usr/bin" / command).resolve() == script.resolve()
        assert script.read_text().splitlines()[0] == f"#!{PREFIX}/bin/python"
    # Nothing the build left behind: no pip, no activate scripts, no staging paths (build.sh
    # stages in $TMPDIR/moshd-deb.XXXXXX) in scripts, pyvenv.cfg or byte-code.
    environment = root / PREFIX.lstrip("/")
    assert not list(environment.glob("bin/pip*")) + list(environment.glob("bin/activate*"))
    assert not list(environment.glob("lib/python*/site-packages/pip"))
    leaks = subprocess.run(
        ["grep", "-rlaF", "/moshd-deb.", str(root)], capture_output=True, text=True, check=False
    )
    assert leaks.stdout == "", leaks.stdout


@pytest.mark.slow
def test_service_unit_starts_a_program_the_system_will_have(root: Path) -> None:
    service = (root / "usr/lib/systemd/user/moshd.service").read_text()
    starts = re.findall(r"^ExecStart=[-@:+!]*(\S+)", service, re.MULTILINE)
    assert starts, "moshd.service has no ExecStart="
    for program in starts:
        assert program.startswith("/"), f"ExecStart={program}: systemd wants an absolute path"
        assert (root / program.lstrip("/")).exists() or Path(program).exists(), (
            f"ExecStart={program} is neither in the package nor on this system"
        )


@pytest.mark.slow
def test_installed_mosh_server_new_starts_moshd_and_prints_connect(
    root: Path, tmp_path: Path
) -> None:
    env = clean_environment(tmp_path)
    control = Path(env["XDG_RUNTIME_DIR"]) / "moshd" / "control.sock"
    pid: int | None = None
    try:
        new = run_installed(root, "mosh-server", "new", env=env, cwd=tmp_path)
        assert new.returncode == 0, f"mosh-server new failed:\n{new.stdout}\n{new.stderr}"
        match = CONNECT_LINE.search(new.stdout)
        assert match, f"no MOSH CONNECT line a stock wrapper accepts in {new.stdout!r}"
        assert 63900 <= int(match.group(1)) <= 63999
        native_env = {**env, "MOSHD_PROTOCOL": "native"}
        native = run_installed(root, "mosh-server", "new", env=native_env, cwd=tmp_path)
        native_match = NATIVE_CONNECT_LINE.search(native.stdout)
        assert native_match, f"no native MOSH CONNECT line in {native.stdout!r}"
        assert native_match.group(1) == match.group(1)  # one daemon, one port

        status = run_installed(root, "mosh-server", "status", env=env, cwd=tmp_path)
        assert status.returncode == 0, status.stderr
        found = re.search(r"running, pid (\d+)", status.stdout)
        assert found, status.stdout
        pid = int(found.group(1))
        assert "sessions: 2" in status.stdout
        assert f"udp ports: {match.group(1)}" in status.stdout
        # The daemon is the packaged environment's, not this test run's Python.
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert argv[0].decode() == expected_interpreter(root), argv
        assert argv[1:4] == [b"-P", b"-m", b"moshd"]
        assert str(control).encode() in argv
    finally:
        leftovers = [pid] if pid is not None else _processes_mentioning(str(control))
        stopped = [_stop(each) for each in leftovers]
    assert all(stopped), "moshd did not stop on SIGTERM"


@pytest.mark.slow
def test_installed_commands_answer_help_and_version(root: Path, tmp_path: Path) -> None:
    env = clean_environment(tmp_path)
    for command in COMMANDS:
        version = run_installed(root, command, "--version", env=env, cwd=tmp_path)
        assert version.returncode == 0, f"{command} --version: {version.stderr}"
        assert VERSION in version.stdout, f"{command} --version: {version.stdout!r}"
        usage = run_installed(root, command, "--help", env=env, cwd=tmp_path)
        assert usage.returncode == 0, f"{command} --help: {usage.stderr}"
        assert command in usage.stdout.lower()


# --- man pages ---------------------------------------------------------------------------------
def _groff_warnings(source: bytes) -> str:
    result = subprocess.run(
        ["groff", "-ww", "-man", "-Tutf8", "-z"], input=source, capture_output=True, check=False
    )
    return result.stderr.decode() + ("" if result.returncode == 0 else f"exit {result.returncode}")


def _render(source: bytes) -> str:
    """The page as plain text (no overstriking), lines joined: for looking words up in."""
    text = subprocess.run(
        ["groff", "-man", "-Tascii", "-P-cbou", "-rLL=200n"],
        input=source,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return " ".join(text.split())


@pytest.mark.parametrize("page", sorted(MAN_PAGES))
def test_man_page_renders_without_warnings(page: str) -> None:
    source = (PACKAGING / "man" / page).read_bytes()
    assert _groff_warnings(source) == ""
    if shutil.which("mandoc"):  # stricter; apt-get install mandoc
        lint = subprocess.run(
            ["mandoc", "-Tlint", str(PACKAGING / "man" / page)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert lint.stdout + lint.stderr == ""


@pytest.mark.slow
def test_packaged_man_pages_are_the_sources_and_render(root: Path) -> None:
    for page, section in MAN_PAGES.items():
        packaged = gzip.decompress((root / "usr/share/man" / section / f"{page}.gz").read_bytes())
        assert packaged == (PACKAGING / "man" / page).read_bytes()
        assert _groff_warnings(packaged) == ""


def _options_in(usage: str) -> set[str]:
    """`-x` and `--long` options named in a usage text (not the `-client` of `mosh-client`)."""
    return set(re.findall(r"(?<![\w-])(--?[A-Za-z0-9#][\w-]*)", usage))


@pytest.mark.parametrize(
    ("page", "entry_point"),
    [
        ("mosh.1", "mosh_client.cli:mosh_main"),
        ("mosh-client.1", "mosh_client.cli:client_main"),
        ("mosh-server.1", "moshd.cli:server_main"),
        ("moshd.8", "moshd.cli:daemon_main"),
    ],
)
def test_man_page_documents_every_option_of_the_usage(page: str, entry_point: str) -> None:
    module, function = entry_point.split(":")
    usage = subprocess.run(
        [
            sys.executable, "-c",
            f"import sys; from {module} import {function}; sys.exit({function}(['--help']))",
        ],
        capture_output=True, text=True, cwd=REPO, check=False,
    )  # fmt: skip
    assert usage.returncode == 0, usage.stderr
    options = _options_in(usage.stdout)
    assert options, usage.stdout
    rendered = _render((PACKAGING / "man" / page).read_bytes())
    undocumented = sorted(options - _options_in(rendered))
    assert not undocumented, f"{page} does not mention {undocumented}"


def test_man_pages_carry_the_project_version() -> None:
    for page in MAN_PAGES:
        header = next(
            line for line in (PACKAGING / "man" / page).read_text().splitlines()
            if line.startswith(".TH ")
        )  # fmt: skip
        assert f'"moshd {VERSION}"' in header, header


# --- the Arch and RPM recipes ------------------------------------------------------------------
def _minimums() -> dict[str, str]:
    """pyproject.toml's dependencies as {name: minimum version}."""
    minimums = {}
    for requirement in PYPROJECT["project"]["dependencies"]:
        name, _, versions = requirement.partition(">=")
        minimums[name.strip().lower()] = versions.split(",")[0].strip()
    return minimums


def _upper_bounds() -> dict[str, str]:
    """pyproject.toml's dependencies that have an upper bound, as {name: bound} (`<0.9`)."""
    bounds = {}
    for requirement in PYPROJECT["project"]["dependencies"]:
        name, _, versions = requirement.partition(">=")
        for version in versions.split(",")[1:]:
            bounds[name.strip().lower()] = version.strip()
    return bounds


def _bash_array(script: Path, name: str) -> list[str]:
    """Source a PKGBUILD in bash (top level only: no function runs) and print an array."""
    result = subprocess.run(
        ["bash", "-euc", f'source "$1"; printf "%s\\n" "${{{name}[@]}}"', "bash", str(script)],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.splitlines()


def test_pkgbuild_parses_and_matches_pyproject() -> None:
    pkgbuild = PACKAGING / "arch" / "PKGBUILD"
    subprocess.run(["bash", "-n", str(pkgbuild)], check=True)
    assert _bash_array(pkgbuild, "pkgver") == [VERSION]
    assert _bash_array(pkgbuild, "conflicts") == ["mosh"]
    assert _bash_array(pkgbuild, "provides") == ["mosh"]
    depends = set(_bash_array(pkgbuild, "depends"))
    python_minimum = PYPROJECT["project"]["requires-python"].removeprefix(">=")
    assert f"python>={python_minimum}" in depends
    for name, minimum in _minimums().items():
        assert f"python-{name}>={minimum}" in depends, f"{name} missing from depends"
    for name, bound in _upper_bounds().items():
        assert f"python-{name}{bound}" in depends, f"{name}'s upper bound missing from depends"


def test_pkgbuild_passes_makepkg_printsrcinfo() -> None:
    if shutil.which("makepkg") is None:
        pytest.skip("makepkg is not installed (apt-get install makepkg)")
    # makepkg refuses root and wants pacman on PATH; neither matters for reading the PKGBUILD.
    prefix = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []
    with tempfile.TemporaryDirectory() as scratch:  # not under pytest's 0700 tmp: nobody's
        os.chmod(scratch, 0o777)
        dirs = [f"{name}={scratch}" for name in ("BUILDDIR", "PKGDEST", "SRCDEST", "LOGDEST")]
        result = subprocess.run(
            [*prefix, "env", "PACMAN=true", *dirs, "makepkg", "--printsrcinfo"],
            cwd=PACKAGING / "arch",
            capture_output=True,
            text=True,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    assert "\tconflicts = mosh\n" in result.stdout
    assert "\tprovides = mosh\n" in result.stdout
    assert f"\tpkgver = {VERSION}\n" in result.stdout


def _rpmspec(*args: str) -> str:
    spec = PACKAGING / "rpm" / "moshd.spec"
    # Macros of Fedora's systemd-rpm-macros that Debian's rpm lacks, so that paths expand.
    defines = ["--define", "_userunitdir /usr/lib/systemd/user"]
    result = subprocess.run(
        ["rpmspec", *defines, *args, str(spec)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_rpm_spec_parses_and_matches_pyproject() -> None:
    if shutil.which("rpmspec") is None:
        pytest.skip("rpmspec is not installed (apt-get install rpm)")
    assert _rpmspec("-q", "--srpm", "--qf", "%{NAME} %{VERSION}\n").strip() == f"moshd {VERSION}"
    assert _rpmspec("-q", "--conflicts").split() == ["mosh"]  # of the binary package
    assert "mosh" in _rpmspec("-q", "--provides").split()
    expanded = _rpmspec("-P")
    files = expanded[expanded.index("%files") :]
    for command in COMMANDS:
        assert f"/usr/bin/{command}\n" in files
    for unit in UNITS:
        assert f"/usr/lib/systemd/user/{unit}\n" in files
    for page, section in MAN_PAGES.items():
        assert f"/usr/share/man/{section}/{page}*\n" in files


def test_build_script_is_strict_shell() -> None:
    text = BUILD_SCRIPT.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text
    subprocess.run(["bash", "-n", str(BUILD_SCRIPT)], check=True)
    if shutil.which("shellcheck"):
        subprocess.run(["shellcheck", str(BUILD_SCRIPT)], check=True)
