"""Static export of the figures (SVG, PNG) with kaleido and Debian's chromium, and its parameter.

The tests that render need a Chromium: Debian's ``/usr/bin/chromium`` (``apt-get
install chromium``); without it they are skipped, and the others check the error
that tells the user to install it.
"""

from __future__ import annotations

import os
import re
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mrbook import params, report
from mrbook.report import plots
from mrbook.errors import MRBookError, ParameterError

NO_CHROMIUM = (f"Debian's chromium ({plots.DEBIAN_CHROMIUM}) is not installed "
               "(apt-get install chromium): figures cannot be exported")
needs_chromium = pytest.mark.skipif(not Path(plots.DEBIAN_CHROMIUM).is_file(), reason=NO_CHROMIUM)


def singlesnp_table(k: int = 6, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    snps = pd.DataFrame({"snp": [f"rs{i + 1}" for i in range(k)], "b": rng.normal(0.2, 0.1, k),
                         "se": rng.uniform(0.05, 0.1, k), "pval": rng.uniform(0, 1, k)})
    summary = pd.DataFrame({"snp": ["All - Inverse variance weighted", "All - MR Egger"],
                            "b": [0.2, 0.25], "se": [0.03, 0.08], "pval": [1e-9, 0.002]})
    t = pd.concat([snps, summary], ignore_index=True)
    t["exposure"], t["outcome"] = "Exposure X", "Outcome Y"
    return t


def small_figures() -> dict:
    return {"forward-forest-exposure-x-outcome-y": plots.forest_plot(singlesnp_table()),
            "forward-funnel-exposure-x-outcome-y": plots.funnel_plot(singlesnp_table()),
            "": plots.empty_figure("Leave-one-out plot: Exposure X → Outcome Y", "Too few SNPs")}


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name}: not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    if not Path(plots.DEBIAN_CHROMIUM).is_file():
        pytest.skip(NO_CHROMIUM)
    folder = tmp_path_factory.mktemp("figures")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("BROWSER_PATH", raising=False)
        figures = small_figures()
        paths = plots.export_figures(figures, folder)
    return figures, folder, paths


# ----------------------------------------------------------------------------- rendering

@needs_chromium
def test_export_writes_one_svg_and_one_png_per_figure(exported):
    figures, folder, paths = exported
    stems = ["forward-forest-exposure-x-outcome-y", "forward-funnel-exposure-x-outcome-y",
             "leave-one-out-plot-exposure-x-outcome-y"]  # an empty key: the title's slug
    assert paths == [folder / f"{s}.{ext}" for s in stems for ext in ("svg", "png")]
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in paths)


@needs_chromium
def test_exported_svg_is_valid_and_holds_the_title(exported):
    figures, folder, _ = exported
    for key, fig in figures.items():
        path = folder / f"{plots.figure_stem(key, fig)}.svg"
        text = path.read_text(encoding="utf-8")
        assert text.startswith(("<svg", "<?xml")), path.name
        assert text.rstrip().endswith("</svg>")
        assert fig.layout.title.text in text
        # drawn at the layout size (scale 1): 700 wide, the figure's own height
        m = re.search(r'viewBox="0 0 (\d+) (\d+)"', text)
        assert m and (int(m.group(1)), int(m.group(2))) == (plots.EXPORT_WIDTH, fig.layout.height)


@needs_chromium
def test_exported_png_is_valid_at_twice_the_layout_size(exported):
    figures, folder, _ = exported
    for key, fig in figures.items():
        path = folder / f"{plots.figure_stem(key, fig)}.png"
        assert path.stat().st_size > 1000
        assert png_size(path) == (2 * plots.EXPORT_WIDTH, 2 * fig.layout.height)


@needs_chromium
def test_export_is_byte_identical_across_runs(exported, tmp_path):
    figures, folder, paths = exported
    again = plots.export_figures(small_figures(), tmp_path)
    for first, second in zip(paths, again):
        assert first.name == second.name
        assert first.read_bytes() == second.read_bytes(), first.name


@needs_chromium
def test_a_kept_browser_serves_several_calls_alike(exported, tmp_path):
    figures, folder, paths = exported
    try:
        first = plots.export_figures(dict(list(small_figures().items())[:1]), tmp_path,
                                     keep_browser=True)
        kept = plots._kept
        assert kept is not None and kept.thread.is_alive()
        rest = plots.export_figures(dict(list(small_figures().items())[1:]), tmp_path,
                                    keep_browser=True)
        assert plots._kept is kept  # the same browser
    finally:
        plots.close_browser()
    assert plots._kept is None and not kept.thread.is_alive()
    for one, other in zip(paths, first + rest):
        assert one.name == other.name and one.read_bytes() == other.read_bytes(), one.name


@needs_chromium
def test_debian_chromium_becomes_browser_path(monkeypatch):
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    assert plots.find_browser() == plots.DEBIAN_CHROMIUM
    assert os.environ["BROWSER_PATH"] == plots.DEBIAN_CHROMIUM
    # a browser the user chose is kept
    monkeypatch.setenv("BROWSER_PATH", "/bin/sh")
    assert plots.find_browser() == "/bin/sh"


# ----------------------------------------------------------------------------- without a browser

def test_no_browser_is_a_clear_error(monkeypatch, tmp_path):
    from choreographer.browsers.chromium import Chromium

    monkeypatch.delenv("BROWSER_PATH", raising=False)
    monkeypatch.setattr(plots, "DEBIAN_CHROMIUM", str(tmp_path / "no-chromium"))
    monkeypatch.setattr(Chromium, "find_browser", classmethod(lambda cls, **kw: None))
    with pytest.raises(MRBookError, match=r"install Debian's chromium.*export_figures: false"):
        plots.export_figures(small_figures(), tmp_path / "out")
    assert not (tmp_path / "out").exists()
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "missing"))
    with pytest.raises(MRBookError, match="BROWSER_PATH"):
        plots.find_browser()


def test_a_failed_render_is_an_mrbook_error(monkeypatch, tmp_path):
    kaleido = pytest.importorskip("kaleido")
    monkeypatch.setattr(plots, "find_browser", lambda: "/usr/bin/chromium")
    monkeypatch.setattr(kaleido, "write_fig_from_object_sync",
                        lambda specs, **kw: (RuntimeError("plotly.js said no"),))
    with pytest.raises(MRBookError, match="failed: RuntimeError: plotly.js said no"):
        plots.export_figures(small_figures(), tmp_path)
    # a batch that reports no error but writes nothing
    monkeypatch.setattr(kaleido, "write_fig_from_object_sync", lambda specs, **kw: ())
    with pytest.raises(MRBookError, match="kaleido did not write"):
        plots.export_figures(small_figures(), tmp_path)


def test_file_names_are_slugs_and_must_differ(tmp_path):
    fig = plots.empty_figure("Forest plot: Hashimoto thyroiditis → Osteoporosis", "none")
    assert plots.figure_stem("", fig) == "forest-plot-hashimoto-thyroiditis-osteoporosis"
    assert plots.figure_stem("Forward scatter/Hypothyroidism", fig) == \
        "forward-scatter-hypothyroidism"
    with pytest.raises(ValueError, match="same file name"):
        plots.export_figures({"a b": fig, "A-B": fig}, tmp_path)
    with pytest.raises(ValueError, match="unknown image format"):
        plots.export_figures({"a": fig}, tmp_path, formats=("svg", "eps"))
    assert plots.export_figures({}, tmp_path / "none") == []


def test_show_figures_links_the_exported_files(monkeypatch, tmp_path):
    """Under each figure: "Image files: SVG | PNG", relative links as for the tables' CSVs."""
    shown = []
    monkeypatch.setattr(report.display, "_display", shown.append)

    def fake_export(figures, folder, formats=("svg", "png"), scale=2, keep_browser=False):
        out = []
        for key, fig in figures.items():
            for fmt in formats:
                p = Path(folder) / f"{plots.figure_stem(key, fig)}.{fmt}"
                p.write_text("x")
                out.append(p)
        return out

    monkeypatch.setattr(plots, "export_figures", fake_export)
    page = tmp_path / "book"
    page.mkdir()
    monkeypatch.chdir(page)
    figures = list(small_figures().items())[:2]
    report.show_figures(figures, output_dir=str(page / "data"), export=True)
    assert len(shown) == 4
    for (name, _), fig_bundle, links in zip(figures, shown[::2], shown[1::2]):
        assert "application/vnd.plotly.v1+json" in fig_bundle
        assert links["text/markdown"] == (f"Image files: [SVG](data/{name}.svg) | "
                                          f"[PNG](data/{name}.png)")
        assert f'href="data/{name}.png" download' in links["text/html"]
    shown.clear()
    report.show_figures(figures, output_dir=str(page / "data"), export=False)
    assert len(shown) == 2 and all("application/vnd.plotly.v1+json" in b for b in shown)


# ----------------------------------------------------------------------------- the parameter

def test_export_figures_parameter_is_a_bool():
    assert params.SCHEMA["export_figures"].type is bool
    assert params.validate({"export_figures": False}, partial=True) == {"export_figures": False}
    for wrong in ("yes", 1, None):
        with pytest.raises(ParameterError, match=r"'export_figures' must be true or false"):
            params.validate({"export_figures": wrong}, partial=True)
