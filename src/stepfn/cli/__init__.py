"""The ``stepfn`` command line: run, watch and inspect workflows on the local engine.

Errors print as one readable line plus the cause; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.table import Table

from stepfn import __version__
from stepfn._home import stepfn_home
from stepfn.cli.loading import LOCAL_ROLE, Loaded, load_target, parse_input, split_target
from stepfn.workflow.progress import read_executions, read_history, read_state_machines

console = Console()
err_console = Console(stderr=True)


def _reader() -> Any:
    """A client for the commands that only look: it reads the store and never resumes, claims or changes an
    execution (nor starts the control plane)."""
    from stepfn.workflow.local_client import LocalStepFunctionsClient

    return LocalStepFunctionsClient(resume=False)


def _client() -> Any:
    """The client for the commands that act: executions run in the home's control plane (or in this process
    with STEPFN_IN_PROCESS=1)."""
    from stepfn.workflow.workflow import local_client

    return local_client()


def _in_process(client: Any) -> bool:
    from stepfn.workflow.local_client import LocalStepFunctionsClient

    return isinstance(client, LocalStepFunctionsClient)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(__version__, prog_name="stepfn", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Build, run and watch ML workflows as AWS Step Functions state machines, locally."""
    ctx.obj = {"debug": debug}


def _deploy(client: Any, loaded: Loaded) -> str:
    """The target's state machine on ``client``, created or updated by the path ``python FILE`` takes: a
    Workflow's own ``create_or_update`` (its role and settings; a lone local entry point staged and its
    CacheConfig recorded, as for any local client), any other definition under the local role by the same
    create-then-update call."""
    if loaded.workflow is not None:
        workflow = loaded.workflow.clone()  # the user's object keeps its own client and ARN
        workflow.client, workflow.state_machine_arn = client, None
        return str(workflow.create_or_update())
    from stepfn.aws._deploy import build_create_state_machine_request, create_or_update_state_machine

    request = build_create_state_machine_request(name=loaded.name, definition=json.dumps(loaded.definition),
                                                 role_arn=LOCAL_ROLE)
    return create_or_update_state_machine(client, request)[0]


@cli.command()
@click.argument("target")
@click.option("--input", "input_", metavar="JSON|@FILE", help="Execution input (JSON text or @file).")
@click.option("--name", help="Execution name (default: generated).")
@click.option("--progress/--no-progress", default=None, help="Live table (default: when stdout is a terminal).")
@click.option("--stop-on-interrupt", is_flag=True, help="Ctrl-C stops the execution instead of detaching.")
@click.option("--cache", is_flag=True, help="Reuse earlier identical training, processing, transform, tuning and "
              "Lambda results (the step cache; `stepfn cache ls`).")
def run(target: str, input_: str | None, name: str | None, progress: bool | None, stop_on_interrupt: bool,
        cache: bool) -> None:
    """Run FILE[:WORKFLOW] on the local engine, showing each state as it runs.

    The execution runs in the home's control plane: Ctrl-C detaches (it goes on; `stepfn attach NAME`
    follows it again), a second Ctrl-C or --stop-on-interrupt stops it."""
    from stepfn.local.lambdas import allow_lambda_path

    loaded = load_target(target)
    # 'module:function' Lambda tasks may name modules next to the workflow file (and nothing else).
    allow_lambda_path(split_target(target)[0].resolve().parent)
    inputs = parse_input(input_)
    client = _client()
    arn = _deploy(client, loaded)
    if cache:
        from stepfn.workflow._caching import record_run_settings

        name = record_run_settings(client.home, arn, name)
    kwargs: dict[str, Any] = {"stateMachineArn": arn, "input": json.dumps(inputs)}
    if name:
        kwargs["name"] = name
    started = client.start_execution(**kwargs)
    execution_name = started["executionArn"].rsplit(":", 1)[-1]
    # The name is what `stepfn show` takes; an ARN is too long to retype.
    # soft_wrap: the terminal may fold the line, but no newline lands inside the name when it is copied.
    console.print(f"started execution {execution_name} of {loaded.name} (stepfn show {execution_name})",
                  highlight=False, soft_wrap=True)
    # In-process, the run dies with this process: Ctrl-C can only stop it.
    _follow(client, started["executionArn"], progress, stop_on_interrupt or _in_process(client))


def _follow(client: Any, arn: str, progress: bool | None, stop_on_interrupt: bool) -> None:
    """Watch ``arn`` to its end and exit 0 when it succeeded; Ctrl-C detaches, or stops it (a second Ctrl-C
    within a few seconds, or ``stop_on_interrupt``)."""
    import time

    from stepfn.cli.watch import print_summary, watch_execution

    live = console.is_terminal if progress is None else progress
    name = arn.rsplit(":", 1)[-1]
    try:
        described, events = watch_execution(client, arn, console=console, live=live)
    except KeyboardInterrupt:
        if not stop_on_interrupt:
            console.print(f"\ndetaching: {name} goes on in the background. Press Ctrl-C again within 3 seconds "
                          "to stop it.", highlight=False)
            try:
                time.sleep(3)
            except KeyboardInterrupt:
                stop_on_interrupt = True
        if not stop_on_interrupt:
            console.print(f"follow it: stepfn attach {name}\nstop it:   stepfn stop {name}\n"
                          f"see it:    stepfn show {name}", highlight=False)
            sys.exit(130)
        client.stop_execution(executionArn=arn, error="Interrupted", cause="Ctrl-C in stepfn run")
        console.print(f"stopped {name}", highlight=False)
        sys.exit(130)
    print_summary(console, described, events, log_tail=False)  # watch_execution printed the whole log
    sys.exit(0 if described["status"] == "SUCCEEDED" else 1)


@cli.command()
@click.argument("execution")
@click.option("--progress/--no-progress", default=None, help="Live table (default: when stdout is a terminal).")
def attach(execution: str, progress: bool | None) -> None:
    """Follow a running execution (ARN or name) until it ends; Ctrl-C detaches again.

    Unlike the reads (executions, show), attach starts the home's control plane when none runs, so that an
    execution left without one (after `stepfn down --force`) resumes and can be followed to its end."""
    from stepfn.workflow._control import ensure_service, in_process_requested, service_running

    reader = _reader()
    arn = _resolve_execution(reader, execution)
    if reader.describe_execution(executionArn=arn)["status"] == "RUNNING" and not in_process_requested() \
            and not service_running(reader.home):
        ensure_service(reader.home)
        console.print(f"started the control plane for {reader.home}", highlight=False)
    _follow(reader, arn, progress, stop_on_interrupt=False)


@cli.command()
@click.argument("execution")
@click.option("--error", default=None, help="Error name recorded in ExecutionAborted.")
@click.option("--cause", default=None, help="Cause recorded in ExecutionAborted.")
def stop(execution: str, error: str | None, cause: str | None) -> None:
    """Stop a running execution (ARN or name), its running jobs included."""
    client = _client()
    arn = _resolve_execution(_reader(), execution)
    params = {key: value for key, value in (("error", error), ("cause", cause)) if value is not None}
    client.stop_execution(executionArn=arn, **params)
    client.wait_for_execution(arn, timeout=60)
    described = _reader().describe_execution(executionArn=arn)
    console.print(f"{described['name']}: {described['status']}", highlight=False)


@cli.command()
@click.argument("execution")
@click.option("--follow/--no-follow", default=False, help="Watch it until it ends.")
@click.option("--progress/--no-progress", default=None, help="Live table (default: when stdout is a terminal).")
def redrive(execution: str, follow: bool, progress: bool | None) -> None:
    """Redrive a FAILED, TIMED_OUT or ABORTED execution from where it stopped (RedriveExecution)."""
    client = _client()
    arn = _resolve_execution(_reader(), execution)
    client.redrive_execution(executionArn=arn)
    console.print(f"redriven {arn}", highlight=False)
    if follow:
        _follow(client, arn, progress, stop_on_interrupt=False)


@cli.command()
@click.argument("execution")
@click.option("--from", "from_state", metavar="STATE",
              help="Start at this top-level state (default: the state it failed in, else the first).")
@click.option("--name", help="Name of the new execution (default: EXECUTION-rerun-XXXXXX).")
@click.option("--follow/--no-follow", default=True, help="Watch the new execution until it ends.")
@click.option("--progress/--no-progress", default=None, help="Live table (default: when stdout is a terminal).")
def rerun(execution: str, from_state: str | None, name: str | None, follow: bool, progress: bool | None) -> None:
    """A new execution that reuses what ran before STATE and runs STATE and what follows, with fresh job names.

    STATE gets the input it had in EXECUTION; the states before it do not run again. Fix the script, then
    `stepfn rerun NAME --from Train`."""
    client = _client()
    arn = _resolve_execution(_reader(), execution)
    params = {"executionArn": arn}
    if from_state:
        params["fromState"] = from_state
    if name:
        params["name"] = name
    started = client.rerun_execution(**params)
    console.print(f"rerunning from {started['fromState']}: {started['executionArn']}", highlight=False)
    if follow:
        _follow(client, started["executionArn"], progress, stop_on_interrupt=False)


@cli.command()
@click.option("--force", is_flag=True, help="Stop the service even while executions run (they resume when "
              "it next starts).")
def down(force: bool) -> None:
    """Stop the control plane of this stepfn home (it starts again when a client needs it)."""
    from stepfn.workflow._control import stop_service

    home = _reader().home
    answer = stop_service(home, force=force)
    if answer is None:
        console.print(f"no control plane runs for {home}", highlight=False)
    elif answer["stopped"]:
        console.print(f"stopped the control plane for {home}", highlight=False)
    else:
        err_console.print(f"{len(answer['running'])} execution(s) running; stop them first, or pass --force "
                          f"(they resume when the control plane next starts): {', '.join(answer['running'])}",
                          highlight=False)
        sys.exit(1)


@cli.command()
@click.option("--workflow", help="Only executions of this state machine (name or ARN).")
@click.option("--status", type=click.Choice(["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]))
@click.option("--limit", default=50, show_default=True)
def executions(workflow: str | None, status: str | None, limit: int) -> None:
    """List executions, newest first."""
    client = _reader()
    machines = read_state_machines(client)
    if workflow:
        machines = [m for m in machines if workflow in (m["name"], m["stateMachineArn"])]
        if not machines:
            raise click.UsageError(f"no workflow named {workflow!r}")
    rows = read_executions(client, machines, status, limit=limit)
    widest = max((len(row["name"]) + len(row["workflow"]) for row in rows), default=0)
    # Names are what `stepfn show` takes, so they are never cut (a generated one is a 36-character UUID).
    # When one row of the full table does not fit (80 columns), each workflow gets a narrower table of its own.
    if widest + len("SUCCEEDED") + len("2026-01-01 00:00:00") + len("seconds") + 16 <= console.width:
        console.print(_executions_table(rows, workflow_column=True))
    else:
        for workflow_name in dict.fromkeys(row["workflow"] for row in rows):
            own = [row for row in rows if row["workflow"] == workflow_name]
            console.print(_executions_table(own, workflow_column=False, title=f"workflow {workflow_name}"))
    _note_unowned(client, rows)


def _note_unowned(reader: Any, rows: list[dict[str, Any]]) -> None:
    """Say so when RUNNING executions listed have no live process running them (the control plane was
    stopped with --force, or died): listing never resumes them, the next control plane does."""
    if not any(row["status"] == "RUNNING" for row in rows):
        return
    listed = {row["executionArn"] for row in rows}
    waiting = sorted(record.name for record in reader.store.find_orphans() if record.arn in listed)
    if waiting:
        console.print(f"not running now (no live process owns them): {', '.join(waiting)}; they resume when the "
                      f"control plane next starts (stepfn attach {waiting[0]} starts it)", style="yellow",
                      highlight=False, soft_wrap=True)


def _executions_table(rows: list[dict[str, Any]], *, workflow_column: bool, title: str | None = None) -> Table:
    table = Table(title=title, title_justify="left") if workflow_column else Table(
        title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("name", no_wrap=True)
    if workflow_column:
        table.add_column("workflow")
    table.add_column("status", no_wrap=True)
    table.add_column("started", no_wrap=True)
    table.add_column("seconds", no_wrap=True, justify="right")
    started_format = "%Y-%m-%d %H:%M:%S" if workflow_column else "%m-%d %H:%M:%S"
    for row in rows:
        seconds = (row["stopDate"] - row["startDate"]).total_seconds() if row.get("stopDate") else None
        cells = [row["name"], row["workflow"]] if workflow_column else [row["name"]]
        table.add_row(*cells, row["status"], row["startDate"].strftime(started_format),
                      "" if seconds is None else f"{seconds:.2f}")
    return table


def _resolve_execution(client: Any, execution: str) -> str:
    """An ARN as given; else the execution of that name, else the one whose name starts with it (as git
    takes a commit prefix). Names are unique per workflow only, so a name two workflows share is ambiguous."""
    if execution.startswith("arn:"):
        return execution
    if not execution:
        raise click.UsageError("give an execution name, a prefix of one, or its ARN")
    machines = read_state_machines(client)
    # An exact name first, one DescribeExecution per workflow: reading every execution to find a name took
    # seconds with thousands of them. A prefix needs the listing.
    exact = []
    for machine in machines:
        candidate = machine["stateMachineArn"].replace(":stateMachine:", ":execution:", 1) + f":{execution}"
        try:
            client.describe_execution(executionArn=candidate)
        except client.exceptions.ExecutionDoesNotExist:
            continue
        except client.exceptions.InvalidArn:
            break
        exact.append({"executionArn": candidate, "name": execution, "workflow": machine["name"]})
    if len(exact) == 1:
        return str(exact[0]["executionArn"])
    rows = exact or read_executions(client, machines)
    for matches in ([row for row in rows if row["name"] == execution],
                    [row for row in rows if row["name"].startswith(execution)]):
        if len(matches) == 1:
            return str(matches[0]["executionArn"])
        if len(matches) > 1:
            listed = ", ".join(f"{row['name']} ({row['workflow']})" for row in matches[:5])
            more = f" and {len(matches) - 5} more" if len(matches) > 5 else ""
            raise click.UsageError(f"{execution!r} matches several executions: {listed}{more}; "
                                   "give more of the name, or the ARN")
    raise click.UsageError(f"no execution named {execution!r}: stepfn executions lists them, and "
                           "`stepfn run FILE --name NAME` gives a run the name you will look it up by")


# Histories up to this many events are read whole by default (the states table needs every event); longer ones
# show their last events only, unless --all: drawing 25,000 rows took 13 s and told nobody anything.
_WHOLE_HISTORY = 2000


@cli.command()
@click.argument("execution")
@click.option("--all", "everything", is_flag=True,
              help="Everything: every history event, the states table, whole input and output.")
@click.option("--last", default=20, show_default=True, help="How many of the latest events to print.")
def show(execution: str, everything: bool, last: int) -> None:
    """Show an execution (ARN, name or a unique name prefix): status, input/output, failure cause and its
    latest history events."""
    from stepfn.cli.watch import print_document, print_summary, states_table

    client = _reader()
    arn = _resolve_execution(client, execution)
    described = client.describe_execution(executionArn=arn)
    latest = client.get_execution_history(executionArn=arn, reverseOrder=True,
                                          maxResults=max(last, 1))["events"][::-1]
    total = int(latest[-1]["id"]) if latest else 0
    events = read_history(client, arn) if everything or total <= _WHOLE_HISTORY else None
    if events is not None:
        console.print(states_table(events, title=described["name"]))
    shown = events if everything and events is not None else latest[-last:] if last > 0 else []
    history = Table(title="history" if len(shown) == total else f"history: the last {len(shown)} of {total} events")
    for column in ("id", "type", "timestamp", "elapsed", "details"):
        history.add_column(column, justify="right" if column == "elapsed" else "left")
    for event in shown:
        details: dict[str, Any] = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        summary = details.get("name") or details.get("error") or details.get("resource") or ""
        since = (event["timestamp"] - described["startDate"]).total_seconds()
        history.add_row(str(event["id"]), event["type"], event["timestamp"].strftime("%H:%M:%S.%f")[:-3],
                        f"+{since:.3f}s", str(summary))
    console.print(history)
    if events is None:
        console.print(f"{total} events: stepfn show --all {execution} reads them all and draws the states table",
                      highlight=False, soft_wrap=True)
    console.print("input:")
    print_document(console, described.get("input"), whole=everything)
    # The failure event and its cause are among the last events.
    print_summary(console, described, events if events is not None else latest, whole=everything)


@cli.command()
@click.argument("first")
@click.argument("second")
@click.option("--all", "everything", is_flag=True, help="Every fact, the equal ones too.")
def diff(first: str, second: str, everything: bool) -> None:
    """Compare two executions (ARN, name or unique name prefix): input, output, each state's status and
    output, and the hyperparameters and final metrics of the jobs the states ran."""
    from stepfn.cli.watch import diff_table
    from stepfn.workflow.compare import diff_facts, execution_facts

    client = _reader()
    a, b = (_resolve_execution(client, name) for name in (first, second))
    rows = diff_facts(execution_facts(client, a), execution_facts(client, b), everything=everything)
    if not rows:
        console.print("no differences", highlight=False)
        return
    console.print(diff_table(rows, a.rsplit(":", 1)[-1], b.rsplit(":", 1)[-1]))


@cli.command()
@click.argument("job")
@click.option("--kind", default="training-job", type=click.Choice(["training-job", "processing-job", "transform-job"]))
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until interrupted.")
def logs(job: str, kind: str, follow: bool) -> None:
    """Print the logs of a local SageMaker job."""
    import time

    from stepfn.local.sagemaker.records import RecordStore

    path = RecordStore().log_file(kind, job)
    if not path.is_file():
        raise click.UsageError(f"no logs for {kind} {job!r} (looked in {path})")
    with path.open() as handle:
        while True:
            line = handle.readline()
            if line:
                click.echo(line, nl=False)
            elif not follow:
                return
            else:
                time.sleep(0.2)


@cli.command("cp")
@click.argument("source", metavar="SRC")
@click.argument("destination", metavar="DST")
@click.option("--recursive", is_flag=True, help="Copy every file under a folder or every object under a prefix.")
def copy_command(source: str, destination: str, recursive: bool) -> None:
    """Copy files to and from the local object store, as `aws s3 cp` does (s3://bucket/key on one side)."""
    from stepfn.cli.transfer import copy
    from stepfn.local.objectstore import ObjectStore

    copy(source, destination, recursive=recursive, store=ObjectStore(),
         report=lambda line: console.print(line, highlight=False, soft_wrap=True))


@cli.command()
@click.argument("target")
def validate(target: str) -> None:
    """Check a definition (ASL JSON or a Python file) as Step Functions would before creating it."""
    from stepfn.asl.validate import validate_definition

    loaded = load_target(target)
    diagnostics = validate_definition(loaded.definition)
    if not diagnostics:
        console.print(f"[green]valid[/green]: {loaded.name} ({len(loaded.definition.get('States', {}))} states)")
        return
    for diagnostic in diagnostics:
        err_console.print(f"[red]{diagnostic.path}[/red]: {diagnostic.message} [{diagnostic.code}]", highlight=False)
    sys.exit(1)


@cli.command()
@click.argument("target")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to a file (.svg or .html).")
def graph(target: str, output: str | None) -> None:
    """Draw the state machine as SVG (or a self-contained HTML page)."""
    from stepfn.workflow.graph import render_html, render_svg

    loaded = load_target(target)
    as_html = bool(output and output.endswith(".html"))
    text = render_html(loaded.definition, title=loaded.name) if as_html else render_svg(loaded.definition)
    if output:
        Path(output).write_text(text)
        console.print(f"wrote {output}")
    else:
        click.echo(text)


@cli.command()
@click.argument("target")
@click.option("--cloudformation", is_flag=True, required=True, help="Export as a CloudFormation template.")
@click.option("--role", default=LOCAL_ROLE, show_default=True)
@click.option("--description")
def export(target: str, cloudformation: bool, role: str, description: str | None) -> None:
    """Export a workflow as a CloudFormation template (YAML)."""
    from stepfn.workflow.cloudformation import build_cloudformation_template

    loaded = load_target(target)
    if loaded.workflow is not None:
        click.echo(loaded.workflow.get_cloudformation_template(description), nl=False)
        return
    click.echo(build_cloudformation_template(loaded.definition, loaded.name, role, description), nl=False)


@cli.group()
def endpoints() -> None:
    """Local SageMaker endpoints: list, invoke, stop."""


@endpoints.command("list")
def endpoints_list() -> None:
    from stepfn.local.sagemaker import endpoints as local_endpoints

    table = Table()
    for column in ("name", "status", "url", "pid"):
        table.add_column(column)
    for record in local_endpoints.list_endpoints():
        table.add_row(record["EndpointName"], record["EndpointStatus"], str(record.get("Url") or ""),
                      str(record.get("Pid") or ""))
    console.print(table)


@endpoints.command("invoke")
@click.argument("name")
@click.option("--body", required=True, help="Request body, or @file.")
@click.option("--content-type", default="text/csv", show_default=True)
@click.option("--accept", default=None)
def endpoints_invoke(name: str, body: str, content_type: str, accept: str | None) -> None:
    from stepfn.local.sagemaker import endpoints as local_endpoints

    data = Path(body[1:]).read_bytes() if body.startswith("@") else body.encode()
    kwargs: dict[str, Any] = {"EndpointName": name, "Body": data, "ContentType": content_type}
    if accept:
        kwargs["Accept"] = accept
    response = local_endpoints.invoke_endpoint(**kwargs)
    payload = response["Body"]
    click.echo(payload.read().decode() if hasattr(payload, "read") else payload)


@endpoints.command("stop")
@click.argument("name")
def endpoints_stop(name: str) -> None:
    from stepfn.local.sagemaker import endpoints as local_endpoints

    local_endpoints.stop_endpoint(name)
    console.print(f"stopped {name}")


def _server_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options ``stepfn serve`` and ``stepfn ui`` share."""
    options = [
        click.option("--host", default="127.0.0.1", show_default=True,
                     help="Address to listen on (another than loopback is refused with --no-token)."),
        click.option("--port", default=8083, show_default=True),
        click.option("--token", envvar="STEPFN_TOKEN",
                     help="Require this token instead of the home's own ($STEPFN_HOME/server-token)."),
        click.option("--no-token", is_flag=True,
                     help="Require no token: any local program can then run code as you. Throwaway servers only."),
        click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
                     help="Also answer requests for this host name (besides localhost, 127.0.0.1, [::1])."),
        click.option("--lambda-path", "lambda_paths", multiple=True, metavar="DIR",
                     type=click.Path(exists=True, file_okay=False),
                     help="Allow Lambda tasks to name 'module:function' from Python modules in DIR."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _serve(host: str, port: int, token: str | None, no_token: bool, allow_hosts: tuple[str, ...],
           lambda_paths: tuple[str, ...], *, ui: bool) -> None:
    from stepfn import server
    from stepfn.local.lambdas import allow_lambda_path

    for path in lambda_paths:
        allow_lambda_path(path)
    server.run(host=host, port=port, token=token, no_token=no_token, allow_hosts=allow_hosts, ui=ui)


@cli.command()
@_server_options
def serve(host: str, port: int, token: str | None, no_token: bool, allow_hosts: tuple[str, ...],
          lambda_paths: tuple[str, ...]) -> None:
    """Serve the Step Functions, SageMaker, S3, Lambda and IAM APIs over the local backends (for boto3 and the AWS CLI).

    Every request must carry the token printed at start-up (kept in $STEPFN_HOME/server-token) as its
    AWS access key id, and name this machine as its host.
    """
    _serve(host, port, token, no_token, allow_hosts, lambda_paths, ui=False)


@cli.command()
@_server_options
def ui(host: str, port: int, token: str | None, no_token: bool, allow_hosts: tuple[str, ...],
       lambda_paths: tuple[str, ...]) -> None:
    """Open the local web console (and the same API as `stepfn serve`) at the URL it prints."""
    _serve(host, port, token, no_token, allow_hosts, lambda_paths, ui=True)


from stepfn.cli.cache import cache as _cache_group  # noqa: E402  (the group needs `cli` defined)

cli.add_command(_cache_group)


def main(argv: list[str] | None = None) -> None:
    """Entry point: one readable error line (plus cause) unless --debug."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    # Pin a relative home (the default .stepfn) to the directory the command started in, before a user's
    # pipeline file runs and perhaps changes directory.
    stepfn_home()
    try:
        cli.main(args=args, prog_name="stepfn", standalone_mode=False)
    except click.exceptions.Exit as stop:
        sys.exit(stop.exit_code)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except Exception as error:  # the CLI's boundary: everything else becomes one line
        if debug:
            raise
        err_console.print(f"[red]error:[/red] {type(error).__name__}: {error}", highlight=False)
        if error.__cause__ is not None:
            err_console.print(f"cause: {error.__cause__}", highlight=False)
        err_console.print("(run with --debug for the traceback)", style="dim")
        sys.exit(1)


__all__ = ["cli", "main"]
