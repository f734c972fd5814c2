"""``stepfn cache ls|rm|prune``: the local step cache of this home (:mod:`stepfn.local.cache`)."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

import click
from rich import box
from rich.console import Console
from rich.table import Table

from stepfn._home import stepfn_home

if TYPE_CHECKING:
    from stepfn.local.cache import StepCache

__all__ = ["cache", "parse_age"]

console = Console()
_SHORT = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> float:
    """Seconds in ``30d``, ``12h``, ``45m``, ``10s``, ``2w`` or an ISO 8601 duration (``P30D``)."""
    from stepfn._durations import parse_duration

    match = _SHORT.match(text.strip())
    if match:
        return float(match[1]) * _UNIT_SECONDS[match[2].lower()]
    try:
        return parse_duration(text)
    except ValueError:
        raise click.BadParameter(f"{text!r}: give an age such as 30d, 12h, 45m or P30D") from None


def _size(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def _entries(count: int) -> str:
    return f"{count} {'entry' if count == 1 else 'entries'}"


def _age(created: float) -> str:
    seconds = max(0.0, time.time() - created)
    for unit, span in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= span:
            return f"{seconds / span:.0f}{unit} ago"
    return f"{seconds:.0f}s ago"


def _cache() -> StepCache:
    from stepfn.local.cache import StepCache

    return StepCache(stepfn_home())


@click.group()
def cache() -> None:
    """The step cache: results of earlier identical jobs that runs with caching reuse."""


@cache.command("ls")
def list_entries() -> None:
    """List the cache's entries, newest first, and its size on disk."""
    step_cache = _cache()
    entries = step_cache.entries()
    table = Table(box=box.SIMPLE, pad_edge=False)
    for column in ("KEY", "KIND", "SOURCE", "CREATED", "SIZE", "HITS"):
        table.add_column(column, no_wrap=column != "SOURCE", justify="right" if column in ("SIZE", "HITS") else "left")
    for entry in entries:
        table.add_row(entry.key[:12], entry.kind or "lambda", entry.source, _age(entry.created), _size(entry.size),
                      str(entry.hits))
    if entries:
        console.print(table)
    console.print(f"{_entries(len(entries))}, {_size(step_cache.disk_usage())} on disk in {step_cache.root}",
                  highlight=False, soft_wrap=True)


@cache.command("rm")
@click.argument("keys", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Remove every entry.")
def remove(keys: tuple[str, ...], everything: bool) -> None:
    """Remove entries by KEY (or a unique prefix of one, as `stepfn cache ls` shows it)."""
    step_cache = _cache()
    known = [entry.key for entry in step_cache.entries()]
    if everything:
        chosen = known
    elif not keys:
        raise click.UsageError("give entry keys (stepfn cache ls lists them), or --all")
    else:
        chosen = []
        for key in keys:
            matches = [candidate for candidate in known if candidate.startswith(key.lower())]
            if len(matches) != 1:
                raise click.UsageError(f"{key!r} matches {len(matches)} entries; give more of the key")
            chosen.append(matches[0])
    for key in chosen:
        step_cache.remove(key)
    console.print(f"removed {_entries(len(chosen))}", highlight=False)


@cache.command("prune")
@click.option("--older-than", "older_than", required=True, metavar="AGE",
              help="Remove entries created longer ago than AGE (30d, 12h, 45m, P30D).")
def prune(older_than: str) -> None:
    """Remove entries older than an age."""
    step_cache = _cache()
    removed = step_cache.prune(parse_age(older_than))
    console.print(f"removed {_entries(len(removed))} older than {older_than}; "
                  f"{_size(step_cache.disk_usage())} left on disk", highlight=False)
