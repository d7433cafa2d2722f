#!/usr/bin/env bash
# Build the moshd Debian package from this checkout:
#
#     packaging/debian/build.sh OUTDIR        → OUTDIR/moshd_<version>-<rev>_<arch>.deb
#
# Needs only Debian packages (python3, python3-venv, dpkg) and PyPI: Debian 12's python3-trio
# (0.22), python3-pyte (0.8.0) and python3-structlog (22.3) are older than pyproject.toml
# allows, so the Python dependencies are bundled into a private virtual environment in
# /usr/lib/moshd, built here from PyPI wheels pinned by constraints.txt (see
# packaging/README.md). The tree is staged in a temporary directory and packed with
# `dpkg-deb --build --root-owner-group`: no dpkg-buildpackage, debhelper or fakeroot, and nothing
# is written outside OUTDIR and the temporary directory (pip's download cache aside).
set -euo pipefail

usage() { echo "usage: $0 OUTDIR" >&2; exit 2; }
[ $# -eq 1 ] || usage

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
packaging="$repo/packaging"
mkdir -p "$1"
out=$(cd "$1" && pwd)

prefix=/usr/lib/moshd          # the private environment, as installed
revision=${MOSHD_DEB_REVISION:-1}
# Files and directories in the package must be 0644/0755 whatever the caller's umask.
umask 022
# The interpreter the package runs on: Debian's own, never a pyenv/venv one that happens to be
# first on PATH (the environment's python symlinks to it, and the package depends on it).
system_python=/usr/bin/python3

die() { echo "build.sh: $*" >&2; exit 1; }

[ -x "$system_python" ] || die "$system_python is missing: apt-get install python3"
pyver=$("$system_python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
"$system_python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "moshd needs Python >= 3.11; $system_python is $pyver"
python="/usr/bin/python$pyver"   # pin the minor version: site-packages is python$pyver/
"$python" -c 'import ensurepip, venv' 2>/dev/null \
    || die "the venv module is missing: apt-get install python3-venv"
command -v dpkg-deb >/dev/null || die "dpkg-deb is missing: apt-get install dpkg"
for unit in moshd.service moshd.socket; do
    [ -f "$repo/systemd/$unit" ] || die "systemd/$unit is missing from $repo"
done

version=$("$python" -c 'import sys, tomllib
print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' "$repo/pyproject.toml")
arch=$(dpkg --print-architecture)   # the bundled PyNaCl and cffi wheels are compiled code

work=$(mktemp -d "${TMPDIR:-/tmp}/moshd-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
stage="$work/root"
venv="$stage$prefix"

# 1. A copy of the sources: building in place would leave build/ and *.egg-info in the checkout.
#    Copy the project files and the packages pyproject.toml lists, without caches.
mkdir -p "$work/src"
mapfile -t packages < <("$python" -c 'import sys, tomllib
config = tomllib.load(open(sys.argv[1], "rb"))
# Patterns such as "moshd*" (the package and its subpackages): the top directory is what to copy.
print("\n".join(sorted({p.rstrip("*").split(".")[0] for p in config["tool"]["setuptools"]["packages"]["find"]["include"]})))' "$repo/pyproject.toml")
[ ${#packages[@]} -gt 0 ] || die "no packages listed in pyproject.toml's packages.find.include"
sources=(pyproject.toml README.md "${packages[@]}")
tar -C "$repo" --exclude=__pycache__ --exclude='*.egg-info' -cf - "${sources[@]}" \
    | tar -C "$work/src" -xf -

# 2. The private environment, created where it is staged and moved into place by dpkg: a venv
#    is relocatable but for its scripts' shebangs and pyvenv.cfg's `command`, fixed below.
"$python" -m venv "$venv"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
"$venv/bin/python" -m pip wheel --quiet --no-deps --wheel-dir "$work/wheels" "$work/src"
# Dependencies as wheels only (no compiler needed, no surprise source builds), pinned.
"$venv/bin/python" -m pip install --quiet --no-compile --only-binary=:all: \
    --constraint "$here/constraints.txt" "$work"/wheels/moshd-*.whl
"$venv/bin/python" -m pip check
# A dependency added to pyproject.toml but not pinned here would ship whatever PyPI has today.
unpinned=$("$venv/bin/python" -I - "$here/constraints.txt" <<'EOF'
import re, sys
from importlib.metadata import distributions

def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()

pinned = {canonical(line.split("==")[0]) for line in open(sys.argv[1]) if "==" in line}
bundled = {canonical(dist.metadata["Name"]) for dist in distributions()}
print(" ".join(sorted(bundled - pinned - {"moshd", "pip", "setuptools"})))
EOF
)
[ -z "$unpinned" ] || die "not pinned in packaging/debian/constraints.txt: $unpinned"
# The package is not a place to pip install into: drop the installer and the activate scripts.
"$venv/bin/python" -m pip uninstall --quiet --yes pip setuptools
rm -f "$venv"/bin/activate* "$venv"/bin/Activate.ps1
sed -i '/^command = /d' "$venv/pyvenv.cfg"
site="$venv/lib/python$pyver/site-packages"
# direct_url.json records the temporary wheel's path; it would only mislead `pip freeze`.
for record in "$site"/moshd-*.dist-info/RECORD; do
    sed -i '/direct_url\.json/d' "$record"
done
rm -f "$site"/moshd-*.dist-info/direct_url.json
# Console scripts point at the staging path; point them at the installed interpreter.
for script in "$venv"/bin/*; do
    if [ -L "$script" ] || [ ! -f "$script" ]; then continue; fi
    if head -n1 "$script" | grep -q "^#!$venv/"; then
        sed -i "1s|^#!$venv/|#!$prefix/|" "$script"
    fi
done
for command in mosh mosh-client mosh-server moshd; do
    [ -x "$venv/bin/$command" ] || die "pip did not install the $command script"
done
# The entry points' modules, and the ones they import only when needed (trio, PyNaCl...),
# import with the bundled dependencies alone.
# -B: byte-code written now would record the staging paths.
"$venv/bin/python" -I -B -c \
    'import mosh_client.cli, mosh_client.client_run, moshd.cli, moshd.daemon_cli, ssp.crypto
import termemu.emulator'

# 3. Byte-code, compiled now so that nobody's first run pays for it and nothing is written
#    under /usr at run time. checked-hash: valid whatever the files' mtimes, and stale .pyc are
#    never used if a file is edited. -s/-p record the installed paths for tracebacks.
"$venv/bin/python" -m compileall -q -f -j 0 --invalidation-mode checked-hash \
    -s "$stage" -p / "$site"

# 4. Commands, units, man pages, documentation.
mkdir -p "$stage/usr/bin"
for command in mosh mosh-client mosh-server moshd; do
    ln -s "../lib/moshd/bin/$command" "$stage/usr/bin/$command"
done
install -D -m 0644 -t "$stage/usr/lib/systemd/user" \
    "$repo/systemd/moshd.service" "$repo/systemd/moshd.socket"
for page in "$packaging"/man/*.[1-8]; do
    section=${page##*.}
    mkdir -p "$stage/usr/share/man/man$section"
    gzip -9 -n -c "$page" >"$stage/usr/share/man/man$section/$(basename "$page").gz"
done
doc="$stage/usr/share/doc/moshd"
mkdir -p "$doc"
gzip -9 -n -c "$repo/README.md" >"$doc/README.md.gz"
{
    cat "$here/copyright.in"
    # What is bundled, read from the wheels' own metadata.
    "$venv/bin/python" -I - "$site" "$prefix" <<'EOF'
import sys
from importlib.metadata import distributions
from pathlib import Path, PurePosixPath

site, prefix = sys.argv[1], sys.argv[2].lstrip("/")
installed_site = prefix + site.split(prefix, 1)[1]
for dist in sorted(distributions(path=[site]), key=lambda d: d.metadata["Name"].lower()):
    name = dist.metadata["Name"]
    if name == "moshd":
        continue
    licence = dist.metadata.get("License-Expression") or dist.metadata.get("License") or ""
    if not licence or len(licence) > 60 or "\n" in licence:  # some put the whole text here
        classifiers = [c.split(" :: ")[-1] for c in dist.metadata.get_all("Classifier") or []
                       if c.startswith("License ::")]
        licence = ", ".join(classifiers) or "see its dist-info directory"
    tops = sorted({PurePosixPath(f).parts[0] for f in dist.files or []
                   if not PurePosixPath(f).parts[0].startswith("..")})
    globs = [f"{installed_site}/{top}" + ("/*" if Path(site, top).is_dir() else "") for top in tops]
    author = dist.metadata.get("Author") or dist.metadata.get("Author-email") or "its authors"
    print()
    print("Files: " + "\n ".join(globs))
    print(f"Copyright: {author}")
    print(f"License: {licence}")
    print(f" {name} {dist.version}, bundled from PyPI; the licence text is in its dist-info.")
EOF
} >"$doc/copyright"

# 5. The control file. Depends on the exact interpreter the environment was built with, and on
#    a glibc at least as new as the newest manylinux tag of the bundled wheels.
glibc_minor=$(sed -n 's/^Tag: .*manylinux_2_\([0-9]*\)_.*/\1/p; s/^Tag: .*manylinux2014_.*/17/p' \
    "$site"/*.dist-info/WHEEL | sort -n | tail -n1)
depends="python$pyver"
[ -n "$glibc_minor" ] && depends="$depends, libc6 (>= 2.$glibc_minor)"
installed_size=$(du -sk --apparent-size "$stage" | cut -f1)
mkdir -p "$stage/DEBIAN"
cat >"$stage/DEBIAN/control" <<EOF
Package: moshd
Version: $version-$revision
Architecture: $arch
Maintainer: moshd developers <moshd@localhost>
Installed-Size: $installed_size
Depends: $depends
Recommends: openssh-client
Suggests: openssh-server
Provides: mosh
Conflicts: mosh
Replaces: mosh
Section: net
Priority: optional
Homepage: https://mosh.org
Description: mobile shell reimplemented as a per-user daemon
 mosh (mobile shell) is a remote terminal that survives sleep, roaming between
 networks and lossy links, and echoes keystrokes locally before the server
 answers. This is a reimplementation in Python: a per-user daemon, moshd, owns
 every session of its user and serves them on one UDP port; mosh-server asks
 it for sessions over ssh; mosh-client and the mosh wrapper are the client.
 .
 It replaces the mosh package's commands and interoperates with upstream
 mosh: its mosh-server serves stock mosh clients (mosh protocol 2) beside its
 own, on the same port, and its mosh and mosh-client reach stock mosh-server
 hosts. Its Python dependencies are bundled in /usr/lib/moshd.
EOF

# Nothing may still point into the staging directory (a relocation step missed above).
if leaks=$(grep -rlaF "$work" "$stage"); then
    die "staging paths left in: $leaks"
fi

deb="$out/moshd_${version}-${revision}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
