"""Bad input for ``mrbook batch``, ``mrbook mvmr`` and ``mrbook demo-phenome`` (issue 9).

The same contract as :mod:`test_bad_input` (whose helpers this module uses), command by
command, as a user meets it: exit status 2, exactly one line on stderr (``mrbook <command>:
error: ...``) naming the file, row and column (or the parameter, or the output path) and
what was expected, no traceback, and nothing written (the scratch folder byte for byte as
before, no temporary file left). Cases that need a whole batch to run (a broken file
found only when it is read, a multivariable row's numbers) are in ``tests/batch/``.
Legitimate oddities (a BOM, CRLF line ends, blank lines, fewer SNPs than one method
needs) are checked to be *accepted* at the end.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import test_bad_input
from test_bad_input import (GARBAGE, Case, _lay_out, _mkdir, _read_only, _unreadable, assert_refused,
                            gz, run_cli, snapshot)

#: the scratch folder (cwd, the demo from the session cache) and the small tmpfs of test_bad_input
scratch = test_bad_input.scratch
small_fs = test_bad_input.small_fs

# ----------------------------------------------------------------------------- batch manifests

BATCH = ["batch", "m.csv", "--out", "res", "--workers", "0", "--no-progress"]
GOOD_ROW = "demo:hashimoto,demo:osteoporosis"
MV_ROW = "demo-mv:hypothyroidism+demo-mv:hashimoto,demo-mv:osteoporosis"


def manifest(*rows: str, header: str = "exposure,outcome") -> dict[str, str]:
    return {"m.csv": "\n".join([header, *rows]) + "\n"}


def batch_folder(version: str = "0.0.1", settings: dict | None = None) -> dict[str, str]:
    """A batch folder another run left: its batch.json and one finished chunk."""
    meta = {"mrbook_version": version, "fingerprint": "0" * 20,
            "settings": settings or {"nboot": 5}}
    return {"res/batch.json": json.dumps(meta), "res/chunks/r0001-c00000/pairs.parquet": "x"}


# ----------------------------------------------------------------------------- mvmr tables

WIDE_HEADER = "SNP,beta.a,se.a,beta.b,se.b,beta.outcome,se.outcome"
WIDE_ROWS = ["rs1,0.10,0.01,0.02,0.01,0.05,0.02", "rs2,0.20,0.01,0.03,0.01,0.05,0.02",
             "rs3,0.10,0.02,0.12,0.01,0.04,0.02", "rs4,0.05,0.01,0.10,0.02,0.01,0.02"]
LONG_HEADER = ("SNP,id.exposure,exposure,beta.exposure,se.exposure,pval.exposure,"
               "effect_allele.exposure,other_allele.exposure,eaf.exposure")
LONG_ROWS = ["rs1,a,A,0.10,0.01,1e-20,A,G,0.3", "rs1,b,B,0.02,0.01,0.04,A,G,0.3",
             "rs2,a,A,0.20,0.01,1e-40,C,T,0.4", "rs2,b,B,0.03,0.01,0.01,C,T,0.4",
             "rs3,a,A,0.10,0.02,1e-9,G,A,0.2", "rs3,b,B,0.12,0.01,1e-30,G,A,0.2"]
OUT_HEADER = "SNP,beta.outcome,se.outcome,effect_allele.outcome,other_allele.outcome,eaf.outcome"
OUT_ROWS = ["rs1,0.05,0.02,A,G,0.3", "rs2,0.05,0.02,C,T,0.4", "rs3,0.04,0.02,G,A,0.2"]


def wide(rows=None, header=WIDE_HEADER, eol="\n") -> str:
    return eol.join([header, *(WIDE_ROWS if rows is None else rows)]) + eol


def cell(rows: list[str], i: int, col: int, value: str) -> list[str]:
    out = list(rows)
    cells = out[i].split(",")
    cells[col] = value
    out[i] = ",".join(cells)
    return out


def long_tables(exp_rows=None, out_rows=None) -> dict[str, str]:
    return {"exp.csv": "\n".join([LONG_HEADER, *(LONG_ROWS if exp_rows is None else exp_rows)])
            + "\n", "out.csv": "\n".join([OUT_HEADER, *(OUT_ROWS if out_rows is None
                                                       else out_rows)]) + "\n"}


MVMR = ["mvmr", "w.csv", "--json", "o.json", "--iterations", "20"]
MVMR_LONG = ["mvmr", "--exposure-data", "exp.csv", "--outcome-data", "out.csv", "--json", "o.json",
             "--iterations", "20"]
MVMR_SRC = ["mvmr", "--outcome", "demo-mv:osteoporosis", "--json", "o.json", "--exposures"]

CASES: list[Case] = [
    # ------------------------------------------------------------ mrbook batch: the manifest file
    Case("batch-manifest-missing", BATCH, ["m.csv", "manifest file not found", "exposure,outcome"]),
    Case("batch-manifest-is-a-folder", BATCH, ["m.csv", "is a directory", "manifest CSV"],
         setup=_mkdir("m.csv")),
    Case("batch-manifest-unreadable", BATCH, ["m.csv", "cannot read the manifest"],
         setup=_unreadable("m.csv")),
    Case("batch-manifest-empty", BATCH, ["m.csv", "empty manifest", "exposure,outcome"],
         {"m.csv": ""}),
    Case("batch-manifest-blank-lines-only", BATCH, ["m.csv", "empty manifest"],
         {"m.csv": "\n  \n\r\n"}),
    Case("batch-manifest-header-only", BATCH, ["m.csv", "lists no pair", "a header but no rows"],
         {"m.csv": "\ufeffexposure,outcome\r\n"}),
    Case("batch-manifest-binary", BATCH, ["m.csv", "not a text", "CSV text file"],
         {"m.csv": GARBAGE}),
    Case("batch-manifest-gzip", BATCH, ["m.csv", "gzip-compressed", "plain CSV"],
         {"m.csv": gz("exposure,outcome\n" + GOOD_ROW + "\n")}),
    Case("batch-manifest-utf16", BATCH, ["m.csv", "UTF-16"],
         {"m.csv": ("exposure,outcome\n" + GOOD_ROW + "\n").encode("utf-16")}),
    Case("batch-manifest-unknown-column", BATCH,
         ["m.csv: row 0, column 'weight'", "unknown manifest column 'weight'", "exposure_name"],
         manifest(GOOD_ROW + ",1", header="exposure,outcome,weight")),
    Case("batch-manifest-misspelt-column", BATCH,
         ["m.csv: row 0, column 'outcome'", "lacks column(s) outcome"],
         manifest(GOOD_ROW, header="exposure,outcomes")),
    Case("batch-manifest-semicolons", BATCH, ["m.csv: row 0", "lacks column(s) exposure, outcome"],
         manifest(GOOD_ROW.replace(",", ";"), header="exposure;outcome")),
    Case("batch-manifest-duplicated-column", BATCH,
         ["m.csv: row 0, column 'outcome'", "appears twice in the header"],
         manifest(GOOD_ROW + ",demo:osteoporosis", header="exposure,outcome,outcome")),
    Case("batch-manifest-ragged-row", BATCH, ["m.csv: row 2", "expected 2 fields", "got 3"],
         manifest(GOOD_ROW, "demo:hypothyroidism,demo:osteoporosis,x")),
    Case("batch-manifest-empty-cell", BATCH, ["m.csv: row 1, column 'exposure'",
                                              "empty data source"], manifest(",demo:osteoporosis")),
    Case("batch-manifest-duplicated-row", BATCH, ["m.csv: row 3", "the pair of row 1 is listed again"],
         manifest(GOOD_ROW, "demo:hypothyroidism,demo:osteoporosis", GOOD_ROW)),
    Case("batch-manifest-duplicated-pair-by-path", BATCH,
         ["m.csv: row 2", "the pair of row 1 is listed again"],
         {**manifest("x.csv,demo:osteoporosis", "./sub/../x.csv,demo:osteoporosis"),
          "x.csv": "SNP,beta\n", "sub/keep": ""}),
    # ------------------------------------------------------------ mrbook batch: the sources
    Case("batch-source-file-missing", BATCH,
         ["m.csv: row 2, column 'exposure'", "nope.vcf.gz", "file not found"],
         manifest(GOOD_ROW, "nope.vcf.gz,demo:osteoporosis")),
    Case("batch-source-is-a-folder", BATCH,
         ["m.csv: row 1, column 'outcome'", "gwas.tsv", "is a directory"],
         manifest("demo:hashimoto,gwas.tsv"), setup=_mkdir("gwas.tsv")),
    Case("batch-source-is-a-fifo", BATCH,
         ["m.csv: row 1, column 'exposure'", "p.tsv", "not a regular file"],
         manifest("p.tsv,demo:osteoporosis"),
         setup=lambda ws: __import__("os").mkfifo(ws / "p.tsv")),
    Case("batch-source-neither-file-nor-id", BATCH,
         ["m.csv: row 1, column 'exposure'", "hashimoto", "not an OpenGWAS ID or demo:<trait>"],
         manifest("hashimoto,demo:osteoporosis")),
    Case("batch-source-unknown-demo-trait", BATCH,
         ["m.csv: row 1, column 'outcome'", "unknown demo trait 'osteoporsis'", "hashimoto"],
         manifest("demo:hashimoto,demo:osteoporsis")),
    Case("batch-source-same-id-two-files", BATCH,
         ["m.csv: row 2, column 'exposure'", "two different exposure sources have the ID 'x'"],
         {**manifest("a/x.tsv,demo:osteoporosis", "b/x.tsv,demo:osteoporosis"),
          "a/x.tsv": "SNP\tbeta\n", "b/x.tsv": "SNP\tbeta\n"}),
    # ------------------------------------------------------------ mrbook batch: multivariable rows
    Case("batch-mv-one-exposure", BATCH,
         ["m.csv: row 1, column 'exposure'", "empty exposure in 'demo-mv:hashimoto+'",
          "two or more"], manifest("demo-mv:hashimoto+,demo-mv:osteoporosis")),
    Case("batch-mv-exposure-repeated", BATCH,
         ["m.csv: row 1, column 'exposure'", "'demo-mv:hashimoto' is named twice"],
         manifest("demo-mv:hashimoto+demo-mv:hypothyroidism+demo-mv:hashimoto,"
                  "demo-mv:osteoporosis")),
    Case("batch-mv-exposure-repeated-by-path", BATCH,
         ["m.csv: row 1, column 'exposure'", "'./x.csv' is named twice"],
         {**manifest("x.csv+./x.csv,demo-mv:osteoporosis"), "x.csv": "SNP,beta\n"}),
    Case("batch-mv-unknown-source", BATCH,
         ["m.csv: row 2, column 'exposure'", "ldl.vcf.gz", "file not found"],
         manifest(MV_ROW, "demo-mv:hashimoto+ldl.vcf.gz,demo-mv:osteoporosis")),
    Case("batch-mv-unknown-demo-trait", BATCH,
         ["m.csv: row 1, column 'exposure'", "unknown demo trait 'goitre'"],
         manifest("demo-mv:hashimoto+demo-mv:goitre,demo-mv:osteoporosis")),
    Case("batch-mv-outcome-with-plus", BATCH,
         ["m.csv: row 1, column 'outcome'", "the outcome is one data source"],
         manifest("demo-mv:hashimoto+demo-mv:hypothyroidism,demo-mv:osteoporosis+demo:hashimoto")),
    Case("batch-mv-same-exposures-other-order", BATCH,
         ["m.csv: row 2", "the pair of row 1 is listed again"],
         manifest(MV_ROW, "demo-mv:hashimoto+demo-mv:hypothyroidism,demo-mv:osteoporosis")),
    Case("batch-mv-names-do-not-match", BATCH,
         ["m.csv: row 1, column 'exposure_name'", "1 exposure name(s) for 2 exposures"],
         manifest(MV_ROW + ",Hypo", header="exposure,outcome,exposure_name")),
    # ------------------------------------------------------------ mrbook batch: parameters
    Case("batch-params-mistyped-method", BATCH + ["--params", "p.yaml"],
         ["parameter 'methods'", "mr_ivv"], {**manifest(GOOD_ROW), "p.yaml": "methods: [mr_ivv]\n"}),
    Case("batch-params-p-threshold-above-1", BATCH + ["--params", "p.yaml"],
         ["parameter 'p_threshold'", "between 0 and 1"],
         {**manifest(GOOD_ROW), "p.yaml": "p_threshold: 5\n"}),
    Case("batch-params-clump-r2-zero", BATCH + ["--params", "p.yaml"],
         ["parameter 'clump_r2'"], {**manifest(GOOD_ROW), "p.yaml": "clump_r2: 0\n"}),
    Case("batch-params-unknown", BATCH + ["--params", "p.yaml"],
         ["unknown parameter 'p_treshold'", "did you mean 'p_threshold'"],
         {**manifest(GOOD_ROW), "p.yaml": "p_treshold: 5e-8\n"}),
    Case("batch-params-yaml-syntax", BATCH + ["--params", "p.yaml"],
         ["p.yaml: not valid YAML"], {**manifest(GOOD_ROW), "p.yaml": "methods: [mr_ivw\n"}),
    Case("batch-params-missing", BATCH + ["--params", "none.yaml"],
         ["parameter file not found"], manifest(GOOD_ROW)),
    Case("batch-params-nboot-zero", BATCH + ["--params", "p.yaml"],
         ["p.yaml: parameter 'nboot': must be at least 1, got 0"],
         {**manifest(GOOD_ROW), "p.yaml": "nboot: 0\n"}),
    Case("batch-params-ld-ref-missing", BATCH + ["--params", "p.yaml"],
         ["parameter 'ld_ref'", "no PLINK fileset"],
         {**manifest(GOOD_ROW), "p.yaml": "ld_ref: panel/none\n"}),
    Case("batch-chunk-size-zero", BATCH + ["--chunk-size", "0"], ["--chunk-size must be at least 1"],
         manifest(GOOD_ROW)),
    Case("batch-workers-negative", ["batch", "m.csv", "--out", "res", "--workers", "-1"],
         ["argument --workers", "expected a number >= 0, got -1"], manifest(GOOD_ROW)),
    Case("batch-workers-text", ["batch", "m.csv", "--out", "res", "--workers", "two"],
         ["argument --workers", "expected a whole number, got 'two'"], manifest(GOOD_ROW)),
    Case("batch-out-missing-option", ["batch", "m.csv"],
         ["the following arguments are required: --out"], manifest(GOOD_ROW)),
    # ------------------------------------------------------------ mrbook batch: the output folder
    Case("batch-out-is-a-file", BATCH, ["--out res: is a file", "folder"],
         {**manifest(GOOD_ROW), "res": "my notes\n"}),
    Case("batch-out-below-a-file", ["batch", "m.csv", "--out", "f/res", "--workers", "0"],
         ["f/res", "is a file, not a folder"], {**manifest(GOOD_ROW), "f": "my notes\n"}),
    Case("batch-out-is-stdout", ["batch", "m.csv", "--out", "-", "--workers", "0"],
         ["'-'", "folder"], manifest(GOOD_ROW)),
    Case("batch-out-not-a-batch-folder", BATCH, ["--out res is not empty and not a batch folder"],
         {**manifest(GOOD_ROW), "res/thesis.tex": "precious\n"}),
    Case("batch-out-other-parameters", BATCH,
         ["--out res holds a batch run with other parameters", "nboot 5 -> 1000",
          "another --out folder"], {**manifest(GOOD_ROW), **batch_folder(settings={"nboot": 5})}),
    Case("batch-out-other-version", BATCH,
         ["--out res holds a batch of mrbook 0.0.1", "cannot be mixed", "another --out folder"],
         {**manifest(GOOD_ROW), **batch_folder(version="0.0.1")}),
    Case("batch-out-batch-json-corrupt", BATCH,
         ["res/batch.json", "not a batch record", "another --out folder"],
         {**manifest(GOOD_ROW), "res/batch.json": "{not json", "res/chunks/keep": ""}),
    Case("batch-out-batch-json-is-a-folder", BATCH, ["res/batch.json: is a folder"],
         manifest(GOOD_ROW), setup=lambda ws: (ws / "res" / "batch.json").mkdir(parents=True)),
    # ------------------------------------------------------------ mrbook mvmr: a wide table
    Case("mvmr-wide-missing-column", MVMR, ["w.csv", "column 'se.outcome'", "missing required"],
         {"w.csv": wide([r.rsplit(",", 1)[0] for r in WIDE_ROWS], WIDE_HEADER.rsplit(",", 1)[0])}),
    Case("mvmr-wide-beta-without-se", MVMR, ["w.csv", "column 'beta.c'", "no se.c beside it"],
         {"w.csv": wide([r + ",0.1" for r in WIDE_ROWS], WIDE_HEADER + ",beta.c")}),
    Case("mvmr-wide-text-in-beta", MVMR, ["w.csv: row 2, column 'beta.a'", "expected a number",
                                          "'big'"], {"w.csv": wide(cell(WIDE_ROWS, 1, 1, "big"))}),
    Case("mvmr-wide-se-zero", MVMR, ["w.csv: row 3, column 'se.b'", "> 0"],
         {"w.csv": wide(cell(WIDE_ROWS, 2, 4, "0"))}),
    Case("mvmr-wide-se-negative", MVMR, ["w.csv: row 1, column 'se.outcome'", "> 0"],
         {"w.csv": wide(cell(WIDE_ROWS, 0, 6, "-0.02"))}),
    Case("mvmr-wide-inf", MVMR, ["w.csv: row 4, column 'beta.outcome'", "finite", "'Inf'"],
         {"w.csv": wide(cell(WIDE_ROWS, 3, 5, "Inf"))}),
    Case("mvmr-wide-comma-decimal", MVMR, ["w.csv: row 1, column 'beta.a'", "'0,10'"],
         {"w.csv": wide([r.replace(",", ";").replace(".", ",") for r in WIDE_ROWS],
                        WIDE_HEADER.replace(",", ";"))}),
    Case("mvmr-wide-p-above-1", MVMR, ["w.csv: row 2, column 'pval.a'", "[0, 1]"],
         {"w.csv": wide([r + (",2" if i == 1 else ",1e-9") for i, r in enumerate(WIDE_ROWS)],
                        WIDE_HEADER + ",pval.a")}),
    Case("mvmr-wide-duplicated-snp", MVMR, ["w.csv: row 4, column 'SNP'", "rs1 appears twice"],
         {"w.csv": wide(WIDE_ROWS[:3] + ["rs1" + WIDE_ROWS[3][3:]])}),
    Case("mvmr-wide-one-exposure", MVMR, ["w.csv", "at least two exposures", "found 1"],
         {"w.csv": wide([",".join(r.split(",")[:3] + r.split(",")[5:]) for r in WIDE_ROWS],
                        "SNP,beta.a,se.a,beta.outcome,se.outcome")}),
    Case("mvmr-wide-fewer-snps-than-exposures", MVMR,
         ["w.csv", "1 SNP for 2 exposures", "at least as many SNPs as exposures"],
         {"w.csv": wide(WIDE_ROWS[:1])}),
    Case("mvmr-wide-header-only", MVMR, ["w.csv", "no data rows"], {"w.csv": wide([])}),
    Case("mvmr-wide-all-missing", MVMR, ["w.csv", "no usable SNP"],
         {"w.csv": wide([cell([r], 0, 5, "NA")[0] for r in WIDE_ROWS])}),
    Case("mvmr-wide-binary", MVMR, ["w.csv", "not a text"], {"w.csv": GARBAGE}),
    Case("mvmr-wide-is-a-folder", MVMR, ["w.csv", "directory"], setup=_mkdir("w.csv")),
    Case("mvmr-json-is-a-folder", MVMR[:2] + ["--json", "res"], ["res: is a folder"],
         {"w.csv": wide()}, setup=_mkdir("res")),
    Case("mvmr-json-below-a-file", MVMR[:2] + ["--json", "w.csv/o.json"],
         ["w.csv/o.json", "is a file, not a folder"], {"w.csv": wide()}),
    Case("mvmr-json-dev-full", MVMR[:2] + ["--json", "/dev/full", "--iterations", "20"],
         ["/dev/full: cannot write", "no space left"], {"w.csv": wide()}),
    Case("mvmr-orientate-beyond", MVMR + ["--orientate", "3"],
         ["orientate must be an exposure number from 1 to 2", "got 3"], {"w.csv": wide()}),
    Case("mvmr-pval-threshold", MVMR + ["--pval-threshold", "0"], ["--pval-threshold must be in (0, 1]"],
         {"w.csv": wide()}),
    # ------------------------------------------------------------ mrbook mvmr: long tables
    Case("mvmr-long-missing-column", MVMR_LONG, ["exp.csv", "column 'id.exposure'"],
         {**long_tables(), "exp.csv": "\n".join(
             [LONG_HEADER.replace("id.exposure,", "")]
             + [",".join(r.split(",")[:1] + r.split(",")[2:]) for r in LONG_ROWS]) + "\n"}),
    Case("mvmr-long-text-in-se", MVMR_LONG, ["exp.csv: row 3, column 'se.exposure'",
                                             "expected a number", "'n/a?'"],
         long_tables(cell(LONG_ROWS, 2, 4, "n/a?"))),
    Case("mvmr-long-outcome-se-zero", MVMR_LONG, ["out.csv: row 2, column 'se.outcome'", "> 0"],
         long_tables(out_rows=cell(OUT_ROWS, 1, 2, "0"))),
    Case("mvmr-long-duplicated-snp", MVMR_LONG, ["exp.csv: row 7", "rs3", "twice"],
         long_tables(LONG_ROWS + [LONG_ROWS[4]])),
    Case("mvmr-long-crlf-inf", MVMR_LONG, ["exp.csv: row 1, column 'beta.exposure'", "finite"],
         {k: v.replace("\n", "\r\n") for k, v in
          long_tables(cell(LONG_ROWS, 0, 3, "-inf")).items()}),
    Case("mvmr-long-outcome-missing", MVMR_LONG, ["out.csv", "file not found"],
         {"exp.csv": long_tables()["exp.csv"]}),
    # ------------------------------------------------------------ mrbook mvmr: data sources
    Case("mvmr-sources-one-exposure", MVMR_SRC + ["demo-mv:hashimoto"],
         ["at least two exposures, got 1"]),
    Case("mvmr-sources-repeated", MVMR_SRC + ["demo-mv:hashimoto+demo-mv:ht"],
         ["the same exposure is given twice"]),
    Case("mvmr-sources-unknown-trait", MVMR_SRC + ["demo-mv:hashimoto+demo-mv:goitre"],
         ["unknown demo trait 'goitre'"]),
    Case("mvmr-sources-missing-file", MVMR_SRC + ["demo-mv:hashimoto+ldl.vcf.gz"],
         ["ldl.vcf.gz: file not found"]),
    Case("mvmr-sources-outcome-plus", ["mvmr", "--exposures", "demo-mv:hashimoto+demo-mv:hypo",
                                       "--outcome", "demo-mv:osteoporosis+demo:hashimoto",
                                       "--json", "o.json"],
         ["--outcome is one data source"]),
    # ------------------------------------------------------------ mrbook demo-phenome
    Case("phenome-exposures-zero", ["demo-phenome", "ph", "--exposures", "0"],
         ["exposures must be an integer from 1 to 2000, got 0"]),
    Case("phenome-outcomes-too-many", ["demo-phenome", "ph", "--outcomes", "101"],
         ["outcomes must be an integer from 1 to 100, got 101"]),
    Case("phenome-loci-too-few", ["demo-phenome", "ph", "--loci", "2"],
         ["loci must be an integer from 3 to 200, got 2"]),
    Case("phenome-seed-negative", ["demo-phenome", "ph", "--seed", "-1"],
         ["seed must be an integer from 0"]),
    Case("phenome-seed-huge", ["demo-phenome", "ph", "--seed", "1" + "0" * 20],
         ["seed must be an integer from 0 to 9223372036854775807"]),
    Case("phenome-exposures-not-whole", ["demo-phenome", "ph", "--exposures", "1.5"],
         ["argument --exposures", "invalid int value: '1.5'"]),
    Case("phenome-out-is-a-file", ["demo-phenome", "ph", "--exposures", "2", "--outcomes", "1"],
         ["ph: is a file", "must be a folder"], {"ph": "precious\n"}),
    Case("phenome-out-below-a-file", ["demo-phenome", "f/ph", "--exposures", "2", "--outcomes", "1"],
         ["f/ph", "is a file, not a folder"], {"f": "precious\n"}),
    Case("phenome-out-is-stdout", ["demo-phenome", "-"], ["'-'", "folder"]),
    Case("phenome-manifest-is-a-folder", ["demo-phenome", "ph", "--exposures", "2", "--outcomes",
                                          "1", "--loci", "3"], ["ph/manifest.csv", "is a folder"],
         setup=lambda ws: (ws / "ph" / "manifest.csv").mkdir(parents=True)),
]


def _prepare(ws: Path, case: Case) -> None:
    """Lay out a case; a batch folder of another run gets this run's settings but for one."""
    if case.id in ("batch-out-other-version", "batch-out-other-parameters"):
        from mrbook.batch.plan import load_parameters, make_settings

        settings = make_settings(load_parameters(), ws / "m.csv").as_dict()
        version = "0.0.1" if case.id == "batch-out-other-version" else __import__("mrbook").__version__
        if case.id == "batch-out-other-parameters":
            settings["nboot"] = 5
        case = Case(case.id, case.argv, case.fragments,
                    {**case.files, **batch_folder(version, settings)}, case.setup)
    _lay_out(ws, case)


def test_the_table_has_distinct_cases():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert len(CASES) >= 60


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_refused_with_one_line_and_nothing_written(case, scratch, capsys):
    _prepare(scratch, case)
    before = snapshot(scratch)
    code, out, err = run_cli(case.argv, capsys)
    assert_refused(code, err, case.command, case.fragments)
    assert snapshot(scratch) == before, "the scratch folder changed"
    assert out == ""


# --------------------------------------------------------------------------- full and read-only disks

DISK_CASES = [
    ("batch-read-only", ["batch", "m.csv", "--out", "disk/res", "--workers", "0", "--no-progress"],
     ["disk/res", "read-only"]),
    ("phenome-read-only", ["demo-phenome", "disk/ph", "--exposures", "2", "--outcomes", "1",
                           "--loci", "3"], ["disk/ph", "read-only"]),
    ("mvmr-read-only", ["mvmr", "w.csv", "--json", "disk/o.json", "--iterations", "20"],
     ["disk/o.json", "read-only"]),
]


@pytest.mark.parametrize("argv, fragments", [c[1:] for c in DISK_CASES],
                         ids=[c[0] for c in DISK_CASES])
def test_read_only_disk(small_fs, scratch, capsys, argv, fragments):
    (scratch / "m.csv").write_text("exposure,outcome\n" + GOOD_ROW + "\n")
    (scratch / "w.csv").write_text(wide())
    _read_only(small_fs)
    before = snapshot(small_fs)
    code, _, err = run_cli(argv, capsys)
    assert_refused(code, err, argv[0], fragments)
    assert snapshot(small_fs) == before


def test_demo_phenome_on_a_full_disk_leaves_nothing(small_fs, scratch, capsys):
    """A phenome too big for the disk: the error names the disk, and no folder is left behind."""
    code, _, err = run_cli(["demo-phenome", "disk/ph", "--exposures", "3", "--outcomes", "2",
                            "--loci", "5"], capsys)
    assert_refused(code, err, "demo-phenome", ["no space left"])
    assert sorted(p.name for p in small_fs.iterdir()) == []


# --------------------------------------------------------------------------- legitimate oddities


@pytest.mark.parametrize("name, text", [
    ("bom-crlf", "\ufeff" + wide(eol="\r\n")),
    ("semicolons", wide([r.replace(",", ";") for r in WIDE_ROWS], WIDE_HEADER.replace(",", ";"))),
    ("tabs-gzip", gz(wide([r.replace(",", "\t") for r in WIDE_ROWS],
                          WIDE_HEADER.replace(",", "\t")))),
    ("na-row-dropped", wide(WIDE_ROWS + ["rs9,NA,0.01,0.1,0.01,0.02,0.02"])),
])
def test_mvmr_legitimate_oddities_are_accepted(scratch, capsys, name, text):
    p = scratch / "w.csv"
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    code, _, err = run_cli(["mvmr", p, "--json", "o.json", "--iterations", "20"], capsys)
    assert code == 0, err
    got = json.loads((scratch / "o.json").read_text())
    (scratch / "ref.csv").write_text(wide())
    code, _, err = run_cli(["mvmr", "ref.csv", "--json", "ref.json", "--iterations", "20"], capsys)
    assert code == 0, err
    ref = json.loads((scratch / "ref.json").read_text())
    assert got["mvmr"] == ref["mvmr"] and got["snps"] == ref["snps"]
    if name == "na-row-dropped":
        assert got["excluded"] == [{"SNP": "rs9", "step": "missing_value",
                                    "reason": "missing beta.a", "exposure": "a"}]


def test_mvmr_too_few_snps_for_one_method_is_not_an_error(scratch, capsys):
    """Two exposures, three SNPs: IVW runs, MR-Egger needs more and is listed as not run."""
    (scratch / "w.csv").write_text(wide(WIDE_ROWS[:3]))
    code, _, err = run_cli(["mvmr", "w.csv", "--json", "o.json", "--iterations", "20"], capsys)
    assert code == 0, err
    got = json.loads((scratch / "o.json").read_text())
    ran = {r["method"] for r in got["mvmr"]}
    assert "Multivariable IVW" in ran
    assert {r["method"] for r in got["not_run"]} >= {"Multivariable MR-Egger"}
    assert all("SNPs" in r["reason"] for r in got["not_run"])


def test_batch_manifest_with_bom_crlf_and_blank_lines_is_read(scratch):
    from mrbook.batch import read_manifest

    (scratch / "m.csv").write_bytes(("\ufeffexposure,outcome\r\n\r\n" + GOOD_ROW + "\r\n"
                                     + MV_ROW + "\r\n\r\n").encode())
    pairs = read_manifest(scratch / "m.csv")
    assert [p.row for p in pairs] == [1, 2]
    assert pairs[0].exposures == () and not pairs[0].multivariable
    assert pairs[1].exposures == ("demo-mv:hypothyroidism", "demo-mv:hashimoto")
    assert pairs[1].exposure == "demo-mv:hypothyroidism+demo-mv:hashimoto"


def test_a_file_name_with_a_plus_is_one_source(scratch):
    from mrbook.batch import read_manifest

    (scratch / "a+b.tsv").write_text("SNP\tbeta\n")
    (scratch / "m.csv").write_text("exposure,outcome\na+b.tsv,demo:osteoporosis\n")
    (pair,) = read_manifest(scratch / "m.csv")
    assert not pair.multivariable and pair.exposure == str(scratch / "a+b.tsv")
