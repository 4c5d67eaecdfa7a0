"""Reading sweep results: convergence tables, curves, heatmaps and the HTML report.

Not implemented yet; see ``DESIGN.md``.
"""
