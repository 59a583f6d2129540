"""conv2d: 2-D convolution over (height, width, channels) inputs, channels last."""

from pydantic import Field

from modelgen.layers.base import (
    LayerKind,
    Shape,
    ShapeError,
    Size,
    Variable,
    WeightedParams,
    pair,
    register,
)
from modelgen.layers.conv_common import Dilation, Padding, Window, spatial_output_2d

__all__ = ["Conv2D", "Conv2DParams", "check_groups"]

GROUPS_DESCRIPTION = (
    "split the input channels and the filters into this many groups, each convolved on its "
    "own (both must be divisible by it); Keras compiles such a convolution with XLA"
)


class Conv2DParams(WeightedParams):
    filters: Size = Field(description="output channels: the number of convolution kernels")
    kernel_size: Window = Field(
        description="size of the convolution window: an int or [height, width]"
    )
    strides: Window = Field(
        1, description="steps the window moves between outputs: an int or [height, width]"
    )
    padding: Padding = Field(
        "valid",
        description="`same` pads so the output keeps the input's size (with strides 1); "
        "`valid` does not pad",
    )
    dilation_rate: Dilation = Field(
        1,
        description="spacing between the window's taps along both axes (dilated convolution); "
        "> 1 needs strides 1",
    )
    groups: Size = Field(1, description=GROUPS_DESCRIPTION)


def check_groups(filters: int, groups: int, channels: int) -> None:
    """Raise a ShapeError unless the filters and the input channels split into ``groups``."""
    if filters % groups:
        raise ShapeError(
            f"filters ({filters}) must be divisible by groups ({groups})",
            "use a number of filters that is a multiple of groups",
        )
    if channels % groups:
        raise ShapeError(
            f"the input's {channels} channels must be divisible by groups ({groups})",
            "use groups that divide the number of input channels",
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
        h, w = spatial_output_2d(shape, p.kernel_size, p.strides, p.padding, p.dilation_rate)
        check_groups(p.filters, p.groups, shape[-1])
        return (h, w, p.filters)

    @staticmethod
    def variables(p: Conv2DParams, inputs: list[Shape]) -> list[Variable]:
        kh, kw = pair(p.kernel_size, "kernel_size")
        kernel = (kh, kw, inputs[0][-1] // p.groups, p.filters)
        out = [Variable("kernel", kernel, p.kernel_initializer, l2=p.l2)]
        if p.use_bias:
            out.append(Variable("bias", (p.filters,), p.bias_initializer))
        return out
