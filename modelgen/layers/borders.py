"""zero_padding2d and cropping2d: add or remove rows and columns at an image's borders."""

from typing import Annotated

from pydantic import Field

from modelgen.layers.base import (
    MAX_SIZE,
    LayerKind,
    LayerParams,
    Shape,
    ShapeError,
    register,
    require_rank,
)

Count = Annotated[int, Field(ge=0, le=MAX_SIZE)]
Pair = Annotated[list[Count], Field(min_length=2, max_length=2)]
#: An int (every side), [rows, columns] (both sides of each) or [[top, bottom], [left, right]].
Borders = Count | Pair | Annotated[list[Pair], Field(min_length=2, max_length=2)]
IMAGES = "images (height, width, channels)"


def borders(value: Borders) -> tuple[tuple[int, int], tuple[int, int]]:
    """((top, bottom), (left, right)) from any of the three spellings, as Keras reads them."""
    if isinstance(value, int):
        return (value, value), (value, value)
    rows, cols = value
    if isinstance(rows, int) and isinstance(cols, int):
        return (rows, rows), (cols, cols)
    assert isinstance(rows, list) and isinstance(cols, list)  # the schema allows no mix
    return (rows[0], rows[1]), (cols[0], cols[1])


class ZeroPadding2DParams(LayerParams):
    padding: Borders = Field(
        1,
        description="zeros added: an int (every side), [rows, columns] (added above and below, "
        "left and right) or [[top, bottom], [left, right]]",
    )

    @property
    def sides(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """((top, bottom), (left, right))."""
        return borders(self.padding)


@register
class ZeroPadding2D(LayerKind):
    kind = "zero_padding2d"
    params = ZeroPadding2DParams
    summary = "Pad images with zeros at the borders: (h, w, c) -> (h+top+bottom, w+left+right, c)."
    example = "{padding: [[1, 0], [2, 1]]}"
    example_input = (4, 5, 2)

    @staticmethod
    def output_shape(p: ZeroPadding2DParams, inputs: list[Shape]) -> Shape:
        (shape,) = inputs
        require_rank(shape, 3, IMAGES)
        (top, bottom), (left, right) = p.sides
        h, w = shape[0] + top + bottom, shape[1] + left + right
        if max(h, w) > MAX_SIZE:
            raise ShapeError(f"padding {p.padding} makes the image too large ({[h, w]})")
        return (h, w, shape[2])


class Cropping2DParams(LayerParams):
    cropping: Borders = Field(
        0,
        description="rows and columns removed: an int (every side), [rows, columns] (removed "
        "above and below, left and right) or [[top, bottom], [left, right]]",
    )

    @property
    def sides(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """((top, bottom), (left, right))."""
        return borders(self.cropping)


@register
class Cropping2D(LayerKind):
    kind = "cropping2d"
    params = Cropping2DParams
    summary = "Crop images at the borders: (h, w, c) -> (h-top-bottom, w-left-right, c)."
    example = "{cropping: [[1, 0], [2, 1]]}"
    example_input = (5, 6, 2)

    @staticmethod
    def output_shape(p: Cropping2DParams, inputs: list[Shape]) -> Shape:
        (shape,) = inputs
        require_rank(shape, 3, IMAGES)
        (top, bottom), (left, right) = p.sides
        if top + bottom >= shape[0] or left + right >= shape[1]:
            raise ShapeError(
                f"cropping {[[top, bottom], [left, right]]} leaves nothing of input {list(shape)}",
                "crop less than the height and the width",
            )
        return (shape[0] - top - bottom, shape[1] - left - right, shape[2])
