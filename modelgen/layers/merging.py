"""Merge several inputs into one: add and concatenate, and the broadcasting elementwise
merges multiply, subtract, average, maximum and minimum (Keras' merging layers)."""

from pydantic import Field

from modelgen.layers.base import LayerKind, LayerParams, Shape, ShapeError, register


class AddParams(LayerParams):
    pass


@register
class Add(LayerKind):
    kind = "add"
    params = AddParams
    summary = "Elementwise sum of two or more inputs of one shape (residual connections)."
    example = "{}"
    example_input = (6,)
    min_inputs = 2
    max_inputs = None

    @staticmethod
    def output_shape(p: AddParams, inputs: list[Shape]) -> Shape:
        if any(shape != inputs[0] for shape in inputs):
            raise ShapeError(
                "needs inputs of one shape, got " + ", ".join(str(list(s)) for s in inputs),
                "project the inputs to one shape first (e.g. a dense or conv layer)",
            )
        return inputs[0]


class ConcatenateParams(LayerParams):
    axis: int = Field(
        -1,
        description="the axis to join along, counting the batch as axis 0 (-1: the last); "
        "the inputs must match on every other axis",
    )


@register
class Concatenate(LayerKind):
    kind = "concatenate"
    params = ConcatenateParams
    summary = "Join two or more inputs along an axis (the last by default)."
    example = "{}"
    example_input = (6,)
    min_inputs = 2
    max_inputs = None

    @staticmethod
    def output_shape(p: ConcatenateParams, inputs: list[Shape]) -> Shape:
        rank = len(inputs[0])
        if any(len(s) != rank for s in inputs) or rank == 0:
            raise ShapeError(
                "needs inputs of one rank, got " + ", ".join(str(list(s)) for s in inputs)
            )
        axis = p.axis + rank if p.axis < 0 else p.axis - 1
        if not 0 <= axis < rank:
            raise ShapeError(f"axis {p.axis} is out of range for inputs of rank {rank} + batch")
        for shape in inputs:
            if shape[:axis] + shape[axis + 1 :] != inputs[0][:axis] + inputs[0][axis + 1 :]:
                raise ShapeError(
                    f"inputs differ off the concatenation axis {p.axis}: "
                    + ", ".join(str(list(s)) for s in inputs)
                )
        return inputs[0][:axis] + (sum(s[axis] for s in inputs),) + inputs[0][axis + 1 :]


def broadcast(inputs: list[Shape]) -> Shape:
    """The output shape of an elementwise merge, as Keras' ``Merge.compute_output_shape``
    works it out: shapes are aligned on their last axis (an input of lower rank gets axes
    inserted after the batch) and on each axis the sizes must match or one must be 1."""
    out = inputs[0]
    for shape in inputs[1:]:
        longer, shorter = (out, shape) if len(out) >= len(shape) else (shape, out)
        if not shorter:
            out = longer
            continue
        tail = []
        for i, j in zip(longer[-len(shorter) :], shorter, strict=True):
            if i != j and 1 not in (i, j):
                raise ShapeError(
                    "inputs do not broadcast: " + ", ".join(str(list(s)) for s in inputs),
                    "counted from the last axis, the sizes must match or be 1, "
                    "as in (h, w, c) * (1, 1, c)",
                )
            tail.append(j if i == 1 else i)
        out = longer[: -len(shorter)] + tuple(tail)
    return out


class ElementwiseParams(LayerParams):
    pass


class _Elementwise(LayerKind):
    """A merge of two or more inputs that broadcast to one shape."""

    params = ElementwiseParams
    example = "{}"
    example_input = (6,)
    min_inputs = 2
    max_inputs = None

    @staticmethod
    def output_shape(p: ElementwiseParams, inputs: list[Shape]) -> Shape:
        return broadcast(inputs)


@register
class Multiply(_Elementwise):
    kind = "multiply"
    summary = (
        "Elementwise product of two or more inputs that broadcast, e.g. a (h, w, c) map "
        "times (1, 1, c) channel weights (squeeze-and-excite)."
    )


@register
class Subtract(_Elementwise):
    kind = "subtract"
    summary = "The first input minus the second, elementwise (they broadcast)."
    max_inputs = 2


@register
class Average(_Elementwise):
    kind = "average"
    summary = "Elementwise mean of two or more inputs that broadcast."


@register
class Maximum(_Elementwise):
    kind = "maximum"
    summary = "Elementwise maximum of two or more inputs that broadcast."


@register
class Minimum(_Elementwise):
    kind = "minimum"
    summary = "Elementwise minimum of two or more inputs that broadcast."
