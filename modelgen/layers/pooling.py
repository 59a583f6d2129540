"""Window pooling: max and average over sliding windows of images (2-D) and sequences (1-D)."""

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


class Pool1DParams(LayerParams):
    pool_size: Size = Field(2, description="length of the pooling window, in steps")
    strides: Size | None = Field(
        None, description="steps the window moves between outputs (default: pool_size)"
    )
    padding: Literal["valid", "same"] = Field(
        "valid",
        description="`same` pads so the output has ceil(steps / strides) steps; `valid` does "
        "not pad",
    )


def _pool1d_shape(p: Pool1DParams, inputs: list[Shape]) -> Shape:
    (shape,) = inputs
    require_rank(shape, 2, "sequences (steps, channels)")
    strides = p.strides if p.strides is not None else p.pool_size
    steps = conv_output_length(shape[0], p.pool_size, strides, p.padding)
    if steps <= 0:
        raise ShapeError(
            f"pool {p.pool_size} does not fit input {list(shape)} with padding 'valid'",
            "use padding: same or a smaller pool_size",
        )
    return (steps, shape[1])


@register
class MaxPool1D(LayerKind):
    kind = "max_pool1d"
    params = Pool1DParams
    summary = "1-D max pooling over sequences, channels last."
    example = "{pool_size: 3, strides: 2, padding: same}"
    example_input = (7, 2)
    output_shape = staticmethod(_pool1d_shape)


@register
class AvgPool1D(LayerKind):
    kind = "avg_pool1d"
    params = Pool1DParams
    summary = "1-D average pooling over sequences, channels last."
    example = "{pool_size: 2}"
    example_input = (7, 2)
    output_shape = staticmethod(_pool1d_shape)
