"""add and concatenate: merge several inputs into one."""

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
