"""Draw a state machine as self-contained SVG: no scripts, fonts or assets from the internet.

Used by ``Workflow.render_graph``, ``Execution.render_progress`` (states coloured by status), ``stepfn graph``
and the web console. The layout is layered: each state sits one row below the deepest state that leads to
it (back edges of loops are ignored for depth), states in a row are spread evenly. Map and Parallel states
are drawn with their inner states in a frame, recursively.
"""

from __future__ import annotations

import html
import uuid
from dataclasses import dataclass, field
from typing import Any

NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 170, 38, 26, 46, 14

COLOURS = {
    "RUNNING": ("#fff4cc", "#c99a00"),
    "SUCCEEDED": ("#dff3e4", "#2e8540"),
    "FAILED": ("#fbe3e4", "#c0392b"),
    "CAUGHT": ("#fdebd0", "#d35400"),
    "ABORTED": ("#eceff1", "#6b777f"),
    None: ("#ffffff", "#5b6770"),
}


@dataclass
class Box:
    name: str
    type: str
    x: float = 0.0
    y: float = 0.0
    w: float = NODE_W
    h: float = NODE_H
    inner: list[Layout] = field(default_factory=list)


@dataclass
class Layout:
    boxes: dict[str, Box]
    edges: list[tuple[str, str, str]]
    width: float
    height: float


def _targets(state: dict[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for rule in state.get("Choices", []):
        if isinstance(rule, dict) and rule.get("Next"):
            out.append((rule["Next"], ""))
    if state.get("Default"):
        out.append((state["Default"], "default"))
    if state.get("Next"):
        out.append((state["Next"], ""))
    for catcher in state.get("Catch", []):
        if isinstance(catcher, dict) and catcher.get("Next"):
            out.append((catcher["Next"], "catch"))
    return out


def _children(state: dict[str, Any]) -> list[dict[str, Any]]:
    if state.get("Type") == "Parallel":
        return [b for b in state.get("Branches", []) if isinstance(b, dict)]
    if state.get("Type") == "Map":
        inner = state.get("ItemProcessor") or state.get("Iterator")
        return [inner] if isinstance(inner, dict) else []
    return []


def layout(machine: dict[str, Any]) -> Layout:
    """Place every state of ``machine`` (a definition or a branch) on a grid; sizes grow with nested frames."""
    states: dict[str, Any] = machine.get("States", {}) if isinstance(machine.get("States"), dict) else {}
    start = machine.get("StartAt")
    depth: dict[str, int] = {}
    if start in states:
        # Longest-path depth over the DAG formed by forward edges (DFS order breaks cycles).
        order: list[str] = []
        seen: set[str] = set()
        on_path: set[str] = set()
        forward: dict[str, list[str]] = {}

        def visit(name: str) -> None:
            seen.add(name)
            on_path.add(name)
            forward[name] = []
            for target, _ in _targets(states[name]):
                if target not in states or target in on_path:
                    continue
                forward[name].append(target)
                if target not in seen:
                    visit(target)
            on_path.discard(name)
            order.append(name)

        visit(start)
        for name in reversed(order):
            depth.setdefault(name, 0)
            for target in forward[name]:
                depth[target] = max(depth.get(target, 0), depth[name] + 1)
    for name in states:  # unreachable states go last rather than vanish
        depth.setdefault(name, max(depth.values(), default=-1) + 1)

    boxes: dict[str, Box] = {}
    for name, state in states.items():
        state = state if isinstance(state, dict) else {}
        box = Box(name=name, type=str(state.get("Type", "?")))
        box.inner = [layout(child) for child in _children(state)]
        if box.inner:
            box.w = max(NODE_W, sum(i.width for i in box.inner) + PAD * (len(box.inner) + 1))
            box.h = NODE_H + max(i.height for i in box.inner) + PAD
        boxes[name] = box

    rows: dict[int, list[str]] = {}
    for name in states:
        rows.setdefault(depth[name], []).append(name)
    width = max((sum(boxes[n].w for n in row) + GAP_X * (len(row) - 1) for row in rows.values()), default=NODE_W)
    y: float = PAD
    for level in sorted(rows):
        row = rows[level]
        row_w = sum(boxes[n].w for n in row) + GAP_X * (len(row) - 1)
        x = PAD + (width - row_w) / 2
        for name in row:
            boxes[name].x, boxes[name].y = x, y
            x += boxes[name].w + GAP_X
        y += max(boxes[n].h for n in row) + GAP_Y
    edges = [(name, target, label) for name, state in states.items() if isinstance(state, dict)
             for target, label in _targets(state) if target in boxes]
    return Layout(boxes=boxes, edges=edges, width=width + 2 * PAD, height=max(y - GAP_Y + PAD, NODE_H + 2 * PAD))


def _draw(lay: Layout, dx: float, dy: float, statuses: dict[str, str], parts: list[str], marker: str) -> None:
    for source, target, label in lay.edges:
        a, b = lay.boxes[source], lay.boxes[target]
        x1, y1 = dx + a.x + a.w / 2, dy + a.y + a.h
        x2, y2 = dx + b.x + b.w / 2, dy + b.y
        if y2 <= y1:  # a loop back: go round the right-hand side
            right = dx + max(a.x + a.w, b.x + b.w) + GAP_X / 2
            path = f"M{x1},{y1} C{right},{y1 + 30} {right},{y2 - 30} {x2},{y2}"
        else:
            path = f"M{x1},{y1} C{x1},{(y1 + y2) / 2} {x2},{(y1 + y2) / 2} {x2},{y2}"
        dash = ' stroke-dasharray="5,4"' if label == "catch" else ""
        parts.append(f'<path d="{path}" fill="none" stroke="#8a949c" stroke-width="1.4"{dash} marker-end="url(#{marker})"/>')
        if label:
            parts.append(f'<text x="{(x1 + x2) / 2 + 4}" y="{(y1 + y2) / 2}" font-size="10" fill="#5b6770">'
                         f"{html.escape(label)}</text>")
    for box in lay.boxes.values():
        status = statuses.get(box.name)
        fill, stroke = COLOURS.get(status, COLOURS[None])
        x, y = dx + box.x, dy + box.y
        title = html.escape(f"{box.name} ({box.type})" + (f": {status}" if status else ""))
        parts.append(f'<g class="state" data-state="{html.escape(box.name)}" data-status="{status or ""}">'
                     f"<title>{title}</title>")
        parts.append(f'<rect x="{x}" y="{y}" width="{box.w}" height="{box.h}" rx="8" fill="{fill}" '
                     f'stroke="{stroke}" stroke-width="{2 if status else 1.2}"/>')
        label = box.name if len(box.name) <= 24 else box.name[:23] + "…"
        parts.append(f'<text x="{x + box.w / 2}" y="{y + 16}" text-anchor="middle" font-size="12" '
                     f'fill="#1f2a30">{html.escape(label)}</text>')
        parts.append(f'<text x="{x + box.w / 2}" y="{y + 30}" text-anchor="middle" font-size="9" '
                     f'fill="#6b777f">{html.escape(box.type)}</text>')
        parts.append("</g>")
        inner_x = x + PAD
        for inner in box.inner:
            parts.append(f'<rect x="{inner_x}" y="{y + NODE_H}" width="{inner.width}" height="{inner.height}" '
                         'rx="6" fill="none" stroke="#c5ccd1" stroke-dasharray="3,3"/>')
            _draw(inner, inner_x, y + NODE_H, statuses, parts, marker)
            inner_x += inner.width + PAD


def render_svg(definition: dict[str, Any], statuses: dict[str, str] | None = None) -> str:
    """The graph as an ``<svg>`` element; ``statuses`` maps state names to RUNNING/SUCCEEDED/FAILED."""
    lay = layout(definition)
    # Ids are global to a page: a notebook, or the console, shows several graphs in one document, and a
    # shared id="arrow" made every graph's arrowheads depend on the first (hiding it removed them all).
    marker = f"stepfn-arrow-{uuid.uuid4().hex[:12]}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="stepfn-graph" width="{lay.width}" height="{lay.height}" '
        f'viewBox="0 0 {lay.width} {lay.height}" font-family="Helvetica, Arial, sans-serif">',
        f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#8a949c"/></marker></defs>',
    ]
    _draw(lay, 0, 0, statuses or {}, parts, marker)
    parts.append("</svg>")
    return "\n".join(parts)


def render_html(definition: dict[str, Any], *, title: str = "workflow", statuses: dict[str, str] | None = None,
                before: str = "", after: str = "") -> str:
    """A complete, self-contained HTML page holding the SVG (works offline, in Jupyter and in a browser);
    ``before`` and ``after`` are HTML placed above and below the graph."""
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title></head>"
        f"<body style=\"margin:16px;font-family:Helvetica,Arial,sans-serif\"><h3>{html.escape(title)}</h3>"
        f"{before}{render_svg(definition, statuses)}{after}</body></html>\n"
    )


__all__ = ["Layout", "layout", "render_html", "render_svg"]
