"""The summary table `modelgen validate` prints (no code generation imported)."""

from __future__ import annotations

from modelgen.graph import Graph
from modelgen.units import format_bytes

__all__ = ["summary", "format_bytes"]


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
        metrics = f", metrics {', '.join(plan.metrics)}" if graph.multi and plan.metrics else ""
        out.append(
            f"Output: '{plan.output or graph.output.name}' -> loss {plan.type}{weight}"
            + (" (computed from logits)" if plan.on_logits or plan.from_logits else "")
            + metrics
        )
    return "\n".join(out)
