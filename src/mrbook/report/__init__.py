"""Report layer, what the book's pages show: the study's pairs and results, tables, figures, notes.

The notebooks import this package and nothing below it (``from mrbook import
params, report``): every name they call is re-exported here.

* :mod:`.study` -- the pairs of a direction, their analysis (cached) and the
  published numbers the comparison page checks against;
* :mod:`.tables` -- pure table builders (numbers stay numbers) and the one
  number format of every table;
* :mod:`.display` -- showing tables, figures and notes in the book and in
  JupyterLab (CSV and image downloads);
* :mod:`.plots` -- plotly figures from tidy result tables;
* :mod:`.multivariable` -- the "Multivariable MR" chapter: its two data sets (real
  lipids, the run's exposures together), its forest plot and notes;
* :mod:`.beyond` -- the Sensitivity chapter's "Beyond the paper": its tables and
  its all-methods forest plot;
* :mod:`.phenome` -- the Phenome-wide MR page (a batch's heat map, volcano plot,
  significant pairs, recovery of a simulation's truth).
"""

from . import phenome, plots
from .beyond import NO_SE, all_methods_table, extended_notes, extended_table, methods_forest_plot
from .multivariable import (mv_forest_plot, mv_lipids_analysis, mv_reference_effects, mv_sources,
                            mv_thyroid_analysis, shift_note, show_mv_data_note, show_mv_data_sources,
                            strength_note)
from .display import (DEMO_WARNING, FIGURE_FORMATS, PLOT_KINDS, PLOTLY_CONFIG, figure_bundle,
                      figure_files_bundle, methods_figures, pair_figures, show_comparison_caveat,
                      show_data_source, show_figure, show_figures, show_instrument_table, show_note,
                      show_run_parameters, show_table, show_unavailable_methods)
from .study import (PUBLISHED_INSTRUMENTS, PUBLISHED_IVW, STUDY_GWAS, DirectionResult, Pair,
                    analyse_pairs, cache_key, data_source_kinds, extended_mr, pairs, slug,
                    split_methods, trait_key, uses_demo)
from .tables import (COLUMNS, comparison_caveat, comparison_table,
                     data_sources_table, fmt_num, fmt_p, format_table,
                     instrument_summary_table, instrument_table, methods_table, mr_results_table,
                     mv_comparison_table, mv_exclusions_table, mv_forest_table, mv_results_table,
                     mv_selection_table, mv_strength_table, presso_table, run_parameters_table,
                     sensitivity_table, steiger_table, write_csv)

__all__ = [
    "COLUMNS", "DEMO_WARNING", "FIGURE_FORMATS", "PLOTLY_CONFIG", "PLOT_KINDS", "PUBLISHED_INSTRUMENTS",
    "PUBLISHED_IVW", "STUDY_GWAS", "DirectionResult", "Pair", "analyse_pairs", "cache_key",
    "comparison_caveat", "comparison_table", "data_source_kinds", "data_sources_table",
    "figure_bundle", "figure_files_bundle", "fmt_num", "fmt_p", "format_table",
    "instrument_summary_table", "instrument_table", "methods_table", "mr_results_table", "pair_figures",
    "pairs", "phenome", "plots", "presso_table", "run_parameters_table", "sensitivity_table",
    "show_comparison_caveat",
    "show_data_source", "show_figure", "show_figures", "show_instrument_table", "show_note",
    "show_run_parameters", "show_table", "slug", "steiger_table", "trait_key", "uses_demo", "write_csv",
    "mv_comparison_table", "mv_exclusions_table", "mv_forest_plot", "mv_forest_table",
    "mv_lipids_analysis", "mv_reference_effects", "mv_results_table", "mv_selection_table", "mv_sources",
    "mv_strength_table", "mv_thyroid_analysis", "shift_note", "show_mv_data_note",
    "show_mv_data_sources", "strength_note",
    "NO_SE", "all_methods_table", "extended_mr", "extended_notes", "extended_table", "methods_figures",
    "methods_forest_plot", "show_unavailable_methods", "split_methods",
]
