"""Global pooling: the mean or the maximum over every step or pixel, one value per channel."""

from pydantic import Field

from modelgen.layers.base import LayerKind, LayerParams, Shape, register, require_rank

IMAGES = "images (height, width, channels)"
SEQUENCES = "sequences (steps, channels)"


class GlobalPoolParams(LayerParams):
    keepdims: bool = Field(
        False,
        description="keep the pooled axes with size 1 ((1, 1, c) for images, (1, c) for "
        "sequences), say for a squeeze-and-excite multiply",
    )


def _global2d_shape(p: GlobalPoolParams, inputs: list[Shape]) -> Shape:
    (shape,) = inputs
    require_rank(shape, 3, IMAGES)
    return (1, 1, shape[2]) if p.keepdims else (shape[2],)


def _global1d_shape(p: GlobalPoolParams, inputs: list[Shape]) -> Shape:
    (shape,) = inputs
    require_rank(shape, 2, SEQUENCES)
    return (1, shape[1]) if p.keepdims else (shape[1],)


@register
class GlobalAvgPool2D(LayerKind):
    kind = "global_avg_pool2d"
    params = GlobalPoolParams
    summary = "Mean over height and width: (h, w, c) -> (c,), or (1, 1, c) with keepdims."
    example = "{}"
    example_input = (6, 6, 2)
    output_shape = staticmethod(_global2d_shape)


@register
class GlobalMaxPool2D(LayerKind):
    kind = "global_max_pool2d"
    params = GlobalPoolParams
    summary = "Maximum over height and width: (h, w, c) -> (c,), or (1, 1, c) with keepdims."
    example = "{keepdims: true}"
    example_input = (5, 4, 2)
    output_shape = staticmethod(_global2d_shape)


@register
class GlobalAvgPool1D(LayerKind):
    kind = "global_avg_pool1d"
    params = GlobalPoolParams
    summary = "Mean over the steps of a sequence: (steps, c) -> (c,), or (1, c) with keepdims."
    example = "{}"
    example_input = (5, 3)
    output_shape = staticmethod(_global1d_shape)


@register
class GlobalMaxPool1D(LayerKind):
    kind = "global_max_pool1d"
    params = GlobalPoolParams
    summary = "Maximum over the steps of a sequence: (steps, c) -> (c,), or (1, c) with keepdims."
    example = "{}"
    example_input = (5, 3)
    output_shape = staticmethod(_global1d_shape)
