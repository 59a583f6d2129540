"""conv2d: 2-D convolution over (height, width, channels) inputs, channels last."""

from typing import Annotated, Literal

from pydantic import Field

from modelgen.layers.base import (
    MAX_SIZE,
    LayerKind,
    Shape,
    ShapeError,
    Size,
    Variable,
    WeightedParams,
    conv_output_length,
    pair,
    register,
    require_rank,
)

Window = Size | Annotated[list[Size], Field(min_length=2, max_length=2)]


class Conv2DParams(WeightedParams):
    filters: Size = Field(description="output channels: the number of convolution kernels")
    kernel_size: Window = Field(
        description="size of the convolution window: an int or [height, width]"
    )
    strides: Window = Field(
        1, description="steps the window moves between outputs: an int or [height, width]"
    )
    padding: Literal["valid", "same"] = Field(
        "valid",
        description="`same` pads so the output keeps the input's size (with strides 1); "
        "`valid` does not pad",
    )
    dilation_rate: Annotated[int, Field(gt=0, le=MAX_SIZE)] = Field(
        1,
        description="spacing between the window's taps along both axes (dilated convolution); "
        "> 1 needs strides 1",
    )


@register
class Conv2D(LayerKind):
    kind = "conv2d"
    params = Conv2DParams
    summary = "2-D convolution, channels last (NHWC)."
    example = "{filters: 16, kernel_size: 3, padding: same, activation: relu}"
    example_input = (6, 6, 2)

    @staticmethod
    def output_shape(p: Conv2DParams, inputs: list[Shape]) -> Shape:
        (shape,) = inputs
        require_rank(shape, 3, "images (height, width, channels)")
        (kh, kw), (sh, sw) = pair(p.kernel_size, "kernel_size"), pair(p.strides, "strides")
        if p.dilation_rate > 1 and (sh, sw) != (1, 1):
            raise ShapeError("dilation_rate > 1 needs strides 1")
        h = conv_output_length(shape[0], kh, sh, p.padding, p.dilation_rate)
        w = conv_output_length(shape[1], kw, sw, p.padding, p.dilation_rate)
        if h <= 0 or w <= 0:
            raise ShapeError(
                f"kernel {[kh, kw]} does not fit input {list(shape)} with padding 'valid'",
                "use padding: same or a smaller kernel_size",
            )
        return (h, w, p.filters)

    @staticmethod
    def variables(p: Conv2DParams, inputs: list[Shape]) -> list[Variable]:
        kh, kw = pair(p.kernel_size, "kernel_size")
        out = [
            Variable(
                "kernel",
                (kh, kw, inputs[0][-1], p.filters),
                p.kernel_initializer,
                regularizer=p.kernel_penalty,
            )
        ]
        if p.use_bias:
            out.append(
                Variable("bias", (p.filters,), p.bias_initializer, regularizer=p.bias_regularizer)
            )
        return out
