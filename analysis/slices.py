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

from . import plots
from .tables import grid_axes, varying_axes

__all__ = ["SliceImage", "slice_image", "slice_facets", "plot_slice", "slice_figure",
           "NEVER_COLOUR", "ABSENT_COLOUR"]

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


def slice_image(df: pd.DataFrame, x: str, y: str, *, x_values=None, y_values=None,
                title: str = "") -> SliceImage:
    """Arrange the networks of one slice on the grid of their ``x`` and ``y`` values.

    Parameters
    ----------
    df : DataFrame
        Network rows with columns ``x``, ``y``, ``converged_epoch`` and ``epochs``,
        at most one row per (x, y) point: one replicate of one value of every other
        varying axis (see :func:`slice_facets`).
    x, y : str
        Two different numeric columns (usually parameter axes such as ``"W1[0,1]"``).
    x_values, y_values : array_like, optional
        The grid's values (the spec's axis); default: the values present in ``df``.
        Give them for an incomplete run, so that missing points show as absent.
    title : str
        Kept with the data, drawn as the plot's title.

    Returns
    -------
    SliceImage
        ``epochs`` and ``present`` of shape (len(y_values), len(x_values)).

    Raises
    ------
    ValueError
        If an axis is missing or not numeric, x == y, two rows share a point, or
        ``df`` has a value that is not in ``x_values`` / ``y_values``.

    Examples
    --------
    >>> df = pd.DataFrame({"W1[0,1]": [0.0, 1.0], "W2[1]": [2.0, 2.0],
    ...                    "converged_epoch": [12, -1], "epochs": [100, 100]})
    >>> slice_image(df, "W1[0,1]", "W2[1]").epochs
    array([[12., nan]])
    """
    for a in (x, y):
        if a not in df:
            raise ValueError(f"unknown axis {a!r}; the run has {', '.join(grid_axes(df))}")
        if not pd.api.types.is_numeric_dtype(df[a]):
            raise ValueError(f"axis {a!r} is not numeric; a slice needs two numeric axes such "
                             "as initial parameters")
    if x == y:
        raise ValueError(f"x and y are both {x!r}; choose two different axes")
    shared = int(df.duplicated([x, y]).sum())
    if shared:
        raise ValueError(f"{shared} networks share a ({x}, {y}) point with another; select "
                         "one replicate and one value of every other varying axis first")
    xs, ix = _positions(df, x, x_values)
    ys, iy = _positions(df, y, y_values)
    ce = df["converged_epoch"].to_numpy()
    epochs = np.full((len(ys), len(xs)), np.nan)
    present = np.zeros((len(ys), len(xs)), dtype=bool)
    epochs[iy, ix] = np.where(ce >= 0, ce, np.nan)
    present[iy, ix] = True
    limit = int(df["epochs"].max()) if len(df) else 0
    return SliceImage(x=x, y=y, x_values=xs, y_values=ys, epochs=epochs, present=present,
                      limit=limit, title=title)


def _positions(df, axis, values) -> tuple[np.ndarray, np.ndarray]:
    """Return the sorted grid values of an axis and each row's index into them."""
    col = df[axis].to_numpy(dtype=np.float64)
    grid = np.unique(col if values is None else np.asarray(values, dtype=np.float64))
    index = np.searchsorted(grid, col).clip(0, max(len(grid) - 1, 0))
    if len(col) and not (grid[index] == col).all():
        raise ValueError(f"{axis} has values that are not in the grid given for it")
    return grid, index


def slice_facets(df: pd.DataFrame, x: str, y: str) -> list[tuple[str, pd.DataFrame]]:
    """Split a run into slices: one per replicate and value of every other varying axis.

    Parameters
    ----------
    df : DataFrame
        Network table.
    x, y : str
        The slice's axes.

    Returns
    -------
    list of (str, DataFrame)
        ``(title, rows)`` in table order; the title names the fixed values
        (empty when the run is a single slice).
    """
    others = varying_axes(df, exclude=(x, y))
    if "replicate" in df and df["replicate"].nunique() > 1:
        others.append("replicate")
    if not others:
        return [("", df)]
    out = []
    for key, rows in df.groupby(others, observed=True, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        title = ", ".join(f"{a} = {plots.format_value(v)}"
                          for a, v in zip(others, key, strict=True))
        out.append((title, rows))
    return out


def plot_slice(data: SliceImage, ax=None, *, cax=None):
    """Draw a slice: one cell per network, coloured by epochs to converge.

    Parameters
    ----------
    data : SliceImage
    ax : matplotlib Axes, optional
        Where to draw (default: a new figure).
    cax : matplotlib Axes, optional
        Where to draw the colour bar (default: taken from ``ax``).

    Returns
    -------
    Axes
        ``ax``.  Never-converged networks are black, grid points without a network
        light grey; axes are in parameter units, cells span the midpoints between
        neighbouring values (so uneven grids are drawn where they are).
    """
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7, 6))
    xe = plots.cell_edges(list(data.x_values), log=False)
    ye = plots.cell_edges(list(data.y_values), log=False)
    ax.set_facecolor(ABSENT_COLOUR)
    never = np.ma.masked_where(~data.never, np.zeros(data.epochs.shape))
    ax.pcolormesh(xe, ye, never, cmap=ListedColormap([NEVER_COLOUR]), shading="flat")
    mesh = ax.pcolormesh(xe, ye, np.ma.masked_invalid(data.epochs), cmap=colormaps["plasma"],
                         vmin=0, vmax=max(data.limit, 1), shading="flat")
    if cax is not None:
        ax.figure.colorbar(mesh, cax=cax, label="epochs to converge")
    else:
        ax.figure.colorbar(mesh, ax=ax, label="epochs to converge")
    handles = [Patch(facecolor=NEVER_COLOUR, label=f"never (within {data.limit:,} epochs)")]
    if not data.present.all():
        handles.append(Patch(facecolor=ABSENT_COLOUR, label="not trained yet"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0, -0.07), fontsize=8,
              frameon=False, ncols=2)
    ax.set_xlabel(plots.axis_label(data.x))
    ax.set_ylabel(plots.axis_label(data.y))
    n = int(data.present.sum())
    rate = (n - int(data.never.sum())) / n if n else 0.0
    ax.set_title((data.title + "; " if data.title else "")
                 + f"{data.epochs.shape[1]} x {data.epochs.shape[0]} networks, "
                 f"{rate:.1%} converged", fontsize=10)
    return ax


def slice_figure(data: SliceImage, dpi: float = 100, max_pixels: int = 2000):
    """Return a matplotlib Figure of :func:`plot_slice` with whole pixels per network.

    The plot area is sized so that each network gets the same whole number of
    pixels at ``dpi``: 4 for a 200 x 200 slice, at least 1 up to ``max_pixels``
    networks a side (beyond that the image is scaled down).
    """
    from matplotlib.figure import Figure

    ny, nx = data.epochs.shape
    per = max(1, 800 // max(nx, ny))
    width, height = min(nx * per, max_pixels) / dpi, min(ny * per, max_pixels) / dpi
    left, right, bottom, top, bar = 0.9, 1.3, 1.0, 0.45, 0.2  # inches
    fig_w, fig_h = left + width + right, bottom + height + top
    fig = Figure(figsize=(fig_w, fig_h), dpi=dpi)
    ax = fig.add_axes((left / fig_w, bottom / fig_h, width / fig_w, height / fig_h))
    cax = fig.add_axes(((left + width + 0.25) / fig_w, bottom / fig_h, bar / fig_w,
                        height / fig_h))
    plot_slice(data, ax, cax=cax)
    return fig
