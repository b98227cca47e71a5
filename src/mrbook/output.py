"""Ground floor: writing results, the JSON of ``mrbook mr``, atomic file writes, the version stamp."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

#: mrbook's version, stamped into every result it writes (``mrbook.__version__``)
VERSION = "0.1.0"

#: snake_case result columns -> the names of SPEC section 5 / TwoSampleMR
JSON_NAMES = {
    "id_exposure": "id.exposure", "id_outcome": "id.outcome", "snp": "SNP",
    "q": "Q", "q_df": "Q_df", "q_pval": "Q_pval",
    "snp_r2_exposure": "snp_r2.exposure", "snp_r2_outcome": "snp_r2.outcome",
}


def _clean(v):
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return None if math.isnan(v) or math.isinf(v) else v
    if v is pd.NA or v is None:
        return None
    return v


def records(table: pd.DataFrame, columns: list[str], with_ids: bool) -> list[dict]:
    """Rows of ``table`` as JSON-ready dicts with the contract's column names."""
    cols = (["id_exposure", "id_outcome"] if with_ids else []) + columns
    out = []
    for row in table[cols].itertuples(index=False):
        out.append({JSON_NAMES.get(c, c): _clean(v) for c, v in zip(cols, row)})
    return out


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and rename: never half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def dumps(obj) -> str:
    return json.dumps(obj, indent=2, allow_nan=False) + "\n"
