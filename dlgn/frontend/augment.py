"""Training-data augmentation on raw features, applied afresh every epoch.

An augmentation is a callable ``aug(x, rng) -> x'``: ``x`` the raw training rows (float32
``[N, F]``, the data set's own units, before any encoder), ``rng`` a
:class:`numpy.random.Generator` that :func:`dlgn.frontend.train.train` seeds from the run's
seed and the epoch, so an epoch's augmented data is a pure function of both and a resumed
run is bit-identical to an uninterrupted one. The rows it returns have the same shape; the
net's encoder then encodes them as it encodes any raw rows. Validation and test rows are
never augmented.
"""

from __future__ import annotations

import numpy as np

from ..errors import DlgnError

__all__ = ["AugmentError", "Compose", "ImageFlip", "ImageShift", "image_shape"]


class AugmentError(DlgnError, ValueError):
    """An augmentation does not fit the data (e.g. shifting rows that are not images)."""


def image_shape(n_features: int) -> tuple[int, int, int]:
    """(C, H, W) of square image rows of ``n_features`` values (1 or 3 channels, channel-major
    as the loaders store them); AugmentError if they are not."""
    for c in (1, 3):
        side = int(round((n_features / c) ** 0.5))
        if side > 0 and c * side * side == n_features:
            return c, side, side
    raise AugmentError(f"image augmentation needs square image rows of 1 or 3 channels; "
                       f"{n_features} features are not")


def _as_images(x, shape) -> np.ndarray:
    """Raw rows ``x`` [N, C*H*W] as images [N, C, H, W] (a view); AugmentError if the rows
    are not images of ``shape``."""
    c, h, w = shape
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != c * h * w:
        raise AugmentError(f"rows of {x.shape[1:]} features are not {c}x{h}x{w} images")
    return x.reshape(len(x), c, h, w)


class ImageShift:
    """Translate every image by its own random (dy, dx), each uniform in
    ``[-max_shift, max_shift]``, filling what moves in with ``fill`` (the background: 0 for
    MNIST's black). A shifted digit stays a digit; a net that sees it at a few offsets learns
    strokes rather than exact pixel positions, which is what a small logic net over a fixed
    wiring overfits to."""

    def __init__(self, shape, max_shift: int, fill: float = 0.0):
        c, h, w = (int(v) for v in shape)
        if isinstance(max_shift, bool) or not isinstance(max_shift, (int, np.integer)) \
                or not 0 <= int(max_shift) < min(h, w):
            raise AugmentError(f"max_shift must be an integer in [0, {min(h, w)}), got "
                               f"{max_shift!r}")
        self.shape, self.max_shift, self.fill = (c, h, w), int(max_shift), float(fill)

    def __repr__(self):
        fill = "" if self.fill == 0.0 else f", fill={self.fill!r}"
        return f"ImageShift(shape={self.shape}, max_shift={self.max_shift}{fill})"

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        c, h, w = self.shape
        img = _as_images(x, self.shape)
        s = self.max_shift
        n = len(img)
        if s == 0 or n == 0:
            return img.reshape(n, c * h * w).copy()
        dy = rng.integers(-s, s + 1, size=n)
        dx = rng.integers(-s, s + 1, size=n)
        pad = np.full((n, c, h + 2 * s, w + 2 * s), self.fill, dtype=img.dtype)
        pad[:, :, s:s + h, s:s + w] = img
        out = np.empty_like(img)
        # out[i, :, y, x] = img[i, :, y - dy, x - dx]: a window of the padded image per offset
        for oy in range(-s, s + 1):
            rows_y = dy == oy
            if not rows_y.any():
                continue
            for ox in range(-s, s + 1):
                sel = np.flatnonzero(rows_y & (dx == ox))
                if len(sel):
                    out[sel] = pad[sel, :, s - oy:s - oy + h, s - ox:s - ox + w]
        return out.reshape(n, c * h * w)


class ImageFlip:
    """Mirror each image left to right with probability 1/2, its own coin per image and
    epoch. A garment, a bag or a shoe stays what it is in the mirror (Fashion-MNIST's
    classes all do), so a net that sees both sides cannot memorise one; digits do not stay
    digits, so it is not for MNIST."""

    def __init__(self, shape):
        self.shape = tuple(int(v) for v in shape)
        if len(self.shape) != 3 or min(self.shape) < 1:
            raise AugmentError(f"an image shape is (C, H, W), got {shape!r}")

    def __repr__(self):
        return f"ImageFlip(shape={self.shape})"

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        img = _as_images(x, self.shape)
        flip = rng.random(len(img)) < 0.5
        out = img.copy()
        out[flip] = img[flip, ..., ::-1]
        return out.reshape(len(img), int(np.prod(self.shape)))


class Compose:
    """Apply augmentations one after the other, each drawing from the same generator in
    turn (so the whole is still a pure function of the generator's seed)."""

    def __init__(self, augmentations):
        self.augmentations = tuple(augmentations)
        for a in self.augmentations:
            if not callable(a):
                raise AugmentError(f"an augmentation must be a callable (x, rng) -> x, got "
                                   f"{a!r}")

    def __repr__(self):
        return f"Compose([{', '.join(repr(a) for a in self.augmentations)}])"

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        for a in self.augmentations:       # each returns new rows: the input stays as it is
            x = a(x, rng)
        return x
