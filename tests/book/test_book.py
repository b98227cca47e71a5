"""The book: notebooks as stored, parameters, the build pipeline and its outputs.

Fast tests check the stored notebooks, the book configuration and the parameter
checks. The slow ones execute the notebooks with papermill (on the offline demo
study, with non-default parameters, and on a TwoSampleMR-format file from
../shared/reference) and build the whole book twice to check that its tables are
byte-identical.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mrbook import params
from mrbook.book import build as book
from mrbook.book import sphinx as book_sphinx
from mrbook.errors import MRBookError, ParameterError

from conftest import FAKE_TOKEN, REFERENCE, SKIP_SHARED, copy_book_project, run_build

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _cells(nb_path: Path) -> list[dict]:
    return json.loads(nb_path.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


# ----------------------------------------------------------------------------- stored notebooks

def test_notebooks_exist():
    names = [p.stem for p in NOTEBOOKS]
    for want in ("01_methods", "02_forward_mr", "03_reverse_mr", "04_sensitivity"):
        assert want in names


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(nb_path):
    for cell in _cells(nb_path):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"{nb_path.name}: a code cell has outputs"
            assert cell["execution_count"] is None


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_one_parameters_cell_with_typed_commented_literals(nb_path):
    cells = [c for c in _cells(nb_path) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"{nb_path.name}: {len(cells)} cells tagged parameters"
    src = _source(cells[0])
    tree = ast.parse(src)
    names = {}
    for stmt in tree.body:
        # typed assignments of literal values only: nothing derived in this cell
        assert isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name), \
            f"{nb_path.name}: not a typed assignment: {ast.unparse(stmt)}"
        names[stmt.target.id] = ast.literal_eval(stmt.value)
    for line in src.splitlines():
        if line.strip():
            assert re.search(r"\S\s+#\s+\S", line), f"{nb_path.name}: no trailing comment: {line}"
    # the same names and defaults as the schema (and so as params/paper.yaml)
    assert names == params.defaults()


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_follows_the_teaching_skeleton(nb_path):
    md = "\n".join(_source(c) for c in _cells(nb_path) if c["cell_type"] == "markdown")
    assert md.lstrip().startswith("# "), "a title first"
    for heading in ("## Overview", "## Prerequisites", "## Imports", "## Summary", "## What next",
                    "## References"):
        assert heading in md, f"{nb_path.name}: missing {heading!r}"
    # no heading is printed at run time
    for cell in _cells(nb_path):
        if cell["cell_type"] == "code":
            assert not re.search(r"print\(\s*f?[\"']#", _source(cell))


def test_paper_parameters_are_the_notebook_defaults():
    assert params.load_yaml(ROOT / "params" / "paper.yaml") == params.defaults()


def test_every_parameter_file_is_valid():
    for f in sorted((ROOT / "params").glob("*.yaml")):
        params.load_yaml(f)


def test_book_configuration():
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert cfg["execute"]["execute_notebooks"] == "off"
    assert cfg["only_build_toc_files"] is True
    assert "mrbook.book.sphinx" in cfg["sphinx"]["extra_extensions"]
    toc_pages = book.toc_notebooks(ROOT / "book")
    assert toc_pages == [p.stem for p in NOTEBOOKS]


def test_no_notebook_mentions_the_token_variable_as_a_parameter():
    for nb_path in NOTEBOOKS:
        text = nb_path.read_text(encoding="utf-8")
        assert "OPENGWAS_JWT" not in text or "environment" in text
        cells = [c for c in _cells(nb_path) if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert "jwt" not in _source(cells[0]).lower() and "token" not in _source(cells[0]).lower()


# ----------------------------------------------------------------------------- parameters

@pytest.mark.parametrize("values, name", [
    ({"p_threshold": "5e-8"}, "p_threshold"),
    ({"clump_kb": 10.5}, "clump_kb"),
    ({"nboot": True}, "nboot"),
    ({"methods": "mr_ivw"}, "methods"),
    ({"methods": ["mr_ivw", "mr_nonsense"]}, "methods"),
    ({"exposures": ["demo:hypothyroidism"]}, "exposures"),
    ({"exposures": {"Hypothyroidism": "demo:goitre"}}, "exposures"),
    ({"outcome_source": "no-such-thing"}, "outcome_source"),
    ({"outcome_source": "data/missing.tsv.gz"}, "outcome_source"),
    ({"palindrome_action": 4}, "palindrome_action"),
    ({"p_threshold": 2.0}, "p_threshold"),
    ({"seed": -1}, "seed"),
    ({"pthreshold": 1e-8}, "pthreshold"),
])
def test_wrong_parameters_are_named(values, name):
    with pytest.raises(ParameterError, match=re.escape(repr(name))):
        params.validate(values, partial=True)


def test_sources_of_every_kind(tmp_path):
    f = tmp_path / "x.tsv"
    f.write_text("a\n1\n")
    assert params.source_kind("demo:osteoporosis") == "demo"
    assert params.source_kind("ebi-a-GCST90018862") == "opengwas"
    assert params.source_kind("finn-b-M13_OSTEOPOROSIS") == "opengwas"
    assert params.source_kind(str(f)) == "file"


def test_build_stops_on_a_wrong_parameter_before_computing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("p_threshold: five\n")
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("exposures:\n  Hypothyroidism: demo:goitre\n")
    before = {p: p.stat().st_mtime_ns for p in (ROOT / "book").glob("*.ipynb")}
    for f, name in ((bad, "p_threshold"), (unknown, "exposures")):
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "mrbook.cli.main", "build", "--params", str(f),
                               "--out", str(tmp_path / "html")],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2
        assert f"'{name}'" in proc.stderr and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
        assert time.perf_counter() - t0 < 60
    after = {p: p.stat().st_mtime_ns for p in (ROOT / "book").glob("*.ipynb")}
    assert before == after, "a notebook was executed"
    assert not (tmp_path / "html").exists()


# ----------------------------------------------------------------------------- pipeline pieces

def test_check_html_rejects_remote_assets_and_the_token(tmp_path, monkeypatch):
    html = tmp_path / "_build" / "html"
    (html / "_static" / "mathjax").mkdir(parents=True)
    (html / "_static" / "plotly.min.js").write_text("//")
    (html / "_static" / "mathjax" / "tex-chtml.js").write_text("//")
    page = html / "index.html"
    page.write_text('<html><head><script src="_static/plotly.min.js"></script></head>'
                    '<a href="https://doi.org/10.1/x">a link is fine</a></html>')
    book.check_html(html)
    page.write_text('<script src="https://cdn.plot.ly/plotly.js"></script>')
    with pytest.raises(MRBookError, match="remote"):
        book.check_html(html)
    page.write_text('<link rel="stylesheet" href="//fonts.example/x.css">')
    with pytest.raises(MRBookError, match="remote"):
        book.check_html(html)
    monkeypatch.setenv("OPENGWAS_JWT", FAKE_TOKEN)
    page.write_text(f"<p>{FAKE_TOKEN}</p>")
    with pytest.raises(MRBookError, match="OPENGWAS_JWT"):
        book.check_html(html)


def test_hide_parameter_cells(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("a = 1", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("a = 2", metadata={"tags": ["injected-parameters"]}),
                nbformat.v4.new_code_cell("a")]
    p = tmp_path / "x.ipynb"
    nbformat.write(nb, str(p))
    book.hide_parameter_cells(p)
    tags = [c.metadata.get("tags", []) for c in nbformat.read(str(p), as_version=4).cells]
    assert "remove-cell" in tags[0] and "remove-cell" in tags[1] and "remove-cell" not in tags[2]


def test_offline_assets_ship_with_packages():
    assert book_sphinx.plotly_js_path().stat().st_size > 1_000_000
    assert (book_sphinx.mathjax_dir() / "tex-chtml.js").is_file()
    assert (book_sphinx.mathjax_dir() / "output" / "chtml" / "fonts").is_dir()


def test_book_dependencies_are_declared():
    """What the book pipeline imports is a dependency in pyproject.toml and environment.yml."""
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=!~ \[;]", d, maxsplit=1)[0].lower().replace("_", "-") for d in deps}
    needed = {"plotly", "papermill", "jupyter-book", "pyyaml", "sphinx-mathjax-offline", "kaleido"}
    assert needed <= names, f"missing in pyproject.toml: {sorted(needed - names)}"
    env_file = ROOT / "environment.yml"
    if env_file.is_file():
        text = env_file.read_text().lower()
        missing = [n for n in needed if n not in text]
        assert not missing, f"missing in environment.yml: {missing}"


# ----------------------------------------------------------------------------- executing notebooks

def _run_notebook(name: str, out_dir: Path, parameters: dict) -> Path:
    import papermill as pm

    out_dir.mkdir(parents=True, exist_ok=True)
    dst = out_dir / f"{name}.ipynb"
    pm.execute_notebook(str(ROOT / "notebooks" / f"{name}.ipynb"), str(dst), parameters=parameters,
                        cwd=str(out_dir), progress_bar=False, kernel_name="python3")
    return dst


def _outputs_text(nb_path: Path) -> str:
    parts = []
    for cell in _cells(nb_path):
        for out in cell.get("outputs", []):
            for v in out.get("data", {}).values():
                parts.append(v if isinstance(v, str) else json.dumps(v))
    return "\n".join(parts)


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory, built_book):
    """The session's book (``make book``) and a second, independent build of the same analysis.

    The second runs in a project of its own, from a scratch folder outside it, as a
    user with a parameter file of their own does: ``mrbook build --params p.yaml --out
    html`` where p.yaml is params/paper.yaml with ``output_dir: tables`` (so, by the
    documented rule, ``<scratch>/tables``); the typed paths are taken from the scratch
    folder. A changed output_dir is a changed parameter: every notebook is executed again.
    """
    tmp = tmp_path_factory.mktemp("builds")
    project = copy_book_project(tmp / "project")
    scratch = tmp / "scratch"
    scratch.mkdir()
    values = yaml.safe_load((ROOT / "params" / "paper.yaml").read_text())
    values["output_dir"] = "tables"
    (scratch / "p.yaml").write_text(yaml.safe_dump(values, sort_keys=False))
    proc = run_build(project, "--params", "p.yaml", "--out", "html", "--no-pdf", cwd=scratch)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert f"{len(NOTEBOOKS)} notebook(s) executed, 0 from the cache" in proc.stderr, proc.stderr
    assert (scratch / "html" / "index.html").is_file() and not (scratch / "pdf").exists()
    executed = {p.name: p.read_bytes() for p in built_book.notebooks.glob("*.ipynb")}
    return built_book.html, built_book.tables, scratch / "tables", executed


@pytest.mark.slow
def test_two_builds_give_byte_identical_tables(two_builds):
    _, first, second, _ = two_builds
    a = sorted(p.name for p in first.glob("*.csv"))
    b = sorted(p.name for p in second.glob("*.csv"))
    assert a == b and len(a) >= 10
    for name in a:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    for want in ("table1_data_sources", "table2_forward_mr", "table3_forward_sensitivity",
                 "table4_reverse_mr", "table5_reverse_sensitivity", "comparison_ivw"):
        assert f"{want}.csv" in a


@pytest.mark.slow
def test_build_output_holds_no_token_and_no_parameter_code(two_builds):
    html, tables, _, executed = two_builds
    for f in [*html.glob("**/*"), *tables.glob("**/*"), html.parent / "pdf" / "book.pdf"]:
        if f.is_file():
            assert FAKE_TOKEN.encode() not in f.read_bytes(), f
    for name, data in executed.items():
        assert FAKE_TOKEN.encode() not in data, name
    page = (html / "02_forward_mr.html").read_text(encoding="utf-8")
    assert "Run parameters" in page
    assert "injected-parameters" not in page and "p_threshold: float" not in page
    assert "simulated" in page.lower()


@pytest.mark.slow
def test_table2_has_five_methods_per_exposure(two_builds):
    _, first, _, _ = two_builds
    t2 = pd.read_csv(first / "table2_forward_mr.csv")
    assert set(t2["exposure"]) == {"Hypothyroidism", "Hyperthyroidism", "Hashimoto thyroiditis"}
    assert (t2.groupby("exposure")["method"].nunique() == 5).all()
    for col in ("b", "se", "or", "or_lci95", "or_uci95", "pval"):
        assert pd.api.types.is_float_dtype(t2[col]), col
    t4 = pd.read_csv(first / "table4_reverse_mr.csv")
    assert set(t4["exposure"]) == {"Osteoporosis"}


@pytest.mark.slow
def test_notebooks_follow_another_p_threshold(tmp_path, two_builds):
    """Every notebook runs with a stricter P threshold, and shows fewer instruments."""
    _, default_tables, _, _ = two_builds
    strict = dict(p_threshold=1e-12, output_dir=str(tmp_path / "tables"), nboot=100,
                  presso_n_distribution=100)
    for nb_path in NOTEBOOKS:
        out = _run_notebook(nb_path.stem, tmp_path / "run", strict)
        text = _outputs_text(out)
        assert "1e-12" in text, f"{nb_path.stem}: the run-parameter card does not show the threshold"
    d = pd.read_csv(default_tables / "instruments_summary_forward.csv").set_index("exposure")
    s = pd.read_csv(tmp_path / "tables" / "instruments_summary_forward.csv").set_index("exposure")
    assert sorted(s.index) == sorted(d.index)
    s = s.loc[d.index]
    assert (s["candidates"] <= d["candidates"]).all() and (s["candidates"] < d["candidates"]).any()
    t2d = pd.read_csv(default_tables / "table2_forward_mr.csv")
    t2s = pd.read_csv(tmp_path / "tables" / "table2_forward_mr.csv")
    assert t2s["nsnp"].sum() < t2d["nsnp"].sum()


@pytest.mark.slow
def test_forward_notebook_on_summary_statistics_files(tmp_path):
    """The demo study's files given as file paths: the real-data code path, with a panel."""
    from mrbook.data import demo
    folder = demo.demo_dir()
    files = demo.load_manifest(folder)["files"]
    run = dict(exposures={"Hypothyroidism": str(folder / demo.TRAITS["hypothyroidism"]["file"])},
               outcome_source=str(folder / demo.TRAITS["osteoporosis"]["file"]),
               ld_ref=str(folder / files["panel"]), confounder_table=str(folder / files["confounders"]),
               output_dir=str(tmp_path / "tables"), nboot=100, presso_n_distribution=100)
    nb = _run_notebook("02_forward_mr", tmp_path / "run", run)
    text = _outputs_text(nb)
    assert "hypothyroidism.vcf.gz" in text and "Data: simulated demo study" not in text
    t2 = pd.read_csv(tmp_path / "tables" / "table2_forward_mr.csv")
    assert set(t2["exposure"]) == {"Hypothyroidism"} and (t2["nsnp"] == 69).all()


@pytest.mark.slow
def test_forward_notebook_on_a_twosamplemr_file(tmp_path):
    """A TwoSampleMR-format file from ../shared/reference as the exposure-outcome data.

    Its SNPs are already instruments (no LD panel holds them), so the run skips
    clumping (``clump=False``).
    """
    if not REFERENCE.is_dir():
        pytest.skip(SKIP_SHARED)
    exp = REFERENCE / "synthetic30_raw" / "synthetic30_exposure.csv"
    out = REFERENCE / "synthetic30_raw" / "synthetic30_outcome.csv"
    run = dict(exposures={"Simulated exposure": str(exp)}, outcome_trait="Simulated outcome",
               outcome_source=str(out), clump=False, output_dir=str(tmp_path / "tables"),
               nboot=100, presso_n_distribution=100, confounder_traits=[])
    nb = _run_notebook("02_forward_mr", tmp_path / "run", run)
    text = _outputs_text(nb)
    assert "synthetic30_exposure.csv" in text and "Data: simulated demo study" not in text
    t2 = pd.read_csv(tmp_path / "tables" / "table2_forward_mr.csv")
    assert set(t2["exposure"]) == {"Simulated exposure"}
    ivw = t2[t2["method"] == "Inverse variance weighted"].iloc[0]
    # the simulation's true effect is 0.3 (synthetic30_truth.csv)
    assert abs(ivw["b"] - 0.3) < 3 * ivw["se"] + 0.05


def test_the_introduction_lists_every_chapter_of_the_toc():
    """The reader's map: the introduction's "How the book is organised" table names every
    page _toc.yml puts in the book (chapters 06 and 07 were once missing from it)."""
    root = Path(__file__).resolve().parents[2]
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    files = re.findall(r"'file': '([^']+)'", str(toc))
    intro = (root / "book" / "intro.md").read_text(encoding="utf-8")
    table = intro.split("## How the book is organised", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| \{doc\}`([^`]+)`", table, flags=re.M)
    pages = [Path(f).stem for f in files if Path(f).stem != Path(toc["root"]).stem]
    assert len(pages) >= 9 and sorted(listed) == sorted(pages), (listed, pages)
