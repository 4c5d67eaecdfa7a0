"""Init slices: epochs to converge as an image over two initial parameters.

Kolen & Pollack (1990) trained a 2-2-1 XOR network from every point of a grid
over two of its initial weights, the others fixed, and painted each point by
the epochs it took to converge (black: never).  A run whose grid has two
parameter axes (``"W1[0,1]"``, ``"W2[1]"``, ...) is such a slice;
:func:`slice_image` computes the image's data from the network table and
:func:`plot_slice` draws it, one pixel per network.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .tables import grid_axes, is_param_axis

__all__ = ["SliceImage", "slice_image", "slice_facets", "plot_slice", "NEVER_COLOUR",
           "ABSENT_COLOUR"]

#: Colour of networks that never converged (as in Kolen & Pollack's figures).
NEVER_COLOUR = "black"
#: Colour of grid points without a trained network (an incomplete run).
ABSENT_COLOUR = "#d9d9d9"


@dataclass(frozen=True)
class SliceImage:
    """Epochs to converge on a grid of two initial parameters.

    ``epochs[i, j]`` belongs to (``y_values[i]``, ``x_values[j]``): the first
    epoch at which that network met the convergence criterion, NaN where it
    never did or where no network was trained (``present[i, j]`` False).
    """

    x: str
    y: str
    x_values: np.ndarray
    y_values: np.ndarray
    epochs: np.ndarray
    present: np.ndarray
    limit: int
    title: str = ""

    @property
    def never(self) -> np.ndarray:
        """Mask of trained networks that never converged."""
        return self.present & np.isnan(self.epochs)


def slice_image(df: pd.DataFrame, x: str, y: str, *, title: str = "") -> SliceImage:
    """Arrange the networks of one slice on the grid of their ``x`` and ``y`` values.

    Parameters
    ----------
    df : DataFrame
        Network rows with columns ``x``, ``y``, ``converged_epoch`` and ``epochs``,
        at most one row per (x, y) point: one replicate of one value of every other
        varying axis (see :func:`slice_facets`).
    x, y : str
        Two different columns (usually parameter axes such as ``"W1[0,1]"``).
    title : str
        Kept with the data, drawn as the plot's title.

    Returns
    -------
    SliceImage

    Raises
    ------
    ValueError
        If an axis is missing, x == y, or two rows share a point.
    """
    for a in (x, y):
        if a not in df:
            raise ValueError(f"unknown axis {a!r}; the run has {', '.join(grid_axes(df))}")
    if x == y:
        raise ValueError(f"x and y are both {x!r}; choose two different axes")
    shared = int(df.duplicated([x, y]).sum())
    if shared:
        raise ValueError(f"{shared} networks share a ({x}, {y}) point with another; select "
                         "one replicate and one value of every other varying axis first")
    xs = np.unique(df[x].to_numpy(dtype=np.float64))
    ys = np.unique(df[y].to_numpy(dtype=np.float64))
    ix = np.searchsorted(xs, df[x].to_numpy(dtype=np.float64))
    iy = np.searchsorted(ys, df[y].to_numpy(dtype=np.float64))
    ce = df["converged_epoch"].to_numpy()
    epochs = np.full((len(ys), len(xs)), np.nan)
    present = np.zeros((len(ys), len(xs)), dtype=bool)
    epochs[iy, ix] = np.where(ce >= 0, ce, np.nan)
    present[iy, ix] = True
    limit = int(df["epochs"].max()) if len(df) else 0
    return SliceImage(x=x, y=y, x_values=xs, y_values=ys, epochs=epochs, present=present,
                      limit=limit, title=title)


def slice_facets(df: pd.DataFrame, x: str, y: str) -> list[tuple[str, pd.DataFrame]]:
    """Split a run into slices: one per replicate and value of every other varying axis.

    Returns ``(title, rows)`` pairs in table order; the title names the fixed values
    (empty when the run is a single slice).
    """
    others = [a for a in grid_axes(df) if a not in (x, y) and df[a].nunique() > 1]
    if "replicate" in df and df["replicate"].nunique() > 1:
        others.append("replicate")
    if not others:
        return [("", df)]
    out = []
    for key, rows in df.groupby(others, observed=True, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        title = ", ".join(f"{a} = {v:.3g}" if isinstance(v, float) else f"{a} = {v}"
                          for a, v in zip(others, key, strict=True))
        out.append((title, rows))
    return out


def _edges(values: np.ndarray) -> tuple[float, float]:
    if len(values) == 1:
        return values[0] - 0.5, values[0] + 0.5
    step = (values[-1] - values[0]) / (len(values) - 1)
    return values[0] - step / 2, values[-1] + step / 2


def plot_slice(data: SliceImage, ax=None):
    """Draw a slice: one pixel per network, coloured by epochs to converge.

    Never-converged networks are black, grid points without a network light grey;
    axes are in parameter units (the grid is assumed evenly spaced, as linspace
    makes it).  Returns ``ax``.
    """
    from matplotlib import colormaps
    from matplotlib.patches import Patch

    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7, 6))
    extent = (*_edges(data.x_values), *_edges(data.y_values))
    ax.set_facecolor(ABSENT_COLOUR)
    never = np.ma.masked_where(~data.never, np.zeros(data.epochs.shape))
    ax.imshow(never, origin="lower", extent=extent, aspect="auto", interpolation="nearest",
              cmap=colormaps["gray"], vmin=0, vmax=1)
    image = ax.imshow(np.ma.masked_invalid(data.epochs), origin="lower", extent=extent,
                      aspect="auto", interpolation="nearest", cmap=colormaps["plasma"],
                      vmin=0, vmax=max(data.limit, 1))
    ax.figure.colorbar(image, ax=ax, label="epochs to converge")
    handles = [Patch(facecolor=NEVER_COLOUR, label=f"never (within {data.limit:,} epochs)")]
    if not data.present.all():
        handles.append(Patch(facecolor=ABSENT_COLOUR, label="not trained yet"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0, -0.08), fontsize=8,
              frameon=False, ncols=2)
    ax.set_xlabel(f"initial {data.x}" if is_param_axis(data.x) else data.x)
    ax.set_ylabel(f"initial {data.y}" if is_param_axis(data.y) else data.y)
    n = int(data.present.sum())
    rate = (n - int(data.never.sum())) / n if n else 0.0
    ax.set_title((data.title + "; " if data.title else "")
                 + f"{data.epochs.shape[1]} x {data.epochs.shape[0]} networks, "
                 f"{rate:.1%} converged", fontsize=10)
    return ax
