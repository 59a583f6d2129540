"""Pooling: max_pool2d and avg_pool2d windows, global_avg_pool2d/1d means."""

from typing import Annotated, Literal

from pydantic import Field

from modelgen.layers.base import (
    LayerKind,
    LayerParams,
    Shape,
    ShapeError,
    Size,
    conv_output_length,
    pair,
    register,
    require_rank,
)

Window = Size | Annotated[list[Size], Field(min_length=2, max_length=2)]


class Pool2DParams(LayerParams):
    pool_size: Window = Field(
        2, description="size of the pooling window: an int or [height, width]"
    )
    strides: Window | None = Field(
        None,
        description="steps the window moves between outputs: an int or [height, width] "
        "(default: pool_size)",
    )
    padding: Literal["valid", "same"] = Field(
        "valid",
        description="`same` pads so the output has ceil(input / strides) rows and columns; "
        "`valid` does not pad",
    )


def _pool_shape(p: Pool2DParams, inputs: list[Shape]) -> Shape:
    (shape,) = inputs
    require_rank(shape, 3, "images (height, width, channels)")
    ph, pw = pair(p.pool_size, "pool_size")
    sh, sw = pair(p.strides if p.strides is not None else p.pool_size, "strides")
    h = conv_output_length(shape[0], ph, sh, p.padding)
    w = conv_output_length(shape[1], pw, sw, p.padding)
    if h <= 0 or w <= 0:
        raise ShapeError(
            f"pool {[ph, pw]} does not fit input {list(shape)} with padding 'valid'",
            "use padding: same or a smaller pool_size",
        )
    return (h, w, shape[2])


@register
class MaxPool2D(LayerKind):
    kind = "max_pool2d"
    params = Pool2DParams
    summary = "2-D max pooling, channels last."
    example = "{pool_size: 2}"
    example_input = (6, 6, 2)
    output_shape = staticmethod(_pool_shape)


@register
class AvgPool2D(LayerKind):
    kind = "avg_pool2d"
    params = Pool2DParams
    summary = "2-D average pooling, channels last."
    example = "{pool_size: 2}"
    example_input = (6, 6, 2)
    output_shape = staticmethod(_pool_shape)


class GlobalPoolParams(LayerParams):
    pass


@register
class GlobalAvgPool2D(LayerKind):
    kind = "global_avg_pool2d"
    params = GlobalPoolParams
    summary = "Mean over height and width: (h, w, c) -> (c,)."
    example = "{}"
    example_input = (6, 6, 2)

    @staticmethod
    def output_shape(p: GlobalPoolParams, inputs: list[Shape]) -> Shape:
        (shape,) = inputs
        require_rank(shape, 3, "images (height, width, channels)")
        return (shape[2],)


@register
class GlobalAvgPool1D(LayerKind):
    kind = "global_avg_pool1d"
    params = GlobalPoolParams
    summary = "Mean over the steps of a sequence: (steps, c) -> (c,)."
    example = "{}"
    example_input = (5, 3)

    @staticmethod
    def output_shape(p: GlobalPoolParams, inputs: list[Shape]) -> Shape:
        (shape,) = inputs
        require_rank(shape, 2, "sequences (steps, channels)")
        return (shape[1],)
