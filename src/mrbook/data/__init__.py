"""Data layer, where data come from: GWAS files, TwoSampleMR tables, OpenGWAS, LD panels, the demo."""
