"""conv2d_transpose: the transpose (gradient) of a 2-D convolution, which upsamples
(Keras' Conv2DTranspose), channels last."""

from typing import Annotated

from pydantic import Field

from modelgen.layers.base import (
    MAX_SIZE,
    LayerKind,
    Shape,
    ShapeError,
    Size,
    Variable,
    WeightedParams,
    pair,
    register,
)
from modelgen.layers.conv_common import Dilation, Padding, Window, require_images

Offset = Annotated[int, Field(ge=0, le=MAX_SIZE)]


class Conv2DTransposeParams(WeightedParams):
    filters: Size = Field(description="output channels: the number of convolution kernels")
    kernel_size: Window = Field(
        description="size of the convolution window: an int or [height, width]"
    )
    strides: Window = Field(1, description="upsampling factor: an int or [height, width]")
    padding: Padding = Field(
        "valid",
        description="`same`: the output is the input's size times strides; `valid`: "
        "(size - 1) * strides + max(kernel_size, strides)",
    )
    output_padding: Offset | Annotated[list[Offset], Field(min_length=2, max_length=2)] | None = (
        Field(
            None,
            description="extra rows/columns at the end of the output, each less than its "
            "stride: an int or [height, width] (default: inferred as Keras infers it)",
        )
    )
    dilation_rate: Dilation = Field(
        1,
        description="spacing between the window's taps along both axes; > 1 needs strides 1",
    )


def transposed_length(
    length: int, kernel: int, stride: int, padding: str, extra: int | None, dilation: int
) -> int:
    """Keras' ``compute_conv_transpose_output_shape`` along one axis."""
    kernel = (kernel - 1) * dilation + 1
    if padding == "valid":
        extra = max(kernel, stride) - kernel if extra is None else extra
        return (length - 1) * stride + kernel + extra
    if extra is None:
        return length * stride
    return (length - 1) * stride + kernel % 2 + extra


@register
class Conv2DTranspose(LayerKind):
    kind = "conv2d_transpose"
    params = Conv2DTransposeParams
    summary = "Transposed 2-D convolution (upsampling), channels last (NHWC)."
    example = "{filters: 4, kernel_size: 3, strides: 2, padding: same, activation: relu}"
    example_input = (4, 4, 2)

    @staticmethod
    def output_shape(p: Conv2DTransposeParams, inputs: list[Shape]) -> Shape:
        (shape,) = inputs
        require_images(shape)
        kernel, strides = pair(p.kernel_size, "kernel_size"), pair(p.strides, "strides")
        if p.dilation_rate > 1 and strides != (1, 1):
            raise ShapeError(
                "dilation_rate > 1 needs strides 1", "use strides: 1 or dilation_rate: 1"
            )
        extras = (
            (None, None) if p.output_padding is None else pair(p.output_padding, "output_padding")
        )
        out = []
        for axis in range(2):
            k, s, extra = kernel[axis], strides[axis], extras[axis]
            if extra is not None and extra >= s:
                raise ShapeError(
                    f"output_padding {list(extras)} must be less than strides {list(strides)} "
                    "on each axis",
                    "use a smaller output_padding, or leave it out",
                )
            effective = (k - 1) * p.dilation_rate + 1
            if p.padding == "same" and extra == 0 and effective % 2 == 0:
                # The convolution this transposes would not map that size back to the input's.
                raise ShapeError(
                    f"output_padding 0 with padding 'same' needs an odd kernel_size, got {k}",
                    "use output_padding: 1, an odd kernel_size, or leave output_padding out",
                )
            out.append(transposed_length(shape[axis], k, s, p.padding, extra, p.dilation_rate))
        return (out[0], out[1], p.filters)

    @staticmethod
    def variables(p: Conv2DTransposeParams, inputs: list[Shape]) -> list[Variable]:
        kh, kw = pair(p.kernel_size, "kernel_size")
        kernel = (kh, kw, p.filters, inputs[0][-1])
        out = [Variable("kernel", kernel, p.kernel_initializer, l2=p.l2)]
        if p.use_bias:
            out.append(Variable("bias", (p.filters,), p.bias_initializer))
        return out
