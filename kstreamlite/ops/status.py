"""What the status page shows, as JSON-ready data.

Built on request from the instance's live objects; the page itself only draws it, so
what it shows is testable without a browser.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..runtime.streams import KafkaStreams

NODE_WIDTH = 250
NODE_HEIGHT = 48
LAYER_GAP = 34
COLUMN_GAP = 24
STORE_WIDTH = 200


def status_snapshot(app: KafkaStreams) -> dict[str, Any]:
    """The instance as the status page shows it."""
    error = app.exception
    tasks = app.task_snapshot()
    lags = [p["lag"] for t in tasks for p in t["partitions"] if p["lag"] is not None]
    return {
        "application_id": app.config.application_id,
        "state": app.state.name,
        "error": None if error is None else f"{type(error).__name__}: {error}",
        "processing_guarantee": app.config.processing_guarantee,
        "bootstrap_servers": app.config.bootstrap_servers,
        "uptime_s": round(app.uptime_s, 1),
        "records_per_second": round(sum(t["records_per_second"] for t in tasks), 1),
        "total_lag": sum(lags) if lags else None,
        "tasks": tasks,
        "topology": layout_graph(app.topology.graph()),
        "time_ms": int(time.time() * 1000),
    }


def layout_graph(graph: dict[str, Any]) -> dict[str, Any]:
    """Place each sub-topology's nodes in layers, sources on top and sinks at the bottom,
    each store beside its first processor; coordinates in SVG pixels."""
    subtopologies = []
    for sub in graph["subtopologies"]:
        nodes = {node["name"]: node for node in sub["nodes"]}
        depth = _depths(sub["nodes"])
        layers: dict[int, list[str]] = {}
        for node in sub["nodes"]:
            layers.setdefault(depth[node["name"]], []).append(node["name"])
        width = max(len(names) for names in layers.values()) * (NODE_WIDTH + COLUMN_GAP)
        placed = []
        for level, names in sorted(layers.items()):
            offset = (width - len(names) * (NODE_WIDTH + COLUMN_GAP)) / 2
            for i, name in enumerate(names):
                node = nodes[name]
                placed.append(
                    {
                        **node,
                        "x": offset + i * (NODE_WIDTH + COLUMN_GAP),
                        "y": level * (NODE_HEIGHT + LAYER_GAP),
                    }
                )
        position = {node["name"]: node for node in placed}
        stores = []
        for node in placed:
            for store in node["stores"]:
                if store in {s["name"] for s in stores}:
                    continue
                stores.append(
                    {
                        "name": store,
                        "x": width + COLUMN_GAP,
                        "y": node["y"],
                        "owner": node["name"],
                    }
                )
        edges = [
            {"from": node["name"], "to": child}
            for node in placed
            for child in node["children"]
            if child in position
        ]
        store_edges = [
            {"from": node["name"], "to": store} for node in placed for store in node["stores"]
        ]
        height = (max(layers) + 1) * (NODE_HEIGHT + LAYER_GAP)
        subtopologies.append(
            {
                "id": sub["id"],
                "nodes": placed,
                "stores": stores,
                "edges": edges,
                "store_edges": store_edges,
                "width": width + (COLUMN_GAP + STORE_WIDTH if stores else 0),
                "height": height,
            }
        )
    return {
        "subtopologies": subtopologies,
        "global_tables": graph["global_tables"],
        "node_width": NODE_WIDTH,
        "node_height": NODE_HEIGHT,
        "store_width": STORE_WIDTH,
    }


def _depths(nodes: list[dict[str, Any]]) -> dict[str, int]:
    """Longest path from a source: a node sits below every parent."""
    children = {node["name"]: node["children"] for node in nodes}
    parents: dict[str, int] = {name: 0 for name in children}
    for kids in children.values():
        for kid in kids:
            if kid in parents:
                parents[kid] += 1
    depth = {name: 0 for name, count in parents.items() if count == 0}
    ready = list(depth)
    while ready:
        name = ready.pop()
        for kid in children[name]:
            if kid not in parents:
                continue
            depth[kid] = max(depth.get(kid, 0), depth[name] + 1)
            parents[kid] -= 1
            if parents[kid] == 0:
                ready.append(kid)
    for name in children:  # a cycle (not built by the DSL) still gets a row
        depth.setdefault(name, 0)
    return depth
