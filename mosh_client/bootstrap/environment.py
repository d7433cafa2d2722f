"""The environment each program the wrapper starts gets: ssh, a local server, the client."""

from __future__ import annotations

import os
from collections.abc import Mapping

from mosh_client.mosh_args import MoshOptions
from ssp.key import SecretKey


def _base_environment(environ: Mapping[str, str]) -> dict[str, str]:
    env = dict(environ)
    env.pop("MOSH_PREDICTION_DISPLAY", None)  # resolved already; the client gets it back
    env["MOSH_CLIENT_PID"] = str(os.getpid())  # upstream sets it; handy when debugging
    return env


def ssh_environment(options: MoshOptions, environ: Mapping[str, str]) -> dict[str, str]:
    env = _base_environment(environ)
    if options.remote_ip == "proxy":
        # ssh runs the ProxyCommand with $SHELL; exotic shells and noisy rc files break it.
        env["SHELL"] = "/bin/sh"
    return env


def local_server_environment(environ: Mapping[str, str]) -> dict[str, str]:
    env = _base_environment(environ)
    env.pop("SSH_CONNECTION", None)  # else `mosh-server -s` would bind the wrong address
    return env


def client_environment(
    options: MoshOptions, key: SecretKey, environ: Mapping[str, str]
) -> dict[str, str]:
    env = _base_environment(environ)
    env["MOSH_KEY"] = key.text
    env["MOSH_PREDICTION_DISPLAY"] = options.predict
    if not options.term_init:
        env["MOSH_NO_TERM_INIT"] = "1"
    if options.predict_overwrite:
        env["MOSH_PREDICTION_OVERWRITE"] = "yes"
    return env
