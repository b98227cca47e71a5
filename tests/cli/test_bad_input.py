"""Bad input and faults, command by command, as a user meets them (issues 9 and 16).

Every case runs the real command line (``mrbook ...``) from a scratch folder, as root like
the README, and asserts the whole contract of a refused input:

- exit status 2 and exactly one line on stderr, ``mrbook <command>: error: ...``, that
  names what is wrong and where (file, row and column, or the parameter, or the output
  path) and says what was expected;
- no traceback;
- nothing written: the scratch folder (and any output path named) is byte for byte as it
  was before the command ran, with no temporary or hidden ``.old`` file left behind.

The table :data:`CASES` holds one row per distinct case, grouped by command; the few
cases that need a mounted file system (full, read-only) or a special file follow it.
Inputs that real data legitimately contain (a UTF-8 BOM, CRLF line ends, NA) are checked
to be *accepted* at the end.
"""

from __future__ import annotations

import gzip
import json
import os
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from mrbook.cli.main import main

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "readers"

HARM_HEADER = ("SNP,beta.exposure,se.exposure,beta.outcome,se.outcome,effect_allele.exposure,"
               "other_allele.exposure,eaf.exposure,pval.exposure")
HARM_ROWS = [
    "rs1,0.10,0.01,0.05,0.02,A,G,0.30,1e-20",
    "rs2,0.12,0.01,0.04,0.02,C,T,0.41,1e-25",
    "rs3,-0.08,0.01,-0.03,0.02,AT,A,0.12,0",
    "rs4,0.09,0.01,0.02,0.02,G,A,0.77,1e-15",
    "rs5,0.11,0.012,0.07,0.025,G,A,0.50,1e-18",
]
EXP_HEADER = "SNP,beta.exposure,se.exposure,effect_allele.exposure,other_allele.exposure,eaf.exposure"
EXP_ROWS = ["rs1,0.10,0.01,A,G,0.30", "rs2,0.12,0.01,C,T,0.41", "rs3,-0.08,0.01,G,A,0.12",
            "rs4,0.09,0.01,G,A,0.77"]
OUT_HEADER = "SNP,beta.outcome,se.outcome,effect_allele.outcome,other_allele.outcome,eaf.outcome"
OUT_ROWS = ["rs1,0.05,0.02,A,G,0.31", "rs2,0.04,0.02,T,C,0.60", "rs3,-0.03,0.02,G,A,0.11",
            "rs4,0.02,0.02,G,A,0.76"]


def table(header: str, rows: list[str], sep: str = ",", eol: str = "\n") -> str:
    return eol.join([header.replace(",", sep)] + [r.replace(",", sep) for r in rows]) + eol


def harm(rows=None, header=HARM_HEADER, **kw) -> str:
    return table(header, HARM_ROWS if rows is None else rows, **kw)


def replace_cell(rows: list[str], i: int, col: int, value: str) -> list[str]:
    out = list(rows)
    cells = out[i].split(",")
    cells[col] = value
    out[i] = ",".join(cells)
    return out


def fixture(name: str, old: str | None = None, new: str | None = None) -> str:
    text = (FIX / name).read_text()
    if old is not None:
        assert old in text, (name, old)
        text = text.replace(old, new, 1)
    return text


def gz(text: str | bytes) -> bytes:
    return gzip.compress(text.encode() if isinstance(text, str) else text, mtime=0)


def truncated_gz(text: str) -> bytes:
    data = gz(text * 200)
    return data[: len(data) // 2]


GARBAGE = bytes(range(256)) * 8 + b"\x00\xff\xfe" * 100

PARAMS_OK = "p_threshold: 5.0e-8\nclump_kb: 10000\n"


# --------------------------------------------------------------------------- the contract


def snapshot(root: Path) -> dict:
    """Every entry below ``root``: kind, permission bits and the bytes of regular files."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = os.lstat(p)
            data = p.read_bytes() if stat.S_ISREG(st.st_mode) else None
            out[str(p.relative_to(root))] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), data)
    return out


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def assert_refused(code: int, err: str, command: str, fragments: list[str]) -> None:
    assert code == 2, (code, err)
    assert "Traceback" not in err, err
    assert err.count("\n") == 1 and err.endswith("\n"), f"not one line: {err!r}"
    assert err.startswith(f"mrbook {command}: error: "), err
    for f in fragments:
        assert f in err, (f, err)


@dataclass
class Case:
    """One refused input: the files to lay out, the command, what the error must say."""

    id: str
    argv: list[str]
    fragments: list[str]
    files: dict[str, str | bytes] = field(default_factory=dict)
    setup: Callable[[Path], None] | None = None

    @property
    def command(self) -> str:
        return self.argv[0]


def _mkdir(name: str) -> Callable[[Path], None]:
    return lambda ws: (ws / name).mkdir()


def _unreadable(name: str) -> Callable[[Path], None]:
    """A file that exists but cannot be read: mode 000 for a user; as root (who reads any
    mode) a link to /proc/self/mem, whose first bytes give EIO."""
    def make(ws: Path) -> None:
        if os.geteuid() == 0:
            (ws / name).symlink_to("/proc/self/mem")
        else:  # pragma: no cover (CI and the README run as root)
            (ws / name).write_text(harm())
            (ws / name).chmod(0)
    return make


def _fifo_input(name: str) -> Callable[[Path], None]:
    return lambda ws: os.mkfifo(ws / name)


HARM_OK = {"h.csv": harm()}
EXP_OUT_OK = {"exp.csv": table(EXP_HEADER, EXP_ROWS), "out.csv": table(OUT_HEADER, OUT_ROWS)}

CASES: list[Case] = [
    # ------------------------------------------------------------ mrbook mr: the table
    Case("mr-binary-garbage", ["mr", "h.csv", "--json", "o.json"], ["h.csv", "not a text table"],
         {"h.csv": GARBAGE}),
    Case("mr-truncated-gzip", ["mr", "h.csv.gz", "--json", "o.json"],
         ["h.csv.gz", "truncated or corrupt"], {"h.csv.gz": truncated_gz(harm())}),
    Case("mr-gzip-of-garbage", ["mr", "h.csv.gz", "--json", "o.json"],
         ["h.csv.gz", "not a text table"], {"h.csv.gz": gz(GARBAGE)}),
    Case("mr-input-is-a-folder", ["mr", "h.csv", "--json", "o.json"], ["h.csv", "directory"],
         setup=_mkdir("h.csv")),
    Case("mr-input-unreadable", ["mr", "h.csv", "--json", "o.json"], ["h.csv", "cannot read"],
         setup=_unreadable("h.csv")),
    Case("mr-input-missing", ["mr", "nope.csv", "--json", "o.json"], ["nope.csv", "file not found"]),
    Case("mr-whitespace-only", ["mr", "h.csv", "--json", "o.json"], ["h.csv", "empty"],
         {"h.csv": "  \n\n\t\n"}),
    Case("mr-bom-header-only", ["mr", "h.csv", "--json", "o.json"], ["h.csv", "no data rows"],
         {"h.csv": "\ufeff" + HARM_HEADER + "\r\n"}),
    Case("mr-utf16", ["mr", "h.csv", "--json", "o.json"], ["h.csv", "UTF-16", "UTF-8"],
         {"h.csv": harm().encode("utf-16")}),
    Case("mr-semicolon-comma-decimals", ["mr", "h.csv", "--json", "o.json"],
         ["h.csv: row 1, column 'beta.exposure'", "'0,10'", "decimal comma"],
         {"h.csv": "\n".join([HARM_HEADER.replace(",", ";")]
                              + [r.replace(",", ";").replace(".", ",") for r in HARM_ROWS]) + "\n"}),
    Case("mr-comma-decimals-in-csv", ["mr", "h.csv", "--json", "o.json"],
         ["h.csv: row 2", "10 fields, the header has 9"],
         {"h.csv": harm(HARM_ROWS[:1] + ["rs2,0,12,0.01,0.04,0.02,C,T,0.41,1e-25"])}),
    Case("mr-duplicated-header", ["mr", "h.csv", "--json", "o.json"],
         ["h.csv", "column 'beta.outcome'", "duplicated column name"],
         {"h.csv": harm([r + ",0.1" for r in HARM_ROWS], HARM_HEADER + ",beta.outcome")}),
    Case("mr-ragged-row", ["mr", "h.csv", "--json", "o.json"], ["h.csv: row 3", "8 fields"],
         {"h.csv": harm(HARM_ROWS[:2] + ["rs3,-0.08,0.01,-0.03,0.02,AT,A,0.12"])}),
    Case("mr-allele-N", ["mr", "h.csv", "--json", "o.json"],
         ["h.csv: row 2, column 'effect_allele.exposure'", "'N'", "A, C, G, T"],
         {"h.csv": harm(replace_cell(HARM_ROWS, 1, 5, "N"))}),
    Case("mr-allele-number", ["mr", "h.csv", "--json", "o.json"],
         ["row 4, column 'other_allele.exposure'", "'1'"],
         {"h.csv": harm(replace_cell(HARM_ROWS, 3, 6, "1"))}),
    Case("mr-eaf-above-1", ["mr", "h.csv", "--json", "o.json"],
         ["h.csv: row 2, column 'eaf.exposure'", "[0, 1]", "1.2"],
         {"h.csv": harm(replace_cell(HARM_ROWS, 1, 7, "1.2"))}),
    Case("mr-eaf-negative", ["mr", "h.csv", "--json", "o.json"],
         ["row 5, column 'eaf.exposure'", "-0.1"],
         {"h.csv": harm(replace_cell(HARM_ROWS, 4, 7, "-0.1"))}),
    Case("mr-p-negative", ["mr", "h.csv", "--json", "o.json"],
         ["row 1, column 'pval.exposure'", "[0, 1]"],
         {"h.csv": harm(replace_cell(HARM_ROWS, 0, 8, "-1e-8"))}),
    Case("mr-se-minus-inf", ["mr", "h.csv", "--json", "o.json"],
         ["row 2, column 'se.outcome'", "finite"],
         {"h.csv": harm(replace_cell(HARM_ROWS, 1, 4, "-Inf"))}),
    Case("mr-overflowing-number", ["mr", "h.csv", "--json", "o.json"],
         ["row 3, column 'beta.outcome'", "finite", "1e999"],
         {"h.csv": harm(replace_cell(HARM_ROWS, 2, 3, "1e999"))}),
    Case("mr-empty-snp", ["mr", "h.csv", "--json", "o.json"],
         ["row 2, column 'SNP'", "SNP identifier"],
         {"h.csv": harm(replace_cell(HARM_ROWS, 1, 0, ""))}),
    Case("mr-mr-keep-maybe", ["mr", "h.csv", "--json", "o.json"],
         ["row 1, column 'mr_keep'", "TRUE or FALSE", "'maybe'"],
         {"h.csv": harm([r + (",maybe" if i == 0 else ",TRUE") for i, r in enumerate(HARM_ROWS)],
                        HARM_HEADER + ",mr_keep")}),
    Case("mr-all-missing", ["mr", "h.csv", "--json", "o.json"], ["h.csv", "no usable SNP"],
         {"h.csv": harm([replace_cell([r], 0, 3, "NA")[0] for r in HARM_ROWS])}),
    Case("mr-all-mr-keep-false", ["mr", "h.csv", "--json", "o.json"], ["no usable SNP"],
         {"h.csv": harm([r + ",FALSE" for r in HARM_ROWS], HARM_HEADER + ",mr_keep")}),
    Case("mr-vcf-given-as-harmonised", ["mr", "g.vcf", "--json", "o.json"],
         ["g.vcf", "a VCF", "mrbook instruments"], {"g.vcf": fixture("ieu_gwas.vcf")}),
    # ------------------------------------------------------------ mrbook mr: options and output
    Case("mr-nboot-1", ["mr", "h.csv", "--json", "o.json", "--nboot", "1"],
         ["--nboot must be at least 2"], HARM_OK),
    Case("mr-seed-negative", ["mr", "h.csv", "--json", "o.json", "--seed", "-5"],
         ["--seed must be a non-negative integer"], HARM_OK),
    Case("mr-seed-text", ["mr", "h.csv", "--json", "o.json", "--seed", "abc"],
         ["argument --seed", "invalid int value: 'abc'"], HARM_OK),
    Case("mr-rng-unknown", ["mr", "h.csv", "--json", "o.json", "--rng", "mt"],
         ["argument --rng", "invalid choice: 'mt'"], HARM_OK),
    Case("mr-methods-empty", ["mr", "h.csv", "--json", "o.json", "--methods", " , "],
         ["--methods", "at least one method"], HARM_OK),
    Case("mr-presso-nsim", ["mr", "h.csv", "--json", "o.json", "--presso", "--presso-nsim", "3"],
         ["--presso-nsim must be at least 10"], HARM_OK),
    Case("mr-json-missing-option", ["mr", "h.csv"], ["the following arguments are required: --json"],
         HARM_OK),
    Case("mr-json-is-a-folder", ["mr", "h.csv", "--json", "res"], ["res: is a folder"],
         HARM_OK, setup=_mkdir("res")),
    Case("mr-json-below-a-file", ["mr", "h.csv", "--json", "h.csv/o.json"],
         ["h.csv/o.json", "is a file, not a folder"], HARM_OK),
    Case("mr-json-dev-full", ["mr", "h.csv", "--json", "/dev/full"],
         ["/dev/full: cannot write", "no space left"], HARM_OK),
    Case("mr-json-socket", ["mr", "h.csv", "--json", "sock"],
         ["sock: is neither a regular file"], HARM_OK,
         setup=lambda ws: __import__("socket").socket(__import__("socket").AF_UNIX).bind(
             str(ws / "sock"))),
    # ------------------------------------------------------------ mrbook harmonise
    Case("harmonise-exposure-lacks-allele", ["harmonise", "exp.csv", "out.csv", "--out", "h.csv"],
         ["exp.csv", "column 'effect_allele.exposure'", "missing required column"],
         {"exp.csv": table("SNP,beta.exposure,se.exposure", ["rs1,0.1,0.01"]),
          "out.csv": table(OUT_HEADER, OUT_ROWS)}),
    Case("harmonise-outcome-is-garbage", ["harmonise", "exp.csv", "out.csv", "--out", "h.csv"],
         ["out.csv", "not a text table"], {**EXP_OUT_OK, "out.csv": GARBAGE}),
    Case("harmonise-exposure-duplicate-snp", ["harmonise", "exp.csv", "out.csv", "--out", "h.csv"],
         ["exp.csv: row 5, column 'SNP'", "rs1 appears twice"],
         {**EXP_OUT_OK, "exp.csv": table(EXP_HEADER, EXP_ROWS + [EXP_ROWS[0]])}),
    Case("harmonise-outcome-se-zero", ["harmonise", "exp.csv", "out.csv", "--out", "h.csv"],
         ["out.csv: row 2, column 'se.outcome'", "> 0"],
         {**EXP_OUT_OK, "out.csv": table(OUT_HEADER, replace_cell(OUT_ROWS, 1, 2, "0"))}),
    Case("harmonise-outcome-eaf", ["harmonise", "exp.csv", "out.csv", "--out", "h.csv"],
         ["out.csv: row 4, column 'eaf.outcome'", "[0, 1]"],
         {**EXP_OUT_OK, "out.csv": table(OUT_HEADER, replace_cell(OUT_ROWS, 3, 5, "7"))}),
    Case("harmonise-no-common-snp", ["harmonise", "exp.csv", "out.csv", "--out", "h.csv"],
         ["no SNP is in both exp.csv and out.csv"],
         {**EXP_OUT_OK, "out.csv": table(OUT_HEADER, [r.replace("rs", "rs9") for r in OUT_ROWS])}),
    Case("harmonise-out-is-a-folder", ["harmonise", "exp.csv", "out.csv", "--out", "res"],
         ["res: is a folder"], EXP_OUT_OK, setup=_mkdir("res")),
    Case("harmonise-exclusions-is-a-folder",
         ["harmonise", "exp.csv", "out.csv", "--out", "h.csv", "--exclusions", "ex"],
         ["ex: is a folder"], EXP_OUT_OK, setup=_mkdir("ex")),
    Case("harmonise-default-exclusions-is-a-folder",
         ["harmonise", "exp.csv", "out.csv", "--out", "h.csv"], ["h_exclusions.csv: is a folder"],
         EXP_OUT_OK, setup=_mkdir("h_exclusions.csv")),
    Case("harmonise-stdout-without-exclusions", ["harmonise", "exp.csv", "out.csv", "--out", "-"],
         ["--exclusions FILE"], EXP_OUT_OK),
    Case("harmonise-tolerance", ["harmonise", "exp.csv", "out.csv", "--out", "h.csv",
                                 "--tolerance", "0.7"], ["--tolerance must be in [0, 0.5)"],
         EXP_OUT_OK),
    Case("harmonise-action", ["harmonise", "exp.csv", "out.csv", "--out", "h.csv", "--action", "4"],
         ["argument --action", "invalid choice: 4"], EXP_OUT_OK),
    Case("harmonise-dev-full", ["harmonise", "exp.csv", "out.csv", "--out", "/dev/full",
                                "--exclusions", "ex.csv"], ["/dev/full: cannot write"],
         EXP_OUT_OK),
    # ------------------------------------------------------------ mrbook instruments: readers
    Case("instr-vcf-broken-header", ["instruments", "--exposure", "g.vcf", "--outcome",
                                     "demo:osteoporosis", "--out", "run"],
         ["g.vcf: row 0", "not a VCF header", "#CHROM, POS, ID"],
         {"g.vcf": fixture("ieu_gwas.vcf", "\tFORMAT\t", "\t")}),
    Case("instr-vcf-format-without-es", ["instruments", "--exposure", "g.vcf", "--outcome",
                                         "demo:osteoporosis", "--out", "run"],
         ["g.vcf", "column 'FORMAT'", "lacks ES"], {"g.vcf": fixture("ieu_gwas_no_es.vcf")}),
    Case("instr-vcf-format-missing", ["instruments", "--exposure", "g.vcf", "--outcome",
                                      "demo:osteoporosis", "--out", "run"],
         ["g.vcf: row 1, column 'FORMAT'", "FORMAT is missing"],
         {"g.vcf": fixture("ieu_gwas.vcf", "PASS\tAF=0.78\tES:SE:LP:AF:SS:ID", "PASS\tAF=0.78\t.")}),
    Case("instr-vcf-sample-text", ["instruments", "--exposure", "g.vcf", "--outcome",
                                   "demo:osteoporosis", "--out", "run"],
         ["g.vcf: row 1", "(ES)", "expected a number, got 'big'"],
         {"g.vcf": fixture("ieu_gwas.vcf", "-0.00457955:", "big:")}),
    Case("instr-vcf-truncated-gzip", ["instruments", "--exposure", "g.vcf.gz", "--outcome",
                                      "demo:osteoporosis", "--out", "run"],
         ["g.vcf.gz", "truncated"], {"g.vcf.gz": (FIX / "ieu_gwas.vcf.gz").read_bytes()[:300]}),
    Case("instr-ssf-text-in-beta", ["instruments", "--exposure", "s.tsv", "--outcome",
                                    "demo:osteoporosis", "--out", "run"],
         ["s.tsv: row 1, column 'beta'", "expected a number, got 'x1'"],
         {"s.tsv": fixture("gwas_ssf.tsv", "-0.016619", "x1")}),
    Case("instr-ssf-p-above-1", ["instruments", "--exposure", "s.tsv", "--outcome",
                                 "demo:osteoporosis", "--out", "run"],
         ["s.tsv: row 1, column 'p_value'", "[0, 1]"],
         {"s.tsv": fixture("gwas_ssf.tsv", "\t0.1\t1_869388", "\t1.1\t1_869388")}),
    Case("instr-ssf-crlf-comma-decimal", ["instruments", "--exposure", "s.tsv", "--outcome",
                                          "demo:osteoporosis", "--out", "run"],
         ["s.tsv: row 1, column 'beta'", "'-0,016619'", "decimal comma"],
         {"s.tsv": fixture("gwas_ssf.tsv", "-0.016619", "-0,016619").replace("\n", "\r\n")}),
    Case("instr-finngen-missing-column", ["instruments", "--exposure", "f.tsv", "--outcome",
                                          "demo:osteoporosis", "--out", "run"],
         ["f.tsv: row 0, column 'sebeta'", "FinnGen"],
         {"f.tsv": fixture("finngen_r9.tsv", "sebeta", "se")}),
    Case("instr-finngen-duplicated-header", ["instruments", "--exposure", "f.tsv", "--outcome",
                                             "demo:osteoporosis", "--out", "run"],
         ["f.tsv: row 0, column 'beta'", "duplicated column name"],
         {"f.tsv": fixture("finngen_r9.tsv", "nearest_genes", "beta")}),
    Case("instr-tsmr-se-negative", ["instruments", "--exposure", "t.csv", "--outcome",
                                    "demo:osteoporosis", "--out", "run"],
         ["t.csv: row 1, column 'se.exposure'", "> 0"],
         {"t.csv": fixture("tsmr_exposure.csv", "0.0675,0.0046", "0.0675,-0.0046")}),
    Case("instr-unknown-format", ["instruments", "--exposure", "x.txt", "--outcome",
                                  "demo:osteoporosis", "--out", "run"],
         ["x.txt", "cannot tell the format"], {"x.txt": "a b c\n1 2 3\n"}),
    Case("instr-binary-garbage", ["instruments", "--exposure", "x.tsv", "--outcome",
                                  "demo:osteoporosis", "--out", "run"],
         ["x.tsv", "not a text table: binary data"], {"x.tsv": GARBAGE}),
    Case("instr-empty-file", ["instruments", "--exposure", "x.tsv", "--outcome",
                              "demo:osteoporosis", "--out", "run"], ["x.tsv", "empty"],
         {"x.tsv": ""}),
    Case("instr-exposure-is-a-folder", ["instruments", "--exposure", "d.tsv", "--outcome",
                                        "demo:osteoporosis", "--out", "run"],
         ["d.tsv", "is a directory"], setup=_mkdir("d.tsv")),
    Case("instr-exposure-is-a-fifo", ["instruments", "--exposure", "p.tsv", "--outcome",
                                      "demo:osteoporosis", "--out", "run"],
         ["p.tsv", "not a regular file"], setup=_fifo_input("p.tsv")),
    Case("instr-unknown-source", ["instruments", "--exposure", "nonsense", "--outcome",
                                  "demo:osteoporosis", "--out", "run"],
         ["nonsense: file not found", "OpenGWAS ID or demo:<trait>"]),
    Case("instr-unknown-demo-trait", ["instruments", "--exposure", "demo:goitre", "--outcome",
                                      "demo:osteoporosis", "--out", "run"],
         ["unknown demo trait 'goitre'"]),
    # ------------------------------------------------------------ mrbook instruments: settings, output
    Case("instr-p-zero", ["instruments", "--exposure", "demo:hashimoto", "--outcome",
                          "demo:osteoporosis", "--out", "run", "--p", "0"],
         ["p must be a number in (0, 1], got 0.0"]),
    Case("instr-r2-above-1", ["instruments", "--exposure", "demo:hashimoto", "--outcome",
                              "demo:osteoporosis", "--out", "run", "--r2", "1.5"],
         ["r2 must be a number in (0, 1], got 1.5"]),
    Case("instr-kb-negative", ["instruments", "--exposure", "demo:hashimoto", "--outcome",
                               "demo:osteoporosis", "--out", "run", "--kb", "-10"],
         ["kb must be > 0, got -10.0"]),
    Case("instr-p-text", ["instruments", "--exposure", "demo:hashimoto", "--outcome",
                          "demo:osteoporosis", "--out", "run", "--p", "tiny"],
         ["argument --p", "invalid float value: 'tiny'"]),
    Case("instr-ld-ref-missing", ["instruments", "--exposure", "demo:hashimoto", "--outcome",
                                  "demo:osteoporosis", "--out", "run", "--ld-ref", "nopanel"],
         ["nopanel.bim: file not found", "PLINK fileset"]),
    Case("instr-out-is-a-file", ["instruments", "--exposure", "demo:hashimoto", "--outcome",
                                 "demo:osteoporosis", "--out", "run"],
         ["run: is a file", "must be a folder"], {"run": "my notes\n"}),
    Case("instr-out-file-is-a-folder", ["instruments", "--exposure", "demo:hashimoto", "--outcome",
                                        "demo:osteoporosis", "--out", "run"],
         ["run/summary.json: is a folder"], setup=lambda ws: (ws / "run" / "summary.json").mkdir(
             parents=True)),
    Case("instr-out-stdout", ["instruments", "--exposure", "demo:hashimoto", "--outcome",
                              "demo:osteoporosis", "--out", "-"], ["'-'", "folder"]),
    # ------------------------------------------------------------ mrbook demo-data
    Case("demo-outdir-is-a-file", ["demo-data", "demo"], ["demo: is a file", "must be a folder"],
         {"demo": "precious\n"}),
    Case("demo-outdir-below-a-file", ["demo-data", "f/demo"], ["f/demo", "is a file, not a folder"],
         {"f": "precious\n"}),
    Case("demo-seed-negative", ["demo-data", "demo", "--seed", "-1"],
         ["--seed must be a non-negative integer"]),
    Case("demo-manifest-is-a-folder", ["demo-data", "demo"],
         ["demo/manifest.json: is a folder"], setup=lambda ws: (ws / "demo" / "manifest.json")
         .mkdir(parents=True)),
    Case("demo-panel-folder-is-a-file", ["demo-data", "demo"],
         ["demo/ld_panel: is a file"], {"demo/ld_panel": "not a folder\n"}),
    # ------------------------------------------------------------ mrbook build: the parameter file
    Case("build-yaml-syntax", ["build", "--params", "{ws}/p.yaml"],
         ["p.yaml: not valid YAML: line 3, column 1", "expected ',' or ']'"],
         {"p.yaml": "seed: 1\nmethods: [mr_ivw\n"}),
    Case("build-unknown-parameter", ["build", "--params", "{ws}/p.yaml"],
         ["unknown parameter 'p_treshold'", "did you mean 'p_threshold'"],
         {"p.yaml": "p_treshold: 5e-8\n"}),
    Case("build-quoted-number", ["build", "--params", "{ws}/p.yaml"],
         ["parameter 'p_threshold' must be a number", "without quotes: p_threshold: 5e-8"],
         {"p.yaml": "p_threshold: '5e-8'\n"}),
    Case("build-p-threshold-range", ["build", "--params", "{ws}/p.yaml"],
         ["parameter 'p_threshold'", "between 0 and 1"], {"p.yaml": "p_threshold: 5e+8\n"}),
    Case("build-int-not-whole", ["build", "--params", "{ws}/p.yaml"],
         ["parameter 'clump_kb' must be an integer", "1500.5"], {"p.yaml": "clump_kb: 1.5005e3\n"}),
    Case("build-bool-for-int", ["build", "--params", "{ws}/p.yaml"],
         ["parameter 'nboot' must be an integer, got bool True"], {"p.yaml": "nboot: yes\n"}),
    Case("build-seed-negative", ["build", "--params", "{ws}/p.yaml"],
         ["parameter 'seed'", "non-negative"], {"p.yaml": "seed: -1e2\n"}),
    Case("build-nan", ["build", "--params", "{ws}/p.yaml"],
         ["parameter 'clump_r2'", "got nan"], {"p.yaml": "clump_r2: .nan\n"}),
    Case("build-unknown-method", ["build", "--params", "{ws}/p.yaml"],
         ["parameter 'methods'", "mr_magic"], {"p.yaml": "methods: [mr_ivw, mr_magic]\n"}),
    Case("build-exposures-list", ["build", "--params", "{ws}/p.yaml"],
         ["parameter 'exposures' must be a mapping"], {"p.yaml": "exposures: [demo:hashimoto]\n"}),
    Case("build-missing-data-file", ["build", "--params", "{ws}/p.yaml"],
         ["parameter 'outcome_source'", "not found"], {"p.yaml": "outcome_source: /nope/x.tsv.gz\n"}),
    Case("build-duplicated-key", ["build", "--params", "{ws}/p.yaml"],
         ["key 'seed' is given twice"], {"p.yaml": "seed: 1\nnboot: 100\nseed: 2\n"}),
    Case("build-not-a-mapping", ["build", "--params", "{ws}/p.yaml"],
         ["expected a mapping"], {"p.yaml": "- seed\n- 1\n"}),
    Case("build-binary-params", ["build", "--params", "{ws}/p.yaml"],
         ["p.yaml", "not a text file"], {"p.yaml": GARBAGE}),
    Case("build-params-missing", ["build", "--params", "{ws}/none.yaml"],
         ["parameter file not found"]),
    Case("build-rng-unknown", ["build", "--params", "{ws}/p.yaml"],
         ["parameter 'rng' must be 'numpy' or 'r'"], {"p.yaml": "rng: mersenne\n"}),
]


def _lay_out(ws: Path, case: Case) -> None:
    for name, content in case.files.items():
        p = ws / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)
    if case.setup:
        case.setup(ws)


@pytest.fixture
def scratch(tmp_path, monkeypatch, demo_root):
    """A scratch folder as the working directory; the demo study from the session cache."""
    ws = tmp_path / "work"
    ws.mkdir()
    monkeypatch.chdir(ws)
    monkeypatch.setenv("MRBOOK_CACHE", str(demo_root))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("OPENGWAS_JWT", raising=False)
    return ws


def test_the_table_has_distinct_cases():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert len(CASES) >= 60


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_refused_with_one_line_and_nothing_written(case, scratch, capsys):
    _lay_out(scratch, case)
    before = snapshot(scratch)
    argv = [a.replace("{ws}", str(scratch)) for a in case.argv]
    code, out, err = run_cli(argv, capsys)
    assert_refused(code, err, case.command, case.fragments)
    assert snapshot(scratch) == before, "the scratch folder changed"
    assert out == "" or case.command == "build"


# --------------------------------------------------------------------------- devices and FIFOs


def test_dev_full_stays_a_character_device(scratch, capsys):
    (scratch / "h.csv").write_text(harm())
    code, _, err = run_cli(["mr", "h.csv", "--json", "/dev/full", "--nboot", "20"], capsys)
    assert_refused(code, err, "mr", ["/dev/full"])
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_a_fifo_is_written_not_replaced(scratch, capsys):
    import threading

    (scratch / "h.csv").write_text(harm())
    fifo = scratch / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    code, _, err = run_cli(["mr", "h.csv", "--json", fifo, "--nboot", "20"], capsys)
    reader.join(timeout=30)
    assert code == 0, err
    assert json.loads(got[0])["meta"]["nboot"] == 20
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_json_dash_is_standard_output_and_pipes_into_json_tool(scratch):
    (scratch / "h.csv").write_text(harm())
    exe = Path(sys.executable).with_name("mrbook")
    if not exe.exists():
        pytest.skip("console script not installed in this environment")
    r = subprocess.run(f"'{exe}' mr h.csv --json - --nboot 20 | '{sys.executable}' -m json.tool",
                       shell=True, capture_output=True, text=True, cwd=scratch)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["meta"]["nboot"] == 20
    assert r.stderr.startswith("mrbook mr: wrote standard output: ") and r.stderr.count("\n") == 1
    assert sorted(p.name for p in scratch.iterdir()) == ["h.csv"]


def test_dev_stdout_is_not_replaced(scratch):
    (scratch / "h.csv").write_text(harm())
    exe = Path(sys.executable).with_name("mrbook")
    if not exe.exists():
        pytest.skip("console script not installed in this environment")
    r = subprocess.run([exe, "mr", "h.csv", "--json", "/dev/stdout", "--nboot", "20"],
                       capture_output=True, text=True, cwd=scratch)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["meta"]["nboot"] == 20
    assert os.path.islink("/dev/stdout")


def test_console_script_never_shows_a_traceback(scratch):
    exe = Path(sys.executable).with_name("mrbook")
    if not exe.exists():
        pytest.skip("console script not installed in this environment")
    (scratch / "h.csv").write_bytes(GARBAGE)
    (scratch / "p.yaml").write_text("p_threshold: [1\n")
    for argv, words in ((["mr", "h.csv", "--json", "o.json"], "not a text table"),
                        (["mr", "h.csv", "--json", "o.json", "--rng", "x"], "invalid choice"),
                        (["build", "--params", str(scratch / "p.yaml")], "not valid YAML")):
        r = subprocess.run([exe, *argv], capture_output=True, text=True, cwd=scratch)
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert r.stderr.count("\n") == 1 and words in r.stderr, r.stderr
    assert sorted(p.name for p in scratch.iterdir()) == ["h.csv", "p.yaml"]


# --------------------------------------------------------------------------- full and read-only disks


@pytest.fixture
def small_fs(scratch):
    """A 64 KiB tmpfs mounted in the scratch folder (root and mount permission needed)."""
    mnt = scratch / "disk"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root and mount permission): "
                    f"{r.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _fill(mnt: Path) -> None:
    with open(mnt / "filler", "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
                fh.flush()
        except OSError:
            pass


def _read_only(mnt: Path) -> None:
    r = subprocess.run(["mount", "-o", "remount,ro", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot remount read-only: {r.stderr.strip()}")


DISK_CASES = [
    # (id, how the disk is spoiled, argv (disk = the mount), fragments)
    ("mr-json-full-disk", _fill, ["mr", "h.csv", "--json", "disk/o.json"],
     ["disk/o.json", "no space left"]),
    ("mr-json-read-only", _read_only, ["mr", "h.csv", "--json", "disk/o.json"],
     ["disk/o.json", "read-only"]),
    ("mr-json-replacing-a-file-on-a-full-disk", _fill, ["mr", "h.csv", "--json", "disk/old.json"],
     ["disk/old.json", "no space left"]),
    ("harmonise-full-disk", _fill, ["harmonise", "exp.csv", "out.csv", "--out", "disk/h.csv"],
     ["disk/h", "no space left"]),
    ("instruments-full-disk", _fill, ["instruments", "--exposure", "demo:hashimoto", "--outcome",
                                      "demo:osteoporosis", "--out", "disk/run"], ["no space left"]),
    ("instruments-read-only", _read_only, ["instruments", "--exposure", "demo:hashimoto",
                                           "--outcome", "demo:osteoporosis", "--out", "disk/run"],
     ["disk/run", "read-only"]),
    ("demo-data-full-disk", lambda mnt: None, ["demo-data", "disk/demo"], ["no space left"]),
    ("demo-data-read-only", _read_only, ["demo-data", "disk/demo"], ["disk/demo", "read-only"]),
]


@pytest.mark.parametrize("spoil, argv, fragments", [c[1:] for c in DISK_CASES],
                         ids=[c[0] for c in DISK_CASES])
def test_full_or_read_only_disk(small_fs, scratch, capsys, spoil, argv, fragments):
    (scratch / "h.csv").write_text(harm())
    for name, text in EXP_OUT_OK.items():
        (scratch / name).write_text(text)
    (small_fs / "old.json").write_text('{"kept": true}\n')
    spoil(small_fs)
    before = snapshot(small_fs)
    code, _, err = run_cli(argv + (["--nboot", "20"] if argv[0] == "mr" else []), capsys)
    assert_refused(code, err, argv[0], fragments)
    assert snapshot(small_fs) == before


# --------------------------------------------------------------------------- legitimate oddities


@pytest.mark.parametrize("name, text", [
    ("bom", "\ufeff" + harm()),
    ("crlf", harm(eol="\r\n")),
    ("bom-crlf-semicolons", "\ufeff" + harm(sep=";", eol="\r\n")),
    ("tabs-gzip", gz(harm(sep="\t"))),
    ("na-spellings", harm(HARM_ROWS + ["rs6,0.1,0.01,NA,0.02,A,G,.,1e-9",
                                        "rs7,0.1,0.01,0.05,,A,G,NaN,1e-9"])),
])
def test_legitimate_oddities_are_accepted(scratch, capsys, name, text):
    p = scratch / "h.csv"
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    code, out, err = run_cli(["mr", p, "--json", "o.json", "--nboot", "20", "--seed", "1"], capsys)
    assert code == 0, err
    got = json.loads((scratch / "o.json").read_text())
    (scratch / "ref.csv").write_text(harm())
    code, _, err = run_cli(["mr", "ref.csv", "--json", "ref.json", "--nboot", "20", "--seed", "1"],
                           capsys)
    assert code == 0, err
    ref = json.loads((scratch / "ref.json").read_text())
    assert got["mr"] == ref["mr"]
