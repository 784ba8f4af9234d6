"""Render a WMTS layer with QGIS, headless: run by ``tests/test_qgis.py`` under the system Python that has PyQGIS.

Usage: ``python3 qgis_render.py JOBS.json``, where each job names the layer URI of QGIS's
``wms`` provider, the destination CRS, the map extent (in that CRS), the image size in
pixels and the PNG to write (plus a ``key`` copied into its report). Prints one JSON
list on the last line: per job whether the layer is valid, its CRS and extent, the
provider's error and whether rendering reported errors.

This file is not imported by the test suite (PyQGIS is not installed in the venv);
it only uses QGIS's public API (``QgsRasterLayer``, ``QgsMapSettings``,
``QgsMapRendererParallelJob``), the way a GIS user's QGIS loads the layer.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from qgis.core import (  # type: ignore[import-not-found]
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsRasterLayer,
    QgsRectangle,
)
from qgis.PyQt.QtCore import QSize  # type: ignore[import-not-found]
from qgis.PyQt.QtGui import QColor  # type: ignore[import-not-found]


def render(job: dict[str, Any]) -> dict[str, Any]:
    """Load the layer of ``job`` and render it to ``job['png']``; return what QGIS reported."""
    layer = QgsRasterLayer(job["uri"], job.get("name", "wmts"), "wms")
    report: dict[str, Any] = {"key": job.get("key"), "png": job["png"], "valid": layer.isValid()}
    if not layer.isValid():
        # Keep the QgsError object alive while reading it: ``layer.error().summary()`` on the
        # temporary crashes PyQGIS 3.22.
        error = layer.error()
        report["error"] = error.summary()
        provider = layer.dataProvider()
        if provider is not None:
            provider_error = provider.error()
            report["provider_error"] = provider_error.summary()
        return report
    extent = layer.extent()
    report["layer_crs"] = layer.crs().authid()
    report["layer_extent"] = [extent.xMinimum(), extent.yMinimum(), extent.xMaximum(), extent.yMaximum()]
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(QgsCoordinateReferenceSystem(job["crs"]))
    settings.setExtent(QgsRectangle(*job["extent"]))
    settings.setOutputSize(QSize(*job["size"]))
    settings.setOutputDpi(job.get("dpi", 96))
    settings.setBackgroundColor(QColor(0, 0, 0, 0))
    renderer = QgsMapRendererParallelJob(settings)
    renderer.start()
    renderer.waitForFinished()
    report["render_errors"] = [f"{e.layerID}: {e.message}" for e in renderer.errors()]
    report["saved"] = renderer.renderedImage().save(job["png"], "PNG")
    return report


def main() -> None:
    """Initialise QGIS without a GUI, render the jobs named on the command line, print the reports."""
    jobs = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    app = QgsApplication([], False)
    app.initQgis()
    try:
        reports = [render(job) for job in jobs]
    finally:
        app.exitQgis()
    print(json.dumps(reports))


if __name__ == "__main__":
    main()
