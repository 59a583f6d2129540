"""flatten and reshape: change how each example's values are laid out, not the values."""

import math
from typing import Annotated

from pydantic import Field

from modelgen.layers.base import MAX_SIZE, LayerKind, LayerParams, Shape, ShapeError, register


class FlattenParams(LayerParams):
    pass


@register
class Flatten(LayerKind):
    kind = "flatten"
    params = FlattenParams
    summary = "Flatten each example to one axis: (h, w, c) -> (h*w*c,)."
    example = "{}"
    example_input = (3, 4)

    @staticmethod
    def output_shape(p: FlattenParams, inputs: list[Shape]) -> Shape:
        return (math.prod(inputs[0]),)


Dim = Annotated[int, Field(ge=-1, le=MAX_SIZE)]


class ReshapeParams(LayerParams):
    target_shape: Annotated[list[Dim], Field(min_length=1, max_length=8)] = Field(
        description="shape of each example, without the batch; one entry may be -1, inferred "
        "from the number of values"
    )


@register
class Reshape(LayerKind):
    kind = "reshape"
    params = ReshapeParams
    summary = "Reshape each example to target_shape (one entry may be -1)."
    example = "{target_shape: [2, -1]}"
    example_input = (3, 4)

    @staticmethod
    def output_shape(p: ReshapeParams, inputs: list[Shape]) -> Shape:
        size = math.prod(inputs[0])
        target = list(p.target_shape)
        if 0 in target:
            raise ShapeError("target_shape entries must be positive or -1")
        unknown = [i for i, d in enumerate(target) if d == -1]
        if len(unknown) > 1:
            raise ShapeError("target_shape may hold at most one -1")
        known = math.prod(d for d in target if d != -1)
        if unknown:
            if size % known:
                raise ShapeError(
                    f"cannot reshape {list(inputs[0])} ({size} values) to {target}: "
                    f"{size} is not a multiple of {known}"
                )
            target[unknown[0]] = size // known
        elif known != size:
            raise ShapeError(
                f"cannot reshape {list(inputs[0])} ({size} values) to {target} ({known} values)"
            )
        return tuple(target)
