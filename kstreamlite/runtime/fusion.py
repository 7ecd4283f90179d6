"""Operator fusion: a linear chain of built-in stateless operators becomes one function.

Python pays per call, so ``source -> filter -> map -> sink`` costs three extra frames per
record when each node calls the next. At task build time the chain behind each source
is compiled into one generated function with the same semantics; every generated line
is mapped back to its node, so errors still name the processor that failed.
It never changes what a topology computes, only how many Python frames that takes.
"""

from __future__ import annotations

import itertools
import linecache
from collections.abc import Callable
from typing import Any

from ..processor import _operators as ops
from ..processor._aggregate import ToStream
from ..processor._node import Forward, NodeProcessor
from .nodes import SinkNode

NODE_LINES = "__kstreamlite_node_lines__"
_counter = itertools.count()


# Operator class -> (attribute holding the user function, lines using it as f{i}).
_STEPS: dict[type, tuple[str | None, tuple[str, ...]]] = {
    ops.Filter: ("pred", ("if not f{i}(k, v): return",)),
    ops.FilterNot: ("pred", ("if f{i}(k, v): return",)),
    ops.Map: (
        "fn",
        (
            "pair = f{i}(k, v)",
            "try:",
            "    k, v = pair",
            "except (TypeError, ValueError):",
            "    not_a_pair('map', pair)",
        ),
    ),
    ops.MapValues: ("fn", ("v = f{i}(v)",)),
    ops.SelectKey: ("fn", ("k = f{i}(k, v)",)),
    ops.Peek: ("fn", ("f{i}(k, v)",)),
    ops.PassThrough: (None, ()),
    ToStream: (None, ("v = v[0]",)),
}


def _step(node: NodeProcessor, i: int, ns: dict[str, Any]) -> list[str] | None:
    """The code of one fusable operator, or None if it cannot be fused."""
    spec = _STEPS.get(type(node))
    if spec is None:
        return None
    attribute, lines = spec
    if attribute is not None:
        ns[f"f{i}"] = getattr(node, attribute)
    ns["not_a_pair"] = ops.not_a_pair
    return [line.replace("{i}", str(i)) for line in lines]


def _sink(node: SinkNode, i: int, ns: dict[str, Any]) -> list[str] | None:
    if node.topic is None or node.partitioner is not None:
        return None
    ns.update(
        {
            f"s{i}": node,
            f"t{i}": node.topic,
            f"ks{i}": node.kser,
            f"vs{i}": node.vser,
            f"pr{i}": node.produce,
            f"c{i}": node.collector,
        }
    )
    return [
        "try:",
        f"    kb = None if k is None else ks{i}(k)",
        f"    vb = None if v is None else vs{i}(v)",
        "except Exception as exc:",
        f"    s{i}._serialization_failed(exc, t{i}, k, v, ts, h)",
        "    return",
        "if ts < 0: ts = 0",
        "try:",
        f"    pr{i}(t{i}, vb, kb, -1, None, None, ts, h)",
        "except BufferError:",
        f"    c{i}.produce_when_full(t{i}, vb, kb, -1, ts, h)",
        f"s{i}.produced += 1",
    ]


def fuse(
    first: str,
    nodes: dict[str, NodeProcessor],
    children: Callable[[str], list[str]],
    label: str,
) -> Forward | None:
    """One function running the chain that starts at node ``first``; None if not worth it."""
    ns: dict[str, Any] = {}
    body: list[tuple[str, str]] = []  # (code line, node name)
    name = first
    fused = 0
    while True:
        node = nodes[name]
        i = fused
        if isinstance(node, SinkNode):
            lines = _sink(node, i, ns)
            if lines is None:
                ns[f"n{i}"] = node.process
                body.append((f"n{i}(k, v, ts, h)", name))
            else:
                body += [(line, name) for line in lines]
                fused += 1
            break
        lines = _step(node, i, ns)
        if lines is None:
            ns[f"n{i}"] = node.process
            body.append((f"n{i}(k, v, ts, h)", name))
            break
        body += [(line, name) for line in lines]
        fused += 1
        following = children(name)
        if len(following) != 1:
            ns[f"d{i}"] = node.down
            body.append((f"d{i}(k, v, ts, h)", name))
            break
        name = following[0]
    if fused < 2:
        return None
    filename = f"<kstreamlite fused chain {label} #{next(_counter)}>"
    source_lines = ["def chain(k, v, ts, h):"] + [f"    {code}" for code, _ in body]
    source = "\n".join(source_lines) + "\n"
    ns[NODE_LINES] = {n + 2: node_name for n, (_, node_name) in enumerate(body)}
    exec(compile(source, filename, "exec"), ns)
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    chain: Forward = ns["chain"]
    return chain
