"""Bad sources through the real CLI: one line naming file, feature and problem; never a traceback.

Every bad input is made in ``tmp_path`` from the real samples in ``../shared/data``
(read from there, never copied into the repository), and every case runs the
installed ``kaartlaag`` console script in a child process, as a user would (what a
case needs published beforehand is built in-process: a child process costs seconds of imports).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from rich.console import Console

from layers.config import load_config
from layers.engine import build
from tests.conftest import SHARED_DATA, small_landcover, write_small_region

_SCRIPT = Path(sys.executable).with_name("kaartlaag")
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "services.cli"]
OTTERLO = SHARED_DATA / "bgt-otterlo" / "otterlo.zip"
DELFT_LAZ = SHARED_DATA / "ahn3-delft" / "ahn3_cropped_2.laz"
#: The one object of the Otterlo bgt_overbruggingsdeel.gml (a bridge deck), and its first posList.
BRIDGE_MEMBER = "bgt_overbruggingsdeel.gml"
BRIDGE_ID = "G0228.56de627ef2734abba518a407b7fc8b76"
#: Header extent (x, y) of ahn3_cropped_2.laz as check_area_of_use prints it (one decimal).
DELFT_2_BOUNDS = "85000.0, 447412.8, 85072.3, 447641.3"
TIMEOUT_S = 300


def _run(*args: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *map(str, args)], capture_output=True, text=True, check=False, timeout=TIMEOUT_S, cwd=cwd
    )


def _config(folder: Path, sources: str, name: str = "kaartlaag.yaml", layers: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(
        f'region: {{name: Proef, crs: "EPSG:28992"}}\ncatalog: ./catalog\nsources:\n{sources}\n{layers}',
        encoding="utf-8",
    )
    return path


def _assert_one_line_error(done: subprocess.CompletedProcess[str], *expected: str) -> str:
    """Non-zero exit, no traceback, exactly one ``error:`` line on stderr that holds every ``expected``."""
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line]
    assert len(errors) == 1, done.stderr
    for text in expected:
        assert text in errors[0], errors[0]
    return errors[0]


def _bridge_gml() -> str:
    with zipfile.ZipFile(OTTERLO) as archive:
        return archive.read(BRIDGE_MEMBER).decode("utf-8")


def _first_pos_list(gml: str) -> str:
    match = re.search(r"<gml:posList[^>]*>([^<]*)</gml:posList>", gml)
    assert match is not None
    return match.group(1)


# --- BGT ---------------------------------------------------------------------------------------


def test_nan_in_a_gml_pos_list(tmp_path: Path) -> None:
    gml = _bridge_gml()
    numbers = _first_pos_list(gml).split()
    assert len(numbers) == 16  # 8 positions of x y: the sample as published
    broken = " ".join(["NaN", *numbers[1:]])
    folder = tmp_path / "bgt"
    folder.mkdir()
    (folder / BRIDGE_MEMBER).write_text(gml.replace(_first_pos_list(gml), broken, 1), encoding="utf-8")
    config = _config(tmp_path, "  bgt: {path: bgt}")
    done = _run("check", "--config", config, cwd=tmp_path)
    _assert_one_line_error(
        done, f"{folder / BRIDGE_MEMBER}, feature {BRIDGE_ID}", "'NaN' at number 1 of 16", "not a finite coordinate"
    )
    assert done.returncode == 1


def test_unclosed_and_two_position_rings_are_counted_and_named(tmp_path: Path) -> None:
    gml = _bridge_gml()
    start, end = gml.index("<cityObjectMember>"), gml.index("</cityObjectMember>") + len("</cityObjectMember>")
    member = gml[start:end]
    numbers = _first_pos_list(member).split()
    unclosed = member.replace(_first_pos_list(member), " ".join(numbers[:-2]))  # 7 positions, last one dropped
    two = member.replace(_first_pos_list(member), " ".join(numbers[:4])).replace(BRIDGE_ID, "G0228.two")
    folder = tmp_path / "bgt"
    folder.mkdir()
    (folder / BRIDGE_MEMBER).write_text(gml[:start] + unclosed + two + gml[end:], encoding="utf-8")
    config = _config(tmp_path, "  bgt: {path: bgt}")
    done = _run("check", "--config", config, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for count in ("read: 2", "kept: 1", "rings_unclosed: 1", "rings_degenerate: 1", "degenerate_skipped: 1"):
        assert re.search(rf"(^|[ ,]){count}(,|$)", out, flags=re.MULTILINE), (count, out)
    unclosed_line = next(line for line in out.splitlines() if BRIDGE_ID in line)
    assert "exterior ring with 7 positions, not closed" in unclosed_line
    two_line = next(line for line in out.splitlines() if "G0228.two" in line)
    assert BRIDGE_MEMBER in two_line and "exterior ring with 2 positions" in two_line and "skipped" in two_line
    assert "3 positions" not in out  # the count as written, not after closing
    assert "landcover │ bgt      │ 1 " in out  # the degenerate object is not in the landcover


# --- AHN ---------------------------------------------------------------------------------------


def test_truncated_laz(tmp_path: Path) -> None:
    data = DELFT_LAZ.read_bytes()
    cut = tmp_path / "cut.laz"
    cut.write_bytes(data[: len(data) // 2])
    config = _config(tmp_path, '  ahn: {laz: [cut.laz], crs: "EPSG:28992"}')
    done = _run("check", "--config", config, cwd=tmp_path)
    _assert_one_line_error(done, str(cut), "cannot read the point cloud (truncated or corrupt?)")
    assert "laspy" not in done.stderr  # laspy's own log lines would repeat the error


def test_wgs84_declared_on_rd_laz(tmp_path: Path) -> None:
    config = _config(tmp_path, f'  ahn: {{laz: ["{DELFT_LAZ}"], crs: "EPSG:4326"}}')
    done = _run("check", "--config", config, cwd=tmp_path)
    _assert_one_line_error(
        done, DELFT_LAZ.name, "the declared crs EPSG:4326", f"bounds ({DELFT_2_BOUNDS})", "outside its area of use"
    )


def test_web_mercator_declared_on_rd_laz_fails_check(tmp_path: Path) -> None:
    config = _config(tmp_path, f'  ahn: {{laz: ["{DELFT_LAZ}"], crs: "EPSG:3857"}}')
    done = _run("check", "--config", config, cwd=tmp_path)
    # RD metres read as Web Mercator land at lon 0.76, lat 4.02 (Gulf of Guinea): not in the Netherlands.
    _assert_one_line_error(
        done, DELFT_LAZ.name, "EPSG:3857", f"bounds ({DELFT_2_BOUNDS}", "lon/lat (0.76, 4.02",
        "outside the area of use of the region crs EPSG:28992",
    )


def test_rd_declared_on_rd_laz_passes_check(tmp_path: Path) -> None:
    config = _config(tmp_path, f'  ahn: {{laz: ["{DELFT_LAZ}"], crs: "EPSG:28992"}}')
    done = _run("check", "--config", config, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "145 x 458 @ 0.5 m" in done.stdout  # 72.5 m x 229 m of 0.5 m cells
    assert "read: 208432" in done.stdout  # every point of the file


# --- trees CSV ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "the CSV is empty (no header, no rows)"),
        ("id,x,y\n", "the CSV has a header (id, x, y) but no rows"),
    ],
)
def test_empty_trees_csv(tmp_path: Path, text: str, problem: str) -> None:
    config = write_small_region(tmp_path / "region")
    (config.parent / "bomen.csv").write_text(text, encoding="utf-8")
    config.write_text(
        config.read_text().replace("sources:\n", "sources:\n  trees: {path: bomen.csv, crs: 'EPSG:28992'}\n"),
        encoding="utf-8",
    )
    done = _run("check", "--config", config, cwd=tmp_path)
    _assert_one_line_error(done, str(config.parent / "bomen.csv"), problem)


def test_wgs84_declared_on_rd_trees_csv(tmp_path: Path) -> None:
    config = write_small_region(tmp_path / "region")
    (config.parent / "bomen.csv").write_text("id,x,y\nB1,200010,450010\nB2,200150,450120\n", encoding="utf-8")
    config.write_text(
        config.read_text().replace("sources:\n", "sources:\n  trees: {path: bomen.csv, crs: 'EPSG:4326'}\n"),
        encoding="utf-8",
    )
    done = _run("check", "--config", config, cwd=tmp_path)
    _assert_one_line_error(
        done, "bomen.csv", "EPSG:4326", "bounds (200010.0, 450010.0, 200150.0, 450120.0)", "area of use"
    )


# --- build and check output --------------------------------------------------------------------


def _tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` except the lock file."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


@pytest.mark.parametrize(
    ("laz", "offset", "problem"),
    [
        # The point cloud is truncated: reading the first window fails.
        ("cut.laz", (84_810.0, 447_420.0), "cannot read the point cloud (truncated or corrupt?)"),
        # A sound point cloud 115 km west of the land cover: the windows get no DSM (nothing is invented
        # beyond the point clouds), so the layer has no data inside the region.
        ("whole.laz", (200_000.0, 450_000.0), "the dsm has no data inside the region"),
    ],
)
def test_failed_build_removes_its_staging_folder(
    tmp_path: Path, laz: str, offset: tuple[float, float], problem: str
) -> None:
    # The windowed heat-stress layer makes its staging folder before it reads the DSM window by window.
    landcover = small_landcover()
    landcover.geometry = landcover.geometry.translate(offset[0] - 200_000.0, offset[1] - 450_000.0)
    landcover.to_file(tmp_path / "landcover.gpkg", layer="landcover", driver="GPKG")
    data = DELFT_LAZ.read_bytes()
    (tmp_path / laz).write_bytes(data[: len(data) // 2] if laz == "cut.laz" else data)
    config = _config(
        tmp_path,
        f'  landcover: {{path: landcover.gpkg, layer: landcover}}\n  ahn: {{laz: [{laz}], crs: "EPSG:28992"}}',
        layers="layers:\n  landcover: {raster_resolution_m: 1.0}\n",
    )
    # The land cover published beforehand is set up in-process (the CLI case is the failing build below).
    first = build(load_config(config), ["landcover"], console=Console(quiet=True))
    assert first.built == ["landcover"]
    root = tmp_path / "catalog"
    before = _tree_digest(root)
    assert any(k.startswith("landcover/") for k in before)
    done = _run("build", "heat-stress", "--config", config, cwd=tmp_path)
    _assert_one_line_error(done, *((str(tmp_path / laz), problem) if laz == "cut.laz" else (problem,)))
    staging = root / ".staging"
    assert not staging.exists() or list(staging.iterdir()) == []
    assert _tree_digest(root) == before  # nothing published is lost or changed
    assert list(json.loads((root / "catalog.json").read_text())["layers"]) == ["landcover"]


def test_check_prints_plain_numbers(small_region: Path) -> None:
    done = _run("check", "--config", small_region, cwd=small_region.parent)
    assert done.returncode == 0, done.stderr
    assert "np.float64" not in done.stdout and "np." not in done.stdout
    assert "region Proefdorp: bounds (200000.0, 450000.0, 200200.0, 450200.0)" in done.stdout
    assert "landcover: read: 4" in done.stdout


def test_an_adapter_delivery_without_a_source_it_may_fill_is_named(tmp_path: Path, shared_data: Path) -> None:
    """A BAG extract of panden only (the real Doesburg PND delivery) has buildings, no addresses."""
    from geo.errors import SourceError
    from layers.config import parse_config
    from layers.sources import SourceSet

    pnd = shared_data / "bag-doesburg" / "0221PND15092020.zip"
    cfg = parse_config({"region": {"name": "Doesburg"}, "sources": {"bag": {"path": str(pnd)}}}, tmp_path, "t.yaml")
    sources = SourceSet(cfg)
    with pytest.raises(SourceError, match=r"0221PND15092020\.zip: the bag delivery holds no addresses \(it gives "
                                          r"buildings\)"):
        sources.load("addresses")
    assert len(sources.load("buildings")) > 5_000  # the current panden of the 13,098 records
