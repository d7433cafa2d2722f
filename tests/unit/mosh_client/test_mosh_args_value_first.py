"""`mosh`'s option values are checked before the host is looked for, as upstream's are."""

from __future__ import annotations

import pytest

from mosh_client.mosh_args import MoshUsageError, parse_mosh_args


def _usage_error(*args: str) -> str:
    with pytest.raises(MoshUsageError) as info:
        parse_mosh_args(list(args), {})
    return str(info.value)


def test_predict_followed_by_the_host_names_the_unknown_mode() -> None:
    # --predict takes the next word as its value, so HOST is the mode and no host is left.
    assert _usage_error("--predict", "HOST").startswith('Unknown mode "HOST"')


@pytest.mark.parametrize(
    ("args", "start"),
    [
        (("-p", "HOST"), "Server-side port or range (HOST) is not valid."),
        (("--bind-server", "HOST"), "Unknown server binding option 'HOST'"),
        (("--experimental-remote-ip", "HOST"), "Unknown --experimental-remote-ip 'HOST'"),
    ],
)
def test_other_values_that_ate_the_host_are_named_too(args: tuple[str, ...], start: str) -> None:
    assert _usage_error(*args).startswith(start)


def test_no_host_at_all_still_says_so() -> None:
    assert _usage_error("--predict=never").startswith("no host given")
