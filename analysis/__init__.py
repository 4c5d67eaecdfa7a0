"""Reading sweep results: convergence tables with confidence intervals and failure modes.

Works from the store alone (``sweeps.store``): it imports nothing from
``kernels`` and needs no numba, so a run copied to another machine can be read
there.

>>> import analysis
>>> df = analysis.load("runs/quickstart")
>>> table = analysis.convergence_table(df, by=["lr", "init_scale"])
>>> table.attrs["pooled"]        # the axes that vary but were pooled
>>> analysis.compare(df, a={"lr": 1.0}, b={"lr": 10.0})   # paired by replicate
>>> analysis.boundary_dimension(analysis.load("runs/kolen-pollack-zoom"))  # box counting
"""

from __future__ import annotations

from .boundary import BoundaryDimension, boundary_dimension, zoom_dimensions
from .compare import CompareError, compare, compare_runs
from .tables import (
    STATIONARY_LOSSES,
    convergence_table,
    failure_mode_table,
    failure_modes,
    fraction_converged,
    load,
    wilson_interval,
)

__all__ = ["STATIONARY_LOSSES", "BoundaryDimension", "CompareError", "boundary_dimension",
           "compare", "compare_runs", "convergence_table", "failure_mode_table", "failure_modes",
           "fraction_converged", "load", "wilson_interval", "zoom_dimensions"]
