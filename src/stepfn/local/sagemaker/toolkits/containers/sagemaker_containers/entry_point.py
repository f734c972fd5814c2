"""``sagemaker_containers.entry_point``: waiting for the job's hosts to resolve (multi-host scripts call it first).

stepfn runs a job's hosts on this machine and, when it isolates the job, names them in the job's ``/etc/hosts``
(127.0.0.1): they resolve at once. Without isolation they never resolve, so the job's own hosts are looked up once
and an unresolved one raises at once, saying so, where the toolkit would retry for 15 minutes; other names are
retried as the toolkit does (exponential, up to 30 s apart, for up to 15 minutes). Running other entry points
(``run``) is not provided."""

from __future__ import annotations

import socket
import time
from typing import Any

import sagemaker_containers

_LIMIT_S = 15 * 60


def _dns_lookup(host: str, job_hosts: list[str] | None = None) -> str:
    started, wait = time.monotonic(), 0.1
    while True:
        try:
            return socket.gethostbyname(host)
        except OSError as exc:
            if job_hosts is not None and host in job_hosts:
                raise OSError(f"the job's host {host} does not resolve: stepfn names its hosts only in an isolated "
                              "job; use MASTER_ADDR and the ports its variables give") from exc
            if time.monotonic() - started > _LIMIT_S:
                raise
            time.sleep(wait)
            wait = min(wait * 2, 30.0)


def _wait_hostname_resolution() -> None:
    """Block until every host of the training job resolves."""
    hosts = sagemaker_containers.training_env().hosts
    for host in hosts:
        _dns_lookup(host, hosts)


def __getattr__(name: str) -> Any:
    raise AttributeError(f"stepfn's sagemaker_containers.entry_point provides _wait_hostname_resolution only, "
                         f"not {name}")
