"""The summary table `modelgen validate` prints (no code generation imported)."""

from __future__ import annotations

from typing import Any

from modelgen.errors import ModelgenError, SpecError
from modelgen.graph import Graph
from modelgen.units import format_bytes

__all__ = ["summary", "summary_json", "errors_json", "format_bytes"]


def _fmt_shape(shape: tuple[int, ...]) -> str:
    return "(None, " + ", ".join(map(str, shape)) + ")" if shape else "(None,)"


def summary(graph: Graph) -> str:
    """A table like Keras' ``model.summary()``: layer, kind, output shape, parameters."""
    rows = [("Layer", "Kind", "Output shape", "Params", "Inputs")]
    for inp in graph.inputs:
        rows.append((inp.name, f"input {inp.dtype}", _fmt_shape(inp.shape), "0", ""))
    for node in graph.nodes:
        rows.append(
            (
                node.name,
                node.kind,
                _fmt_shape(node.shape),
                f"{node.param_count:,}",
                ", ".join(node.inputs),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    line = "  ".join("-" * w for w in widths)
    out = [f"Model: {graph.spec.name}", line]
    for i, row in enumerate(rows):
        out.append(
            "  ".join(
                c.rjust(w) if j == 3 else c.ljust(w) for j, (c, w) in enumerate(zip(row, widths))
            ).rstrip()
        )
        if i == 0:
            out.append(line)
    out.append(line)
    out += _block_uses(graph)
    total, trainable = graph.total_params, graph.trainable_params
    out.append(f"Total params: {total:,} ({format_bytes(total * 4)} as float32)")
    out.append(f"Trainable params: {trainable:,}")
    out.append(f"Non-trainable params: {total - trainable:,}")
    batch = graph.spec.data.batch_size
    out.append(
        f"Training memory: at least {format_bytes(graph.training_bytes())} per step "
        f"(batch {batch}; activations {format_bytes(graph.activation_bytes_per_example)} "
        "per example)"
    )
    if graph.data_bytes:
        out.append(
            f"Training data in memory: at least {format_bytes(graph.data_bytes)} "
            f"({graph.data.examples:,} examples)"
        )
    for plan in graph.losses or [graph.loss]:
        weight = f" x {plan.weight:g}" if plan.weight is not None else ""
        metrics = (
            f", metrics {', '.join(m.name for m in plan.metrics)}"
            if graph.multi and plan.metrics
            else ""
        )
        out.append(
            f"Output: '{plan.output or graph.output.name}' -> loss {plan.type}{weight}"
            + (" (computed from logits)" if plan.on_logits or plan.from_logits else "")
            + metrics
        )
    return "\n".join(out)


def summary_json(graph: Graph) -> dict[str, Any]:
    """The same summary as data (`modelgen validate --format json`), for tools and CI."""
    layers = []
    for node in graph.nodes:
        trainable = sum(v.size for v in node.variables if v.trainable)
        layers.append(
            {
                "name": node.name,
                "kind": node.kind,
                "inputs": list(node.inputs),
                "output_shape": [None, *node.shape],
                "params": node.param_count,
                "trainable_params": trainable,
                "non_trainable_params": node.param_count - trainable,
            }
        )
    total, trainable = graph.total_params, graph.trainable_params
    return {
        "ok": True,
        "name": graph.spec.name,
        "inputs": [
            {"name": i.name, "shape": [None, *i.shape], "dtype": i.dtype} for i in graph.inputs
        ],
        "layers": layers,
        "total_params": total,
        "trainable_params": trainable,
        "non_trainable_params": total - trainable,
        "training_bytes_per_step": graph.training_bytes(),
        "output": {"layer": graph.output.name, "loss": graph.loss.type},
        "outputs": [  # every output (one without model.outputs), each with its loss
            {
                "layer": plan.output or graph.output.name,
                "loss": plan.type,
                "loss_weight": plan.weight,
                "metrics": [m.name for m in plan.metrics],
            }
            for plan in graph.losses or [graph.loss]
        ],
        "notes": list(graph.data.notes),
        "block_uses": [
            {"name": u.name, "block": u.block, "line": u.line, "layers": list(u.layers)}
            for u in graph.block_uses
        ],
    }


def errors_json(error: ModelgenError) -> dict[str, Any]:
    """A failed validation as data: every problem with its file, line and column."""
    if not isinstance(error, SpecError):
        return {
            "ok": False,
            "errors": [
                {"file": None, "line": None, "column": None, "message": str(error), "hint": None}
            ],
        }
    problems = []
    for d in error.diagnostics:
        where = d.location
        problems.append(
            {
                "file": where.file if where else None,
                "line": where.line if where else None,
                "column": where.column if where else None,
                "message": d.message,
                "hint": d.hint,
            }
        )
    return {"ok": False, "errors": problems}


def _block_uses(graph: Graph) -> list[str]:
    """One line per instance of a block in model.layers: its block, line, layers, parameters."""
    if not graph.block_uses:
        return []
    params = {node.name: node.param_count for node in graph.nodes}
    uses = graph.block_uses
    expanded = sum(len(use.layers) for use in uses)
    rows = [
        (
            use.name,
            use.block,
            f"line {use.line}",
            f"{len(use.layers)} layers",
            f"{sum(params.get(name, 0) for name in use.layers):,} params",
        )
        for use in uses
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    out = [f"Blocks: {len(uses)} instances, {expanded} of the {len(graph.nodes)} layers"]
    for row in rows:
        out.append(
            "  "
            + "  ".join(
                c.rjust(w) if j == 4 else c.ljust(w) for j, (c, w) in enumerate(zip(row, widths))
            ).rstrip()
        )
    return out
