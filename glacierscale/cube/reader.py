"""A stackstac reader that warps each asset once.

stackstac 0.5 asks rasterio for a masked array. On a ``WarpedVRT`` GDAL builds that mask by warping the band
a second time, which doubles the cost of every read that is reprojected or resampled (measured here: 3.7
against 1.9 CPU seconds for eight Sentinel-2 bands warped onto a 1024² px, 20 m unit). This reader reads the
data alone and derives the same mask from the nodata value, or from the VRT's alpha band when the file
declares no nodata, so the pixels come out as stackstac's own reader gives them.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from rasterio.windows import Window
from stackstac.nodata_reader import exception_matches, nodata_for_window
from stackstac.rio_reader import AutoParallelRioReader


class SingleWarpReader(AutoParallelRioReader):
    """``AutoParallelRioReader`` without the second warp for the mask (same output)."""

    _nodata: float | None = None

    def _open(self) -> Any:
        wrapper = super()._open()
        inner = getattr(wrapper, "dataset", None)  # ThreadLocalRioDataset: the VRT, or the file when no VRT
        if inner is None:
            inner = getattr(wrapper, "vrt", None) or getattr(wrapper, "ds", None)  # SingleThreadedRioDataset
        self._nodata = getattr(inner, "nodata", None)
        return wrapper

    def read(self, window: Window, **kwargs: Any) -> np.ndarray:
        reader = self.dataset
        try:
            result = reader.read(window=window, out_dtype=self.dtype, masked=False, **kwargs)
        except Exception as e:
            msg = f"Error reading {window} from {self.url!r}: {e!r}"
            if exception_matches(e, self.errors_as_nodata):
                warnings.warn(msg, stacklevel=2)
                return nodata_for_window(window, self.fill_value, self.dtype)
            raise RuntimeError(msg) from e
        if result.ndim == 2:  # stackstac's NodataReader (a file that could not be opened)
            return result
        if result.shape[0] == 2:  # a VRT over a file without nodata carries an alpha band (0 = outside)
            data, valid = result[0], result[1] != 0
        else:
            data = result[0]
            if self._nodata is None:
                valid = np.ones(data.shape, dtype=bool)
            else:
                valid = ~np.isnan(data) if np.isnan(self._nodata) else data != self._nodata
        scale, offset = self.scale_offset
        if scale != 1:
            data *= scale
        if offset != 0:
            data += offset
        data[~valid] = self.fill_value
        return data
