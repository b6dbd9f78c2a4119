"""One catalog item: an image with its title, attributes and labels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gan_studio.data.attributes import Attributes


@dataclass(frozen=True, eq=False)
class CatalogItem:
    """A product photo and everything known about it.

    - ``image``: (H, W, 3) uint8 RGB.
    - ``mask``: (H, W) uint8 part indices into :data:`gan_studio.data.attributes.PART_NAMES`, or None.
    - ``keypoints``: (K, 3) float32 rows ``x, y, v`` in pixels (COCO visibility: 0 not labeled, 1 labeled but
      hidden, 2 visible), K = len(KEYPOINTS), or None.
    - ``depth``: (H, W) float32 distance from the camera in meters, 0 where undefined (background), or None.
    - ``attributes``: None for user images that carry no attributes.
    """

    id: str
    title: str
    image: np.ndarray
    attributes: Attributes | None = None
    mask: np.ndarray | None = None
    keypoints: np.ndarray | None = None
    depth: np.ndarray | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) in pixels."""
        return int(self.image.shape[0]), int(self.image.shape[1])
