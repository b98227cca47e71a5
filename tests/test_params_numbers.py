"""Numbers in parameter files as researchers write them (issue 16.1): one rule in
mrbook.params for every numeric parameter, book and batch alike."""

from __future__ import annotations

import pytest

from mrbook import params
from mrbook.errors import ParameterError


@pytest.mark.parametrize("spelling", ["5e-8", "5E-08", ".5e-7", "5.0e-8", "5.0E-8", "0.00000005",
                                      "50e-9", "+5e-8"])
def test_every_spelling_of_5e_8_in_a_file_is_the_same_run(tmp_path, spelling):
    """Same parameters -> the same book: `mrbook build` gets nothing else from the file."""
    a = tmp_path / "a.yaml"
    a.write_text(f"p_threshold: {spelling}\nclump_kb: 1e4\nnboot: 1E3\n")
    b = tmp_path / "b.yaml"
    b.write_text("p_threshold: 5.0e-8\nclump_kb: 10000\nnboot: 1000\n")
    got = params.load_yaml(a)
    assert got == params.load_yaml(b) == {"p_threshold": 5e-8, "clump_kb": 10000, "nboot": 1000}
    assert type(got["clump_kb"]) is int and type(got["nboot"]) is int


def test_paper_file_with_scientific_notation_gives_the_paper_defaults(tmp_path):
    text = "p_threshold: 5e-8\nclump_r2: 1e-2\nclump_kb: 1e4\nnboot: 1e3\nseed: 1234\n"
    (tmp_path / "p.yaml").write_text(text)
    got = params.load_yaml(tmp_path / "p.yaml")
    defaults = params.defaults()
    assert got == {k: defaults[k] for k in got}


@pytest.mark.parametrize("text, words", [
    ("p_threshold: '5e-8'", ["must be a number, got the text '5e-8'",
                             "write it without quotes: p_threshold: 5e-8"]),
    ('clump_kb: "10000"', ["write it without quotes: clump_kb: 10000"]),
    ("p_threshold: 5e-8x", ["must be a number, got the text '5e-8x'"]),
    ("clump_kb: 1.5e3", None),  # 1500: a whole number, accepted
    ("clump_kb: 1.5", ["'clump_kb' must be an integer", "1.5"]),
    ("nboot: 1e400", ["'nboot' must be an integer", "inf"]),
    ("seed: 1e20", ["'seed' must be an integer", "1e+20"]),
    ("seed: 123456789012345678", None),  # an integer as written: exact
    ("p_threshold: true", ["must be a number, got bool True"]),
])
def test_the_number_rule(tmp_path, text, words):
    p = tmp_path / "p.yaml"
    p.write_text(text + "\n")
    if words is None:
        params.load_yaml(p)
        return
    with pytest.raises(ParameterError) as err:
        params.load_yaml(p)
    msg = str(err.value)
    assert msg.startswith(f"{p}: ") and "\n" not in msg
    for w in words:
        assert w in msg, msg


def test_validate_takes_python_numbers_by_the_same_rule():
    """The batch calls validate() on values it reads: floats that are whole numbers work."""
    assert params.validate({"clump_kb": 1e4, "nboot": 200.0, "presso_n_distribution": 10}, partial=True) == \
        {"clump_kb": 10000, "nboot": 200, "presso_n_distribution": 10}
