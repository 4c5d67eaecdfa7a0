"""Init slices: epochs to converge as an image over two initial parameters.

Kolen & Pollack (1990) trained a 2-2-1 XOR network from every point of a grid
over two of its initial weights, the others fixed, and painted each point by
the epochs it took to converge (black: never).  A run whose grid has two
parameter axes (``"W1[0,1]"``, ``"W2[1]"``, ...) is such a slice;
:func:`slice_image` computes the image's data from the network table and
:func:`plot_slice` draws it, one pixel per network.  A refined run's slice
(``[refine]``: more points where the outcome changes) is drawn at several
resolutions at once: :func:`refined_image` gives each network the cell of its own
level, finest where the run refined, and :func:`plot_refined_slice` draws it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import plots
from .boundary import lattice
from .tables import grid_axes, varying_axes

__all__ = ["SliceImage", "slice_image", "slice_facets", "plot_slice", "slice_figure",
           "NEVER_COLOUR", "ABSENT_COLOUR", "RefinedImage", "refined_image",
           "plot_refined_slice", "refined_figure", "MAX_IMAGE_SIDE"]

#: The most pixels a side of :func:`refined_image`'s raster (a finer lattice is sampled).
MAX_IMAGE_SIDE = 2048

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


def _slice_axes(ax, data):
    """Return the axes to draw a slice on (a new figure's if None) and its never-mask.

    The background is the colour of points without a network; the mask is zero
    where a network never converged and masked elsewhere.
    """
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7, 6))
    ax.set_facecolor(ABSENT_COLOUR)
    return ax, np.ma.masked_where(~data.never, np.zeros(data.epochs.shape))


def _label_slice(ax, mesh, cax, data, *, absent: str, legend_y: float) -> None:
    """Add a slice's colour bar, legend and axis labels.

    The legend, below the axes at ``legend_y``, names the never-converged colour and,
    where some point has no network, the background as ``absent``.
    """
    from matplotlib.patches import Patch

    if cax is not None:
        ax.figure.colorbar(mesh, cax=cax, label="epochs to converge")
    else:
        ax.figure.colorbar(mesh, ax=ax, label="epochs to converge")
    handles = [Patch(facecolor=NEVER_COLOUR, label=f"never (within {data.limit:,} epochs)")]
    if not data.present.all():
        handles.append(Patch(facecolor=ABSENT_COLOUR, label=absent))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0, legend_y), fontsize=8,
              frameon=False, ncols=2)
    ax.set_xlabel(plots.axis_label(data.x))
    ax.set_ylabel(plots.axis_label(data.y))


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

    ax, never = _slice_axes(ax, data)
    xe = plots.cell_edges(list(data.x_values), log=False)
    ye = plots.cell_edges(list(data.y_values), log=False)
    ax.pcolormesh(xe, ye, never, cmap=ListedColormap([NEVER_COLOUR]), shading="flat")
    mesh = ax.pcolormesh(xe, ye, np.ma.masked_invalid(data.epochs), cmap=colormaps["plasma"],
                         vmin=0, vmax=max(data.limit, 1), shading="flat")
    _label_slice(ax, mesh, cax, data, absent="not trained yet", legend_y=-0.07)
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


@dataclass(frozen=True)
class RefinedImage:
    """A refined slice as a raster: each network's cell at its own level's size.

    Pixel ``(i, j)`` stands for the lattice point ``(j * k, i * k)``, ``k`` =
    ``pixel``, the run's finest grid sampled every ``k`` steps (1 unless the
    lattice has more than :data:`MAX_IMAGE_SIDE` points a side).  It takes the
    epochs to converge of the nearest network of the finest level that has one
    within half a cell of that level: ``epochs`` (NaN where never converged or
    absent), ``present`` and ``level`` (-1 where absent).  ``x_edges`` and
    ``y_edges`` are the pixels' edges in axis values; ``points`` counts the
    networks of each level.
    """

    x: str
    y: str
    x_edges: np.ndarray
    y_edges: np.ndarray
    epochs: np.ndarray
    present: np.ndarray
    level: np.ndarray
    limit: int
    pixel: int
    points: tuple[int, ...]
    x_log: bool = False
    y_log: bool = False
    title: str = ""

    @property
    def never(self) -> np.ndarray:
        """Mask of pixels whose network never converged."""
        return self.present & np.isnan(self.epochs)


def _pixel_edges(n_lattice: int, pixel: int, ends: tuple[float, float], log: bool
                 ) -> np.ndarray:
    """Return the axis values at the edges of the pixels of one axis."""
    centres = np.arange(0, n_lattice, pixel, dtype=np.float64)
    u = np.concatenate([centres - pixel / 2, [centres[-1] + pixel / 2]])
    t = u / max(n_lattice - 1, 1)
    if log:
        lo, hi = np.log10(ends[0]), np.log10(ends[1])
        return 10.0 ** (lo + t * (hi - lo))
    return ends[0] + t * (ends[1] - ends[0])


def refined_image(df: pd.DataFrame, x: str | None = None, y: str | None = None, *,
                  max_side: int = MAX_IMAGE_SIDE, title: str = "") -> RefinedImage:
    """Paint a refined slice: every network over the cell of its level, finer levels on top.

    Parameters
    ----------
    df : DataFrame
        One slice of a refined run (``level``, ``ix``, ``iy``, the two axes,
        ``converged_epoch``, ``epochs``), one network per point; a plain slice is
        painted as one level.
    x, y : str, optional
        The slice's axes (:func:`analysis.boundary.slice_axes`).
    max_side : int
        The most pixels a side.
    title : str
        Kept with the data, drawn as the plot's title.

    Returns
    -------
    RefinedImage

    Raises
    ------
    ValueError
        As :func:`analysis.boundary.lattice`.

    Examples
    --------
    >>> df = pd.DataFrame({"W1[0,1]": [0.0, 2.0, 0.0, 2.0, 1.0], "W2[1]": [0.0, 0.0, 2.0, 2.0,
    ...                    1.0], "level": [0, 0, 0, 0, 1], "ix": [0, 2, 0, 2, 1],
    ...                    "iy": [0, 0, 2, 2, 1], "converged_epoch": [5, 5, 5, -1, 9],
    ...                    "epochs": 20})
    >>> refined_image(df).level
    array([[0, 0, 0],
           [0, 1, 0],
           [0, 0, 0]])
    """
    lat = lattice(df, x, y)
    pixel = max(1, -(-max(lat.nx, lat.ny) // max_side))
    cols = np.arange(0, lat.nx, pixel)
    rows = np.arange(0, lat.ny, pixel)
    epochs = np.full((len(rows), len(cols)), np.nan)
    present = np.zeros(epochs.shape, dtype=bool)
    level = np.full(epochs.shape, -1, dtype=np.int64)
    points = []
    for lev, step in enumerate(lat.steps):
        at = lat.level == lev
        points.append(int(at.sum()))
        if not at.any():
            continue
        # the level's own lattice, each pixel looking up its nearest level point
        gx, gy = lat.ix[at] // step, lat.iy[at] // step
        width, height = (lat.nx - 1) // step + 1, (lat.ny - 1) // step + 1
        values = np.full((height, width), np.nan)
        here = np.zeros((height, width), dtype=bool)
        values[gy, gx] = lat.epochs[at]
        here[gy, gx] = True
        qx = np.minimum((cols + step // 2) // step, width - 1)
        qy = np.minimum((rows + step // 2) // step, height - 1)
        hit = here[np.ix_(qy, qx)]
        epochs[hit] = values[np.ix_(qy, qx)][hit]
        present |= hit
        level[hit] = lev
    return RefinedImage(x=lat.x, y=lat.y,
                        x_edges=_pixel_edges(lat.nx, pixel, lat.x_range, lat.x_log),
                        y_edges=_pixel_edges(lat.ny, pixel, lat.y_range, lat.y_log),
                        epochs=epochs, present=present, level=level, limit=lat.limit,
                        pixel=pixel, points=tuple(points), x_log=lat.x_log, y_log=lat.y_log,
                        title=title)


def plot_refined_slice(data: RefinedImage, ax=None, *, cax=None):
    """Draw a refined slice in the colours of :func:`plot_slice`.

    Parameters
    ----------
    data : RefinedImage
    ax : matplotlib Axes, optional
        Where to draw (default: a new figure).
    cax : matplotlib Axes, optional
        Where to draw the colour bar (default: taken from ``ax``).

    Returns
    -------
    Axes
        ``ax``: epochs to converge, black where never, light grey where no network
        of any level is within half a cell; the title counts the networks per level.
    """
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    ax, never = _slice_axes(ax, data)
    epochs = np.ma.masked_invalid(data.epochs)
    kw = {"vmin": 0, "vmax": max(data.limit, 1)}
    if data.x_log or data.y_log:  # pixels of unequal width: a mesh
        ax.pcolormesh(data.x_edges, data.y_edges, never, cmap=ListedColormap([NEVER_COLOUR]),
                      shading="flat", rasterized=True)
        mesh = ax.pcolormesh(data.x_edges, data.y_edges, epochs, cmap=colormaps["plasma"],
                             shading="flat", rasterized=True, **kw)
        ax.set_xscale("log" if data.x_log else "linear")
        ax.set_yscale("log" if data.y_log else "linear")
    else:
        extent = (data.x_edges[0], data.x_edges[-1], data.y_edges[0], data.y_edges[-1])
        ax.imshow(never, cmap=ListedColormap([NEVER_COLOUR]), origin="lower", extent=extent,
                  interpolation="nearest", aspect="auto")
        mesh = ax.imshow(epochs, cmap=colormaps["plasma"], origin="lower", extent=extent,
                         interpolation="nearest", aspect="auto", **kw)
    _label_slice(ax, mesh, cax, data, absent="not trained", legend_y=-0.1)
    per_level = " + ".join(f"{n:,}" for n in data.points)
    ax.set_title((data.title + "; " if data.title else "")
                 + f"{sum(data.points):,} networks over {len(data.points)} levels "
                 f"({per_level})", fontsize=10)
    return ax


def refined_figure(data: RefinedImage, dpi: float = 100, side: int = 800):
    """Return a matplotlib Figure of :func:`plot_refined_slice`, the image about ``side`` pixels.

    A raster smaller than ``side`` pixels gets a whole number of screen pixels per
    raster pixel (at ``dpi``); a larger one is drawn at ``side`` pixels.
    """
    from matplotlib.figure import Figure

    ny, nx = data.epochs.shape
    per = max(1, side // max(nx, ny))
    scale = min(1.0, side / max(nx * per, ny * per))
    width, height = nx * per * scale / dpi, ny * per * scale / dpi
    left, right, bottom, top, bar = 0.9, 1.3, 1.0, 0.45, 0.2  # inches
    fig_w, fig_h = left + width + right, bottom + height + top
    fig = Figure(figsize=(fig_w, fig_h), dpi=dpi)
    ax = fig.add_axes((left / fig_w, bottom / fig_h, width / fig_w, height / fig_h))
    cax = fig.add_axes(((left + width + 0.25) / fig_w, bottom / fig_h, bar / fig_w,
                        height / fig_h))
    plot_refined_slice(data, ax, cax=cax)
    return fig
