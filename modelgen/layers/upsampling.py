"""upsampling2d: enlarge images by whole factors, repeating pixels or interpolating."""

from typing import Annotated, Literal

from pydantic import Field

from modelgen.layers.base import (
    MAX_SIZE,
    LayerKind,
    LayerParams,
    Shape,
    ShapeError,
    Size,
    pair,
    register,
    require_rank,
)


class UpSampling2DParams(LayerParams):
    size: Size | Annotated[list[Size], Field(min_length=2, max_length=2)] = Field(
        2, description="upsampling factors: an int (both axes) or [rows, columns]"
    )
    interpolation: Literal["nearest", "bilinear"] = Field(
        "nearest",
        description="`nearest` repeats each row and column; `bilinear` resizes with "
        "tf.image.resize (half-pixel centres)",
    )

    @property
    def factors(self) -> tuple[int, int]:
        """(rows, columns)."""
        return pair(self.size, "size")


@register
class UpSampling2D(LayerKind):
    kind = "upsampling2d"
    params = UpSampling2DParams
    summary = "Upsample images: (h, w, c) -> (h*rows, w*columns, c)."
    example = "{size: [2, 3]}"
    example_input = (3, 2, 2)

    @staticmethod
    def output_shape(p: UpSampling2DParams, inputs: list[Shape]) -> Shape:
        (shape,) = inputs
        require_rank(shape, 3, "images (height, width, channels)")
        rows, cols = p.factors
        h, w = shape[0] * rows, shape[1] * cols
        if max(h, w) > MAX_SIZE:
            raise ShapeError(f"size {p.size} makes the image too large ({[h, w]})")
        return (h, w, shape[2])
