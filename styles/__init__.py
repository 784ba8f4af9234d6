"""Colormaps, MapLibre styles and legends (Dutch labels)."""
