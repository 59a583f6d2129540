"""separable_conv2d: a depthwise 2-D convolution followed by a 1x1 convolution mixing the
channels (Keras' SeparableConv2D), channels last."""

from pydantic import Field

from modelgen.layers.base import (
    Initializer,
    LayerKind,
    Shape,
    Size,
    Variable,
    pair,
    register,
)
from modelgen.layers.conv_common import (
    BiasActivationParams,
    Dilation,
    Padding,
    Window,
    spatial_output_2d,
)


class SeparableConv2DParams(BiasActivationParams):
    filters: Size = Field(description="output channels: the number of 1x1 (pointwise) kernels")
    kernel_size: Window = Field(
        description="size of the depthwise window: an int or [height, width]"
    )
    strides: Window = Field(
        1, description="steps the window moves between outputs: an int or [height, width]"
    )
    padding: Padding = Field(
        "valid",
        description="`same` pads so the output keeps the input's size (with strides 1); "
        "`valid` does not pad",
    )
    depth_multiplier: Size = Field(
        1, description="depthwise output channels per input channel, before the 1x1 mixing"
    )
    dilation_rate: Dilation = Field(
        1,
        description="spacing between the depthwise window's taps along both axes; "
        "with strides > 1, computed as Keras computes it (stride 1, then subsampled)",
    )
    depthwise_initializer: Initializer = Field(
        "glorot_uniform",
        description="how the depthwise kernel's starting values are drawn (seeded)",
    )
    pointwise_initializer: Initializer = Field(
        "glorot_uniform",
        description="how the pointwise (1x1) kernel's starting values are drawn (seeded)",
    )


@register
class SeparableConv2D(LayerKind):
    kind = "separable_conv2d"
    params = SeparableConv2DParams
    summary = "Depthwise-separable 2-D convolution: depthwise, then a 1x1 convolution (NHWC)."
    example = "{filters: 8, kernel_size: 3, padding: same, activation: relu}"
    example_input = (6, 6, 3)

    @staticmethod
    def output_shape(p: SeparableConv2DParams, inputs: list[Shape]) -> Shape:
        (shape,) = inputs
        h, w = spatial_output_2d(
            shape, p.kernel_size, p.strides, p.padding, p.dilation_rate, strided_dilation=True
        )
        return (h, w, p.filters)

    @staticmethod
    def variables(p: SeparableConv2DParams, inputs: list[Shape]) -> list[Variable]:
        kh, kw = pair(p.kernel_size, "kernel_size")
        channels, multiplier = inputs[0][-1], p.depth_multiplier
        out = [
            Variable(
                "depthwise_kernel", (kh, kw, channels, multiplier), p.depthwise_initializer, l2=p.l2
            ),
            Variable(
                "pointwise_kernel",
                (1, 1, channels * multiplier, p.filters),
                p.pointwise_initializer,
                l2=p.l2,
            ),
        ]
        if p.use_bias:
            out.append(Variable("bias", (p.filters,), p.bias_initializer))
        return out
