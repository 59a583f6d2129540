"""Pieces the convolution kinds share: window types, common fields and the 2-D shape rule.

Not a layer kind itself (it registers nothing)."""

from typing import Annotated, Literal

from pydantic import Field

from modelgen.layers.base import (
    MAX_SIZE,
    Activation,
    Initializer,
    LayerParams,
    Shape,
    ShapeError,
    Size,
    conv_output_length,
    pair,
    require_rank,
)

__all__ = [
    "BiasActivationParams",
    "Dilation",
    "Padding",
    "Window",
    "require_images",
    "spatial_output_2d",
]

#: An int (both axes) or [height, width].
Window = Size | Annotated[list[Size], Field(min_length=2, max_length=2)]
Dilation = Annotated[int, Field(gt=0, le=MAX_SIZE)]
Padding = Literal["valid", "same"]


class BiasActivationParams(LayerParams):
    """Fields of a convolution that Keras names like Dense's, apart from its kernels'
    initializers (``depthwise_initializer``, ``pointwise_initializer``)."""

    activation: Activation = Field(
        "linear",
        description="applied elementwise to the output, after the bias (linear: none; softmax "
        "over the last axis)",
    )
    use_bias: bool = Field(True, description="add a learned bias, one per output channel")
    bias_initializer: Initializer = Field(
        "zeros", description="how the bias's starting values are drawn (with use_bias)"
    )
    l2: Annotated[float, Field(ge=0)] | None = Field(
        None,
        description="L2 penalty on every kernel: adds `l2 * sum(kernel ** 2)` per kernel to "
        "the training loss (default: none)",
    )


def require_images(shape: Shape) -> None:
    """Raise a ShapeError, with a hint either way, unless ``shape`` is (height, width, channels)."""
    try:
        require_rank(shape, 3, "images (height, width, channels)")
    except ShapeError as exc:
        hint = exc.hint or "give the input the shape [height, width, channels] (a `reshape`)"
        raise ShapeError(exc.message, hint) from None


def spatial_output_2d(
    shape: Shape,
    kernel_size: int | list[int],
    strides: int | list[int],
    padding: str,
    dilation: int,
    strided_dilation: bool = False,
) -> tuple[int, int]:
    """(height, width) a 2-D convolution makes of images ``shape`` (Keras' rule), or a
    ShapeError when the input is not an image or the window does not fit. Only kinds that
    allow ``strided_dilation`` (Keras' depthwise ones) take dilation with strides > 1."""
    require_images(shape)
    (kh, kw), (sh, sw) = pair(kernel_size, "kernel_size"), pair(strides, "strides")
    if dilation > 1 and (sh, sw) != (1, 1) and not strided_dilation:
        raise ShapeError("dilation_rate > 1 needs strides 1", "use strides: 1 or dilation_rate: 1")
    h = conv_output_length(shape[0], kh, sh, padding, dilation)
    w = conv_output_length(shape[1], kw, sw, padding, dilation)
    if h <= 0 or w <= 0:
        raise ShapeError(
            f"kernel {[kh, kw]} does not fit input {list(shape)} with padding 'valid'",
            "use padding: same or a smaller kernel_size",
        )
    return h, w
