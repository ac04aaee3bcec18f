"""Ollivier-Ricci curvature of the price-level transition graph in a rolling window."""

from __future__ import annotations

from typing import Any

import pandas as pd

from tradepulse.indicators import nb
from tradepulse.indicators._common import DEFAULT_WINDOW, check_fraction, check_int, contiguous, price_series, wrap

DEFAULT_LEVELS = 8
DEFAULT_IDLENESS = 0.5
MIN_WINDOW = 8


def ricci_curvature(
    close: Any, window: int = DEFAULT_WINDOW, levels: int = DEFAULT_LEVELS, idleness: float = DEFAULT_IDLENESS
) -> pd.Series:
    r"""Compute the rolling mean Ollivier-Ricci curvature of the price-level graph.

    For the window of ``window`` closes ending at bar ``t``:

    1. **Nodes.** Quantise the closes into ``levels`` equal-width levels over the window's
       ``[min, max]`` (``numpy.histogram``'s bin edges).
    2. **Edges.** Consecutive bars at levels ``a != b`` add 1 to the weight of every edge
       ``(i, i+1)`` with ``min(a,b) <= i < max(a,b)`` (a jump passes through the levels between).
       The window visits its lowest and highest level, so the graph is the path
       ``0 - 1 - ... - (levels-1)`` with every weight ``w_i >= 1``; edge length is 1.
    3. **Measures.** The lazy random walk from node ``x`` stays with probability ``alpha``
       (``idleness``) and moves to neighbour ``y`` with probability
       ``(1 - alpha) w_xy / sum_z w_xz``.
    4. **Curvature.** :math:`\kappa(x, y) = 1 - W_1(m_x, m_y) / d(x, y)`. On a path (a tree) the
       Wasserstein-1 distance has the exact closed form
       :math:`W_1 = \sum_{\text{edges } e} |F_x(e) - F_y(e)| \cdot \ell_e`, with ``F`` the mass on
       the left of the edge; for adjacent ``x = i``, ``y = i + 1`` that is three terms.
    5. **Summary.** :math:`\bar\kappa_t = \sum_i w_i \kappa_i / \sum_i w_i`, the mean over edges
       weighted by crossing counts, so the edges the price actually works dominate.

    ``kappa`` lies in ``[-1, 1]``. A price that moves through the range evenly (a trend, or a
    uniform range) gives ``mean kappa`` near ``1 / (levels - 1)`` for ``alpha = 0.5`` (only the two
    end edges are curved); crossings concentrated on a few edges (price pinned around a level, consolidation)
    give large positive values; negative values come from edges beside a heavily worked one.
    ``kappa`` is invariant to scaling prices, and to reversing time within the window.

    Parameters
    ----------
    close : Series or array-like
        Close prices, finite and > 0.
    window : int, default 64
        Closes per window (>= 8); the first ``window - 1`` values are NaN.
    levels : int, default 8
        Price levels (graph nodes), >= 2.
    idleness : float, default 0.5
        Laziness ``alpha`` of the random walk, in ``[0, 1)``.

    Returns
    -------
    Series
        Weighted mean ``kappa`` per bar, named ``ricci``; NaN for flat windows (a price range of at
        most 1e-12 of the price).

    References
    ----------
    Y. Ollivier, "Ricci curvature of Markov chains on metric spaces", J. Funct. Anal. 256 (2009).
    """
    series = price_series(close)
    window = check_int(window, "window", MIN_WINDOW)
    levels = check_int(levels, "levels", 2)
    idleness = check_fraction(idleness, "idleness")
    return wrap(nb.ricci_curvature_nb(contiguous(series), window, levels, idleness), series, "ricci")
