"""Script mode as the sagemaker-training toolkit (5.1.4) runs it, reimplemented (docs/design/sagemaker-contract.md §1.3).

The toolkit itself takes ~0.7 s to start (it imports boto3, gevent, scipy...), so each job would pay that
before the user's script runs. Instead this module computes what the toolkit would hand the user process,
exactly: the ``SM_*`` variables (``Environment.to_env_vars``), ``CURRENT_HOST``/``SAGEMAKER_JOB_NAME``/
``SAGEMAKER_REGION``, ``PYTHONPATH`` led by the code directory, the command line (``python -- train.py
--key value ...`` with hyperparameters JSON-decoded, keys sorted, one-letter keys as ``-k``, dicts as
``k=v,k2=v2``) and the working directory (``/opt/ml/code``). ``tests/local/test_training_toolkit.py`` runs
the same job through the real toolkit and compares what the script sees.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from stepfn.errors import StoreError
from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.jobdir import JobDir, safe_extract

# params.SAGEMAKER_HYPERPARAMETERS: removed from the user's hyperparameters, not framework parameters either.
RESERVED = (
    "sagemaker_program", "sagemaker_submit_directory", "sagemaker_enable_cloudwatch_metrics", "sagemaker_region",
    "sagemaker_container_log_level", "sagemaker_job_name", "default_user_module_name", "_tuning_objective_metric",
    "sagemaker_s3_output",
)
_DISTRIBUTION_FLAGS = (
    "sagemaker_mpi_enabled", "sagemaker_parameter_server_enabled", "sagemaker_distributed_dataparallel_enabled",
    "sagemaker_pytorch_ddp_enabled", "sagemaker_pytorch_xla_multi_worker_enabled",
    "sagemaker_multi_worker_mirrored_strategy_enabled", "sagemaker_torch_distributed_enabled",
)


class ScriptModeError(ValueError):
    """The job's code or entry point cannot be staged."""


def decode_hyperparameters(raw: dict[str, str]) -> dict[str, Any]:
    """``json.loads`` each value, keeping the raw string when it is not JSON (the toolkit's rule)."""
    decoded: dict[str, Any] = {}
    for key, value in raw.items():
        try:
            decoded[key] = json.loads(value)
        except (TypeError, ValueError):
            decoded[key] = value
    return decoded


def _env_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _arg_value(value: Any) -> str:
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in sorted(value.items()))
    return "" if value is None else str(value)


def to_cmd_args(hyperparameters: dict[str, Any]) -> list[str]:
    args: list[str] = []
    for key in sorted(hyperparameters):
        name = str(key)
        args += [f"--{name}" if len(name) > 1 else f"-{name}", _arg_value(hyperparameters[key])]
    return args


@cache
def num_gpus() -> int:
    """GPUs as the toolkit counts them (``nvidia-smi --list-gpus``)."""
    if not shutil.which("nvidia-smi"):
        return 0
    try:
        output = subprocess.run(["nvidia-smi", "--list-gpus"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return 0
    return sum(1 for line in output.split("\n") if line.startswith("GPU "))


def split_hyperparameters(decoded: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """``(user hyperparameters, sagemaker_* reserved ones, additional framework parameters)``."""
    sagemaker = {k: v for k, v in decoded.items() if k in RESERVED or k.startswith("sagemaker_")}
    user = {k: v for k, v in decoded.items() if k not in sagemaker}
    framework = {k: v for k, v in sagemaker.items() if k not in RESERVED}
    return user, sagemaker, framework


def toolkit_environment(
    job: JobDir,
    *,
    job_name: str,
    hyperparameters: dict[str, str],
    input_data_config: dict[str, Any],
    resource_config: dict[str, Any],
    region: str,
    framework_module: str | None = None,
) -> dict[str, str]:
    """Every variable the toolkit adds to the user process's environment (besides the platform's own)."""
    decoded = decode_hyperparameters(hyperparameters)
    user, sagemaker, framework = split_hyperparameters(decoded)
    program = sagemaker.get("sagemaker_program")
    module_name = program[:-3] if isinstance(program, str) and program.endswith(".py") else program
    hosts = resource_config["hosts"]
    current_host = resource_config["current_host"]
    group = resource_config.get("current_group_name", "homogeneousCluster")
    groups_config = resource_config.get("instance_groups", [])
    group_hosts: list[str] = next((g["hosts"] for g in groups_config if g["instance_group_name"] == group), [])
    groups = [g["instance_group_name"] for g in groups_config]
    groups_dict = {g["instance_group_name"]: g for g in groups_config}
    distribution_groups = framework.get(
        "sagemaker_distribution_instance_groups",
        [group] if any(framework.get(flag, False) for flag in _DISTRIBUTION_FLAGS) else [],
    )
    if groups_config:
        distribution_hosts = [h for g in groups_config if g["instance_group_name"] in distribution_groups
                              for h in g["hosts"]]
    else:
        distribution_hosts = list(hosts)
    master = distribution_hosts[0] if distribution_hosts else hosts[0]
    base = job.base
    channels = {name: str(job.data / name) for name in input_data_config}
    training_env: dict[str, Any] = {
        "additional_framework_parameters": framework,
        "channel_input_dirs": channels,
        "current_host": current_host,
        "current_instance_group": group,
        "current_instance_group_hosts": group_hosts,
        "current_instance_type": resource_config.get("current_instance_type", "local"),
        "distribution_hosts": distribution_hosts,
        "distribution_instance_groups": distribution_groups,
        "framework_module": framework_module,
        "hosts": hosts,
        "hyperparameters": user,
        "input_config_dir": str(base / "input" / "config"),
        "input_data_config": input_data_config,
        "input_dir": str(base / "input"),
        "instance_groups": groups,
        "instance_groups_dict": groups_dict,
        "is_hetero": len(groups) > 1,
        "is_master": current_host == master,
        "is_modelparallel_enabled": None,  # the toolkit reads SM_HP_MP_PARAMETERS from its own env: never set
        "is_smddpmprun_installed": False,
        "is_smddprun_installed": False,
        "job_name": job_name,
        "log_level": sagemaker.get("sagemaker_container_log_level", 20),
        "master_hostname": master,
        "model_dir": str(job.model),
        "module_dir": str(sagemaker.get("sagemaker_submit_directory", job.code)),
        "module_name": module_name,
        "network_interface_name": resource_config.get("network_interface_name", "eth0"),
        "num_cpus": os.cpu_count() or 1,
        "num_gpus": num_gpus(),
        "num_neurons": 0,
        "output_data_dir": str(job.output_data),
        "output_dir": str(job.output),
        "output_intermediate_dir": str(job.output / "intermediate"),
        "resource_config": resource_config,
        "topology": resource_config.get("topology", []),
        "user_entry_point": program,
    }
    values: dict[str, Any] = {
        "hosts": hosts,
        "network_interface_name": training_env["network_interface_name"],
        "hps": user,
        "user_entry_point": program,
        "framework_params": framework,
        "resource_config": resource_config,
        "input_data_config": input_data_config,
        "output_data_dir": training_env["output_data_dir"],
        "channels": sorted(channels),
        "current_host": current_host,
        "current_instance_type": training_env["current_instance_type"],
        "current_instance_group": group,
        "current_instance_group_hosts": group_hosts,
        "instance_groups": groups,
        "instance_groups_dict": groups_dict,
        "distribution_instance_groups": distribution_groups,
        "is_hetero": training_env["is_hetero"],
        "module_name": module_name,
        "log_level": training_env["log_level"],
        "framework_module": framework_module,
        "input_dir": training_env["input_dir"],
        "input_config_dir": training_env["input_config_dir"],
        "output_dir": training_env["output_dir"],
        "num_cpus": training_env["num_cpus"],
        "num_gpus": training_env["num_gpus"],
        "num_neurons": 0,
        "model_dir": training_env["model_dir"],
        "module_dir": training_env["module_dir"],
        "training_env": training_env,
        "user_args": to_cmd_args(user),
        "output_intermediate_dir": training_env["output_intermediate_dir"],
    }
    if training_env["topology"]:
        values["topology"] = training_env["topology"]
    values.update({f"channel_{name}": path for name, path in channels.items()})
    values.update({f"hp_{key}": value for key, value in user.items()})
    env = {f"SM_{key.upper()}": _env_value(value) for key, value in values.items()}
    env["CURRENT_HOST"] = current_host
    env["SAGEMAKER_JOB_NAME"] = str(sagemaker.get("sagemaker_job_name", ""))
    env["SAGEMAKER_REGION"] = str(sagemaker.get("sagemaker_region", region))
    return env


def distribution_environment(
    decoded: dict[str, Any], hosts: list[str], current_host: str, *, master_addr: str, ports: list[int]
) -> tuple[dict[str, str], str | None]:
    """What the framework containers set for the estimators' ``distribution`` (one process per host on CPU):

    * ``torch_distributed`` / ``pytorchddp`` / ``smdistributed dataparallel``: torchrun's variables for
      ``--nproc_per_node 1``: ``MASTER_ADDR``, ``MASTER_PORT``, ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``,
      ``LOCAL_WORLD_SIZE``, ``NODE_RANK``, ``GROUP_RANK``;
    * ``mpi``: Open MPI's rank variables (``OMPI_COMM_WORLD_RANK``/``SIZE``/``LOCAL_RANK``/``LOCAL_SIZE``);
    * ``parameter_server``: ``TF_CONFIG`` with a ``master`` (the first host), ``worker`` (the others) and ``ps``
      (every host) cluster, as sagemaker-tensorflow-training builds it;
    * ``multi_worker_mirrored_strategy``: ``TF_CONFIG`` listing every host as a ``worker``.

    Hosts all run on this machine, so each address gets its own port (``ports``: two per host, the first
    ``MASTER_PORT``). Returns the variables and a note for the job log on what is not reproduced (None if
    nothing)."""
    rank = hosts.index(current_host)
    size = len(hosts)

    def address(host: str, offset: int = 0) -> str:
        return f"{host}:{ports[2 * hosts.index(host) + offset]}"

    env: dict[str, str] = {}
    note = None
    if any(decoded.get(flag) for flag in ("sagemaker_torch_distributed_enabled", "sagemaker_pytorch_ddp_enabled",
                                          "sagemaker_distributed_dataparallel_enabled")):
        env.update(MASTER_ADDR=master_addr, MASTER_PORT=str(ports[0]), WORLD_SIZE=str(size), RANK=str(rank),
                   LOCAL_RANK="0", LOCAL_WORLD_SIZE="1", NODE_RANK=str(rank), GROUP_RANK=str(rank))
    if decoded.get("sagemaker_mpi_enabled"):
        env.update(OMPI_COMM_WORLD_RANK=str(rank), OMPI_COMM_WORLD_SIZE=str(size), OMPI_COMM_WORLD_LOCAL_RANK="0",
                   OMPI_COMM_WORLD_LOCAL_SIZE="1", MASTER_ADDR=master_addr, MASTER_PORT=str(ports[0]))
        note = ("mpi: each host runs one process with Open MPI's rank variables; no mpirun is started "
                "(sagemaker_mpi_num_of_processes_per_host and custom MPI options are not applied)")
    if decoded.get("sagemaker_parameter_server_enabled"):
        cluster: dict[str, list[str]] = {"master": [address(hosts[0])]}
        if size > 1:
            cluster["ps"] = [address(h, 1) for h in hosts]
            cluster["worker"] = [address(h) for h in hosts[1:]]
        task = {"index": 0, "type": "master"} if rank == 0 else {"index": rank - 1, "type": "worker"}
        env["TF_CONFIG"] = json.dumps({"cluster": cluster, "environment": "cloud", "task": task})
        note = "parameter_server: TF_CONFIG is set; the parameter-server processes themselves are not started"
    if decoded.get("sagemaker_multi_worker_mirrored_strategy_enabled"):
        env["TF_CONFIG"] = json.dumps({"cluster": {"worker": [address(h) for h in hosts]},
                                       "task": {"index": rank, "type": "worker"}})
    return env, note


def stage_code(store: ObjectStore, submit_directory: str | None, job: JobDir) -> None:
    """``files.download_and_extract``: an ``s3://`` tar.gz, a local directory or tarball, or a single file."""
    job.code.mkdir(parents=True, exist_ok=True)
    if not submit_directory or any(job.code.iterdir()):
        return
    try:
        if submit_directory.startswith("s3://"):
            archive = job.root / "sourcedir.tar.gz"
            archive.write_bytes(store.get_bytes(submit_directory))
            safe_extract(archive, job.code)
            archive.unlink()
            return
        local = store.local_path(submit_directory)
    except StoreError as exc:
        raise ScriptModeError(f"cannot fetch sagemaker_submit_directory {submit_directory}: {exc}") from exc
    if local.is_dir():
        shutil.copytree(local, job.code, dirs_exist_ok=True, ignore=_enclosing(job.root))
    elif local.is_file() and _is_tarfile(local):
        safe_extract(local, job.code)
    elif local.is_file():
        shutil.copy2(local, job.code)
    else:
        raise ScriptModeError(f"sagemaker_submit_directory {submit_directory} does not exist")


def _enclosing(job_root: Path) -> Callable[[str, list[str]], list[str]]:
    """A copytree filter leaving out whatever holds the job itself: with ``source_dir="."`` and the default
    ``$STEPFN_HOME`` (``./.stepfn``) the code directory contains the job directory it is copied into."""
    root = job_root.resolve()

    def ignore(directory: str, names: list[str]) -> list[str]:
        return [name for name in names if root.is_relative_to((Path(directory) / name).resolve())]

    return ignore


def _is_tarfile(path: Path) -> bool:
    import tarfile

    return tarfile.is_tarfile(path)


def validate_entry_point(name: str) -> str:
    """The toolkit's ``process.validate_entry_point``: a plain relative name that cannot read as an option."""
    if not name or name.startswith("-") or "\0" in name or name.startswith("/") or ".." in Path(name).parts:
        raise ScriptModeError(f"invalid entry point {name!r}")
    return name


def entry_command(job: JobDir, program: str, args: list[str], python: str = sys.executable) -> list[str]:
    """The command the toolkit runs, by entry point type (``_entry_point_type.get``), with ``python`` the
    image's interpreter (this one, or the job's framework environment)."""
    validate_entry_point(program)
    if (job.code / "setup.py").is_file():
        module = program[:-3] if program.endswith(".py") else program
        return [python, "-m", module, *args]
    if program.endswith(".py"):
        return [python, "--", program, *args]
    script = job.code / program
    if script.is_file():
        script.chmod(script.stat().st_mode | 0o111)
    return ["/bin/sh", "-c", f"./{shlex.quote(program)} {' '.join(shlex.quote(a) for a in args)}"]


def requirements_command(job: JobDir) -> list[str] | None:
    """``pip install -r requirements.txt`` into a job-local directory (put on PYTHONPATH), if the code has one."""
    if not (job.code / "requirements.txt").is_file():
        return None
    return [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-q",
            "--target", str(job.root / "site-packages"), "-r", "requirements.txt"]


def python_path(job: JobDir, code: Path | None = None, *, layer: Path | None = None, host: bool = True,
                toolkits: list[str] | None = None) -> str:
    """The code directory first (``code``: as the job sees it), then the requirements (``layer``, or the job's
    own ``site-packages``), then, for a job in stepfn's own Python (``host``), this interpreter's path, as
    ``environment.write_env_vars`` sets it. A framework environment's job gets none of stepfn's packages: they
    would shadow the image's versions. Last, the image's toolkit packages (``toolkits``:
    :func:`stepfn.local.sagemaker.toolkits.paths_for`), so that an installed one wins."""
    entries = [str(code or job.code)]
    if layer is not None:
        entries.append(str(layer))
    elif (job.root / "site-packages").is_dir():
        entries.append(str(job.root / "site-packages"))
    if host:
        entries += [p for p in sys.path if p and p not in entries]
    entries += [p for p in toolkits or () if p not in entries]
    return ":".join(entries)


__all__ = [
    "RESERVED",
    "ScriptModeError",
    "decode_hyperparameters",
    "distribution_environment",
    "entry_command",
    "num_gpus",
    "python_path",
    "requirements_command",
    "split_hyperparameters",
    "stage_code",
    "to_cmd_args",
    "toolkit_environment",
    "validate_entry_point",
]
