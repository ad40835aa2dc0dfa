"""The SegmentationSource port: which supervoxel lies at each point."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt


class SegmentationSource(Protocol):
    @property
    def resolution_nm(self) -> tuple[float, float, float]:
        """Voxel size of the volume's base scale, in nm."""
        ...

    def lookup(
        self,
        points: npt.ArrayLike,
        resolution_nm: tuple[float, float, float],
        *,
        outside: str = "error",
    ) -> npt.NDArray[np.uint64]:
        """Supervoxel id at each point. ``points`` is (n, 3) in voxels of ``resolution_nm``; they
        are converted to the volume's voxels. A point outside the volume raises ``Unprocessable``,
        or gives 0 when ``outside="zero"``."""
        ...
