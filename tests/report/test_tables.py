"""One number format for every table, and tables that fit the page (issue 13, items 6 and 7).

The expected cells are the journal conventions the book follows: P values as the
paper prints them (0.017, 0.0050, 4.3 × 10⁻³⁴), every other number to the
decimals (or significant digits) its column shows, and what is too small for that
in the same ``m × 10⁻ⁿ`` style, never as ``-8.30e-09``. The small numbers are the
ones a reader saw: a difference in ln OR of -8.30e-09 and a z of -1.52e-07 on the
comparison page, a Steiger R² of 8.09e-05 next to a P of 4.3 × 10⁻³⁴.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from mrbook.report.display import SNP_LIST_INLINE, _html_table
from mrbook.report.tables import (COLUMNS, fmt_num, fmt_p, fmt_sci, fmt_sig, format_table,
                                  steiger_table)

#: computer notation (1e-09, 8.30E-05) in a formatted cell
E_NOTATION = re.compile(r"\d[eE][+-]?\d")


@pytest.mark.parametrize("p, text", [
    (0.017, "0.017"), (0.049, "0.049"), (0.5, "0.500"), (0.005, "0.0050"), (0.0012, "0.0012"),
    (0.001, "0.0010"), (0.00099, "9.9 × 10⁻⁴"), (4.3e-34, "4.3 × 10⁻³⁴"), (3.46e-5, "3.5 × 10⁻⁵"),
    (0.0, "< 10⁻³⁰⁰"), (np.nan, "–"), (None, "–")])
def test_p_values_as_a_journal_prints_them(p, text):
    assert fmt_p(p) == text


@pytest.mark.parametrize("x, digits, text", [
    (-8.30e-09, 4, "-8.3 × 10⁻⁹"),      # Δ ln OR on the comparison page
    (-1.52e-07, 2, "-1.5 × 10⁻⁷"),      # z of Δ
    (5e-5, 4, "5.0 × 10⁻⁵"), (1e-4, 4, "0.0001"), (0.0926, 4, "0.0926"), (-0.1634, 4, "-0.1634"),
    (0.0, 4, "0.0000"), (-0.0, 4, "0.0000"), (-0.00004, 3, "-4.0 × 10⁻⁵"), (12.3456, 2, "12.35"),
    (np.int64(69), 4, "69"), (True, 3, "yes"), (np.inf, 3, "∞"), (-np.inf, 3, "−∞"),
    (np.nan, 3, "–")])
def test_other_numbers_to_the_columns_decimals_or_in_journal_style(x, digits, text):
    assert fmt_num(x, digits) == text


@pytest.mark.parametrize("x, text", [
    (8.09e-05, "8.09 × 10⁻⁵"),          # Steiger R² of the outcome
    (0.0123456, "0.0123"), (0.146, "0.146"), (0.001, "0.00100"), (0.00099, "9.90 × 10⁻⁴"),
    (1.0, "1.00"), (0.0, "0"), (np.nan, "–")])
def test_r2_to_three_significant_digits(x, text):
    assert fmt_sig(x, 3) == text


def test_fmt_sci_is_the_p_value_style():
    assert fmt_sci(4.3e-34) == fmt_p(4.3e-34) == "4.3 × 10⁻³⁴"
    assert fmt_sci(-8.3e-9) == "-8.3 × 10⁻⁹"
    assert fmt_sci(2.5e7, 3) == "2.50 × 10⁷"


def test_comparison_and_steiger_cells():
    """The cells a reader saw in computer notation, formatted by the tables' one rule."""
    comp = pd.DataFrame({"exposure": ["Hypothyroidism"], "published_pval": [0.017],
                         "this_pval": [0.0145], "diff_b": [-8.30e-09], "z_diff": [-1.52e-07]})
    cells = format_table(comp).iloc[0]
    assert cells["Δ ln OR"] == "-8.3 × 10⁻⁹" and cells["z of Δ"] == "-1.5 × 10⁻⁷"
    assert cells["P (paper)"] == "0.017" and cells["P (this run)"] == "0.015"
    d = pd.DataFrame({"exposure": ["Hypothyroidism"], "outcome": ["Osteoporosis"],
                      "snp_r2.exposure": [0.0123456], "snp_r2.outcome": [8.09e-05],
                      "correct_causal_direction": [True], "steiger_pval": [4.3e-34]})
    cells = format_table(steiger_table(d)).iloc[0]
    assert cells["R² exposure"] == "0.0123" and cells["R² outcome"] == "8.09 × 10⁻⁵"
    assert cells["Steiger P"] == "4.3 × 10⁻³⁴"
    assert cells["Direction exposure → outcome"] == "yes"


def test_no_cell_of_any_column_in_computer_notation():
    values = [1e-9, -3.3e-12, 2.5e-5, 8.09e-05, 0.0, -0.0, 0.04, 12345.678, 1.5e7, -2.2e-300,
              np.nan, np.inf]
    for col, (_label, how) in COLUMNS.items():
        if how is str:
            continue
        cells = format_table(pd.DataFrame({col: values})).iloc[:, 0].tolist()
        for v, c in zip(values, cells):
            assert not E_NOTATION.search(c), (col, v, c)
            assert "nan" not in c.lower() and "inf" not in c.lower(), (col, v, c)
            assert not re.fullmatch(r"-0(\.0*)?", c), (col, v, c)  # no negative zero


def test_candidate_snp_table_is_compact():
    t = pd.DataFrame({"snp": ["rs1", "rs2", "rs3"], "status": ["used", "excluded", "excluded"],
                      "step": ["", "palindromic", "missing_in_outcome"],
                      "reason": ["", "palindromic with ambiguous allele frequency", "absent"],
                      "f_stat": [40.0, 35.0, 31.2], "effect_allele": ["T", "A", "G"],
                      "other_allele": ["C", "T", "A"], "eaf": [0.3, 0.51, 0.2],
                      "beta": [0.1, -0.08, 0.05], "se": [0.01, 0.012, 0.009],
                      "p": [1e-20, 4.3e-10, 3e-8]})
    f = format_table(t)
    assert list(f.columns) == ["SNP", "Status", "Note", "F", "Alleles", "EAF", "β exposure", "SE",
                               "P"]
    assert f["Status"].tolist() == ["used", "excluded: palindromic",
                                    "excluded: missing in outcome"]
    assert f["Alleles"].tolist() == ["T/C", "A/T", "G/A"]
    assert f["P"].tolist() == ["1.0 × 10⁻²⁰", "4.3 × 10⁻¹⁰", "3.0 × 10⁻⁸"]


def test_presso_table_is_compact_and_lists_outliers():
    t = pd.DataFrame({"exposure": ["A", "B", "C"], "outcome": "O", "nsnp": [10, 20, 3],
                      "raw_b": [0.1, -8.3e-9, np.nan], "raw_se": [0.01, 0.02, np.nan],
                      "raw_pval": [0.01, 4e-34, np.nan], "corrected_b": [np.nan, 0.09, np.nan],
                      "corrected_se": [np.nan, 0.011, np.nan],
                      "corrected_pval": [np.nan, 0.2, np.nan], "n_outliers": [0, 5, np.nan],
                      "outliers": ["", "rs1, rs2, rs3, rs4, rs5", ""],
                      "note": ["", "", "not run: needs more than 3 SNPs"]})
    f = format_table(t)
    assert list(f.columns) == ["Exposure", "Outcome", "SNPs", "Raw β (SE)", "Raw P",
                               "Corrected β (SE)", "Corrected P", "Outliers", "Note"]
    assert f["Raw β (SE)"].tolist() == ["0.1000 (0.0100)", "-8.3 × 10⁻⁹ (0.0200)", "–"]
    assert f["Outliers"].tolist() == ["none", "rs1, rs2, rs3, rs4, rs5", "–"]
    assert f.attrs["snp_lists"] == ["Outliers"]


def test_html_folds_long_snp_lists_and_keeps_numbers_whole():
    many = ", ".join(f"rs{i}" for i in range(1, 13))
    few = ", ".join(f"rs{i}" for i in range(1, SNP_LIST_INLINE + 1))
    shown = format_table(pd.DataFrame({
        "exposure": ["A", "B", "C<D"], "n_outliers": [12, SNP_LIST_INLINE, 0],
        "outliers": [many, few, ""], "pval": [4.3e-34, 0.2, 0.5],
        "reason": ["x" * 80, "", "short"]}))
    text = _html_table(shown)
    assert f"<details><summary>12 SNPs</summary>{many}</details>" in text
    assert f"<td>{few}</td>" in text and text.count("<details>") == 1
    assert "4.3&nbsp;×&nbsp;10⁻³⁴" in text
    assert "C&lt;D" in text and "C<D" not in text
    assert text.count('class="mrbook-long"') == 2  # the long-text column, its non-empty cells
    assert "\n\n" not in text and 'class="dataframe mrbook-table"' in text
