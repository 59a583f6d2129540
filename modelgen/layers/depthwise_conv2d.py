"""depthwise_conv2d: a 2-D convolution of each input channel on its own (Keras'
DepthwiseConv2D), ``depth_multiplier`` output channels per input channel, channels last."""

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


class DepthwiseConv2DParams(BiasActivationParams):
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
    depth_multiplier: Size = Field(
        1, description="output channels per input channel (the output has in * this channels)"
    )
    dilation_rate: Dilation = Field(
        1,
        description="spacing between the window's taps along both axes (dilated convolution); "
        "with strides > 1, computed as Keras computes it (stride 1, then subsampled)",
    )
    depthwise_initializer: Initializer = Field(
        "glorot_uniform", description="how the kernel's starting values are drawn (seeded)"
    )


@register
class DepthwiseConv2D(LayerKind):
    kind = "depthwise_conv2d"
    params = DepthwiseConv2DParams
    summary = "Depthwise 2-D convolution: each channel filtered on its own (NHWC)."
    example = "{kernel_size: 3, padding: same, activation: relu}"
    example_input = (6, 6, 3)

    @staticmethod
    def output_shape(p: DepthwiseConv2DParams, inputs: list[Shape]) -> Shape:
        (shape,) = inputs
        h, w = spatial_output_2d(
            shape, p.kernel_size, p.strides, p.padding, p.dilation_rate, strided_dilation=True
        )
        return (h, w, shape[-1] * p.depth_multiplier)

    @staticmethod
    def variables(p: DepthwiseConv2DParams, inputs: list[Shape]) -> list[Variable]:
        kh, kw = pair(p.kernel_size, "kernel_size")
        channels = inputs[0][-1]
        kernel = (kh, kw, channels, p.depth_multiplier)
        out = [Variable("kernel", kernel, p.depthwise_initializer, l2=p.l2)]
        if p.use_bias:
            out.append(Variable("bias", (channels * p.depth_multiplier,), p.bias_initializer))
        return out
