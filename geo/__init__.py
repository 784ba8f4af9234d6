"""Geospatial primitives: CRS, grids, registry adapters, kernels and validation.

Nothing in this package knows about layers, catalogs or HTTP.
"""
