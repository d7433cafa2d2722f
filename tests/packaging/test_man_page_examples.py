"""The man pages' examples read as the user must type them once rendered: groff splits a
macro's arguments at spaces and takes a `"` inside a word literally, so an example such as
`.BR --ssh="ssh -p 2222" .` came out as `--ssh="ssh-p2222".`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

MAN = Path(__file__).resolve().parents[2] / "packaging" / "man"


def _rendered(page: str) -> str:
    """The page as man shows it, as plain text (no bold or underline), lines joined."""
    text = subprocess.run(
        ["groff", "-man", "-Tutf8", "-P-cbou", "-rLL=200n"],
        input=(MAN / page).read_bytes(),
        capture_output=True,
        check=True,
    ).stdout.decode()
    return " ".join(text.split())


@pytest.mark.parametrize(
    "example",
    [
        '--ssh="ssh -p 2222".',  # in the --ssh option's description
        'mosh --ssh="ssh -p 2222" user@server -- tmux attach',  # under EXAMPLES
        '--server="env X=1 mosh-server" works.',
    ],
)
def test_quoted_examples_keep_their_quotes_and_spaces(example: str) -> None:
    assert example in _rendered("mosh.1")
