"""Regenerate the bundled datasets in examples/data/ (offline: scikit-learn carries them).

Usage: python scripts/make_datasets.py   (needs scikit-learn and Pillow, both in the dev extra)

Origins and licences are listed in examples/data/README.md. Rows are shuffled once with seed 0,
so that `validation_split` (which holds out the last rows) gets every class.
"""

from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_diabetes, load_digits, load_wine

OUT = Path(__file__).resolve().parent.parent / "examples" / "data"


def digits() -> None:
    data = load_digits()
    order = np.random.default_rng(0).permutation(len(data.target))
    x = (data.images[order] / 16.0).astype("float32")[..., None]
    y = data.target[order].astype("int64")
    np.savez_compressed(OUT / "digits.npz", x=x, y=y)
    print(f"digits.npz: x {x.shape}, y {y.shape}")


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    lines = [",".join(header)] + [",".join(row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{path.name}: {len(rows)} rows, {len(header)} columns")


def wine() -> None:
    data = load_wine()
    order = np.random.default_rng(0).permutation(len(data.target))
    rows = [[f"{v:g}" for v in data.data[i]] + [str(data.target_names[data.target[i]])]
            for i in order]  # fmt: skip
    write_csv(OUT / "wine.csv", [*data.feature_names, "cultivar"], rows)


def diabetes() -> None:
    data = load_diabetes(scaled=False)
    order = np.random.default_rng(0).permutation(len(data.target))
    names = list(data.feature_names)
    rows = []
    for i in order:
        cells = [f"{v:g}" for v in data.data[i]]
        cells[names.index("sex")] = "female" if data.data[i][names.index("sex")] == 2 else "male"
        rows.append([*cells, f"{data.target[i]:g}"])
    write_csv(OUT / "diabetes.csv", [*names, "progression"], rows)


def shapes(per_class: int = 60, size: int = 16) -> None:
    """Tiny grayscale images of circles, squares and triangles at random positions/sizes."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size]
    for name in ("circle", "square", "triangle"):
        folder = OUT / "shapes" / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            r = rng.uniform(3, 6)
            cx, cy = rng.uniform(r, size - r, 2)
            if name == "circle":
                mask = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
            elif name == "square":
                mask = (abs(xx - cx) <= r * 0.8) & (abs(yy - cy) <= r * 0.8)
            else:
                mask = (yy >= cy - r) & (yy <= cy + r) & (abs(xx - cx) <= (yy - (cy - r)) / 2)
            pixels = rng.normal(30, 10, (size, size)) + mask * rng.uniform(150, 220)
            image = Image.fromarray(np.clip(pixels, 0, 255).astype("uint8"), mode="L")
            image.save(folder / f"{i:03d}.png", optimize=True)
    print(f"shapes/: 3 classes x {per_class} images of {size}x{size}")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    digits()
    wine()
    diabetes()
    shapes()


if __name__ == "__main__":
    main()
