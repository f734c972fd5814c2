"""``rabit_run`` for one host: the training function called with ``is_master``, as the container calls it after
starting Rabit. stepfn runs a multi-host XGBoost script's hosts without a Rabit tracker, so more hosts raise."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def wait_hostname_resolution(sm_hosts: list[str]) -> None:
    from sagemaker_containers.entry_point import _dns_lookup

    for host in sm_hosts:
        _dns_lookup(host, sm_hosts)


def rabit_run(exec_fun: Callable[..., Any], args: dict[str, Any], include_in_training: bool, hosts: list[str],
              current_host: str, first_port: int | None = None, second_port: int | None = None,
              max_connect_attempts: int | None = None, connect_retry_timeout: int = 3,
              update_rabit_args: bool = False) -> Any:
    """Run ``exec_fun(**args)`` (``is_master=True`` added with ``update_rabit_args``) on a one-host job."""
    if len(hosts) != 1:
        raise NotImplementedError(f"stepfn runs rabit_run on one host only; this job has {len(hosts)} "
                                  f"({', '.join(hosts)}): use instance_count=1")
    if current_host != hosts[0]:
        raise ValueError(f"current host {current_host} is not the job's host {hosts[0]}")
    if not include_in_training:
        raise RuntimeError("No hosts received training data.")
    if update_rabit_args:
        args = dict(args, is_master=True)
    return exec_fun(**args)
