"""Data layer: a small OpenGWAS API client with an on-disk cache.

The endpoints, parameter names and JSON shapes follow the R client ieugwasr
(``R/query.R``: ``gwasinfo``, ``tophits``, ``associations``; ``R/ld_clump.R``:
``ld/clump``), which TwoSampleMR's ``extract_instruments``,
``extract_outcome_data`` and ``clump_data`` call. Every query is a POST of a JSON
body to ``<base_url>/<endpoint>`` with the header ``Authorization: Bearer <JWT>``.

The token is read from the environment variable ``OPENGWAS_JWT`` only, when a
request actually goes to the network. It never enters a cache file, a cache key,
an error message or a log. Each response is cached on disk under a SHA-256 of the
endpoint and its parameters, so a re-run needs neither network nor token.
"""

from __future__ import annotations

import email.utils
import hashlib
import http.client
import json
import os
import socket
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from ..errors import MRBookError, ParameterError
from .readers import COLUMNS, _as_str, _chr_label

__all__ = ["DEFAULT_URL", "OpenGWAS", "OpenGWASError", "PROXY_COLUMNS", "TOKEN_ENV"]

#: The public OpenGWAS API.
DEFAULT_URL = "https://api.opengwas.io/api"
#: The only place the token is read from.
TOKEN_ENV = "OPENGWAS_JWT"
#: Environment variable that replaces :data:`DEFAULT_URL` (a mirror, or a local test server).
URL_ENV = "MRBOOK_OPENGWAS_URL"
#: Extra columns of :meth:`OpenGWAS.associations` when proxies were looked up.
PROXY_COLUMNS = ("proxy", "target_rsid", "proxy_rsid", "target_a1", "target_a2",
                 "proxy_a1", "proxy_a2")

_CHR_CODES = {"23": "X", "24": "Y", "26": "MT", "M": "MT", "MT": "MT"}


class OpenGWASError(MRBookError):
    """The OpenGWAS API could not answer (token, rate limit, network, server)."""


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mrbook" / "opengwas"


class OpenGWAS:
    """Client for the OpenGWAS API (https://api.opengwas.io).

    Parameters
    ----------
    base_url : str, optional
        API root; endpoints are appended as ``<base_url>/<endpoint>``. Default
        ``$MRBOOK_OPENGWAS_URL`` if set (a mirror, or a test server), else
        ``https://api.opengwas.io/api``.
    cache_dir : str or Path, optional
        Where responses are cached (one JSON file per query). Default
        ``$XDG_CACHE_HOME/mrbook/opengwas`` or ``~/.cache/mrbook/opengwas``. It is
        created on the first write.
    token : None
        Must be None: the token is read from the environment variable
        ``OPENGWAS_JWT`` and from nowhere else, so that it never appears in a
        notebook parameter or an output. Passing a value is an error.
    timeout : float, default 60
        Seconds to wait for a connection or a response.
    max_retries : int, default 3
        Retries after HTTP 429 (rate limit), 5xx, a time-out or a dropped
        connection before giving up with one line.
    backoff : float, default 1
        Wait before the first retry when the server gives no ``Retry-After``;
        doubled at each further retry (never longer than ``max_wait``).
    max_wait : float, default 60
        Longest single wait. A ``Retry-After`` longer than this (OpenGWAS resets
        its allowance hourly) fails at once instead of blocking the run.
    offline : bool, default False
        Never use the network: answer from the cache or fail.

    Notes
    -----
    Cache key: ``sha256(json.dumps({"endpoint": ..., "params": ...},
    sort_keys=True))`` over the request body as sent (list parameters that are
    sets, such as study IDs and variants, are de-duplicated and sorted first, so
    their order does not matter). The base URL and the token are not part of it.
    A cache hit needs no network and no token.

    Examples
    --------
    >>> import tempfile
    >>> api = OpenGWAS(cache_dir=tempfile.mkdtemp(), offline=True)
    >>> api.cache_dir.name != ""
    True
    """

    def __init__(self, base_url: str | None = None, cache_dir: str | Path | None = None,
                 token: None = None, timeout: float = 60.0, max_retries: int = 3,
                 backoff: float = 1.0, max_wait: float = 60.0, offline: bool = False):
        if token is not None:
            raise ParameterError(f"the OpenGWAS token is read only from the environment "
                                 f"variable {TOKEN_ENV}; do not pass it as a parameter")
        if int(max_retries) < 0:
            raise ParameterError(f"max_retries must be >= 0, got {max_retries}")
        if not float(timeout) > 0:
            raise ParameterError(f"timeout must be > 0, got {timeout}")
        if base_url is None:
            base_url = os.environ.get(URL_ENV, "").strip() or DEFAULT_URL
        self.base_url = base_url.rstrip("/")
        self.cache_dir = Path(cache_dir) if cache_dir is not None else _default_cache_dir()
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.backoff = float(backoff)
        self.max_wait = float(max_wait)
        self.offline = bool(offline)
        self._sleep = time.sleep

    def __repr__(self) -> str:  # never shows a token: there is none on the object
        return (f"OpenGWAS(base_url={self.base_url!r}, cache_dir={str(self.cache_dir)!r}, "
                f"offline={self.offline})")

    # ------------------------------------------------------------------ endpoints

    def gwasinfo(self, ids: str | Iterable[str]) -> pd.DataFrame:
        """Metadata of GWAS studies.

        Parameters
        ----------
        ids : str or iterable of str
            OpenGWAS study IDs, e.g. ``"ebi-a-GCST90018862"``.

        Returns
        -------
        pandas.DataFrame
            One row per study found, columns as the API returns them with ``id``
            and ``trait`` first (typically also ``ncase``, ``ncontrol``,
            ``sample_size``, ``nsnp``, ``population``, ``author``, ``year``,
            ``pmid``, ``build``, ``unit``...).
        """
        body = {"id": _id_list(ids, "ids")}
        out = self._request("gwasinfo", body)
        if isinstance(out, dict):
            out = list(out.values()) if all(isinstance(v, dict) for v in out.values()) else [out]
        _check_records(out, "gwasinfo", ("id",))
        if not out:
            return pd.DataFrame({"id": _as_str(pd.Series([], dtype=object)),
                                 "trait": _as_str(pd.Series([], dtype=object))})
        df = pd.DataFrame.from_records(out)
        first = [c for c in ("id", "trait") if c in df.columns]
        return df[first + [c for c in df.columns if c not in first]]

    def tophits(self, id: str | Iterable[str], pval: float = 5e-8, clump: bool = True,
                r2: float = 0.001, kb: int = 10000, pop: str = "EUR",
                force_server: bool = False) -> pd.DataFrame:
        """Genome-wide significant hits of a study, clumped on the server.

        Parameters
        ----------
        id : str or iterable of str
            Study ID(s).
        pval : float, default 5e-8
            P-value threshold.
        clump : bool, default True
            Clump on the server with the 1000 Genomes reference of ``pop``.
        r2 : float, default 0.001
            Clumping r² threshold.
        kb : int, default 10000
            Clumping window in kb.
        pop : str, default "EUR"
            Reference super-population: EUR, SAS, EAS, AFR or AMR.
        force_server : bool, default False
            As in ieugwasr: with the default thresholds the server returns its
            pre-clumped hits unless this is True.

        Returns
        -------
        pandas.DataFrame
            The normalised columns of :func:`mrbook.data.readers.read_sumstats`
            (``ncase``/``ncontrol`` NaN: the API returns only ``n``), then
            ``id`` and ``trait``.
        """
        ids = _id_list(id, "id")
        preclumped = int(bool(clump) and r2 == 0.001 and kb == 10000 and pval == 5e-8
                         and not force_server)
        body = {"id": ids, "pval": float(pval), "preclumped": preclumped,
                "clump": int(bool(clump)), "r2": float(r2), "kb": int(kb), "pop": str(pop)}
        return _association_frame(self._request("tophits", body), proxies=False,
                                  endpoint="tophits")

    def associations(self, variants: str | Iterable[str], ids: str | Iterable[str],
                     proxies: bool = True, r2: float = 0.8, align_alleles: int = 1,
                     palindromes: int = 1, maf_threshold: float = 0.3) -> pd.DataFrame:
        """Associations of given variants in given studies, with LD proxies.

        Parameters
        ----------
        variants : str or iterable of str
            rsIDs (or ``chr:pos`` / ``chr:start-end`` ranges).
        ids : str or iterable of str
            Study IDs.
        proxies : bool, default True
            Look for an LD proxy (1000 Genomes EUR) when a variant is absent.
        r2 : float, default 0.8
            Minimum r² between target and proxy.
        align_alleles : int, default 1
            Align the proxy's alleles to the target's (1) or not (0).
        palindromes : int, default 1
            Allow palindromic proxies (1) or not (0).
        maf_threshold : float, default 0.3
            MAF above which palindromic proxies are not inferred.

        Returns
        -------
        pandas.DataFrame
            The normalised columns, then ``id`` and ``trait``; with
            ``proxies=True`` also ``proxy`` (bool), ``target_rsid`` (the variant
            asked for, also in ``rsid``), ``proxy_rsid`` (the variant whose
            association is reported), ``target_a1``, ``target_a2``,
            ``proxy_a1``, ``proxy_a2``. Rows without a proxy have ``proxy``
            False and NA in the others.

        Notes
        -----
        As ieugwasr's ``fix_n`` does, betas of the ``ukb-e`` batch are multiplied
        by -1 (their alleles are stored flipped). TwoSampleMR's later cleaning in
        ``format_d`` (dropping a second target that shares a proxy, inferring a
        missing SE from beta and p, SE <= 0 and EAF outside (0, 1) to NA) is left
        to the caller.
        """
        body = {"variant": _id_list(variants, "variants"), "id": _id_list(ids, "ids"),
                "proxies": int(bool(proxies)), "r2": float(r2),
                "align_alleles": int(align_alleles), "palindromes": int(palindromes),
                "maf_threshold": float(maf_threshold)}
        return _association_frame(self._request("associations", body), proxies=bool(proxies),
                                  endpoint="associations")

    def ld_clump(self, rsids: Sequence[str], pvals: Sequence[float], r2: float = 0.001,
                 kb: int = 10000, pop: str = "EUR", pthresh: float = 1.0) -> list[str]:
        """LD-clump variants on the server (PLINK's greedy clumping).

        Parameters
        ----------
        rsids : sequence of str
            Variants to clump.
        pvals : sequence of float
            Their p-values, in the same order.
        r2 : float, default 0.001
            Clumping r² threshold.
        kb : int, default 10000
            Clumping window in kb.
        pop : str, default "EUR"
            Reference super-population.
        pthresh : float, default 1.0
            Index-variant p threshold (TwoSampleMR's ``clump_p1``).

        Returns
        -------
        list of str
            The retained rsIDs, in the order given. Variants absent from the
            reference panel are dropped, as on the server.
        """
        rsids = [str(r) for r in rsids]
        pvals = [float(p) for p in pvals]
        if len(rsids) != len(pvals):
            raise ParameterError(f"ld_clump needs one p-value per rsID "
                                 f"({len(rsids)} rsIDs, {len(pvals)} p-values)")
        if not all(np.isfinite(p) and 0 <= p <= 1 for p in pvals):
            raise ParameterError("ld_clump: p-values must be finite numbers in [0, 1]")
        if len(set(rsids)) != len(rsids):
            raise ParameterError("ld_clump: rsIDs must be unique")
        pairs = sorted(zip(rsids, pvals))
        body = {"rsid": [r for r, _ in pairs], "pval": [p for _, p in pairs],
                "pthresh": float(pthresh), "r2": float(r2), "kb": int(kb), "pop": str(pop)}
        out = self._request("ld/clump", body)
        if out is None:
            out = []
        if not isinstance(out, list):
            raise OpenGWASError(f"unexpected answer from ld/clump: {str(out)[:120]}")
        kept = {str(r) for r in out}
        return [r for r in rsids if r in kept]

    # ------------------------------------------------------------------ cache and HTTP

    def cache_key(self, endpoint: str, params: dict) -> str:
        """Hex SHA-256 naming the cached response of one query (token-free)."""
        blob = json.dumps({"endpoint": endpoint, "params": params}, sort_keys=True,
                          separators=(",", ":"), allow_nan=True)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def _cache_path(self, endpoint: str, params: dict) -> Path:
        slug = endpoint.replace("/", "_")
        return self.cache_dir / f"{slug}-{self.cache_key(endpoint, params)}.json"

    def _request(self, endpoint: str, params: dict) -> Any:
        path = self._cache_path(endpoint, params)
        if path.is_file():
            try:
                return json.loads(path.read_text(encoding="utf-8"))["response"]
            except (OSError, ValueError, KeyError):
                pass  # unreadable cache entry: fetch again and overwrite it
        if self.offline:
            raise OpenGWASError(f"{endpoint}: not in the cache {self.cache_dir} and the client "
                                "is offline; re-run online once or use local files")
        token = os.environ.get(TOKEN_ENV, "").strip()
        if not token:
            raise OpenGWASError(
                f"set {TOKEN_ENV} to your OpenGWAS token (get one at "
                f"https://api.opengwas.io/profile/) to query {endpoint}; or re-run with a "
                "cache that holds this query, or use local files")
        response = _redact(self._fetch(endpoint, params, token), token)
        self._write_cache(path, endpoint, params, response)
        return response

    def _write_cache(self, path: Path, endpoint: str, params: dict, response: Any) -> None:
        record = {"endpoint": endpoint, "params": params,
                  "fetched_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  "response": response}
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.cache_dir, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(record, fh)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _fetch(self, endpoint: str, params: dict, token: str) -> Any:
        """POST with bounded retries: 429 (after ``Retry-After``), 5xx, time-outs and
        dropped connections (after ``backoff``, doubling); 401/403 and other HTTP errors at
        once. Every message is one line and never holds the token."""
        url = f"{self.base_url}/{endpoint}"
        data = json.dumps(params).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   "Authorization": f"Bearer {token}", "X-Api-Source": "mrbook"}
        attempt = 0
        while True:
            request = urllib.request.Request(url, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                    body = resp.read()
            except urllib.error.HTTPError as exc:
                status = exc.code
                try:
                    detail = _one_line(exc.read() if exc.fp is not None else b"", token)
                except (OSError, http.client.HTTPException):
                    detail = ""
                if status in (401, 403):
                    raise OpenGWASError(
                        f"{endpoint}: OpenGWAS refused the token (HTTP {status}): it is "
                        f"expired or invalid; get a new one at https://api.opengwas.io/profile/ "
                        f"and set {TOKEN_ENV}") from None
                if status == 429 or 500 <= status < 600:
                    wait = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
                    if wait is None:
                        wait = self.backoff * (2 ** attempt)
                    if attempt >= self.max_retries or wait > self.max_wait:
                        what = ("rate limit reached (HTTP 429)" if status == 429
                                else f"server error (HTTP {status})")
                        raise OpenGWASError(
                            f"{endpoint}: {what} after {attempt + 1} attempt(s); the server asks "
                            f"to wait {wait:g} s; re-run later, with a cache, or use local files"
                            + (f" ({detail})" if detail else "")) from None
                    attempt += 1
                    self._sleep(max(0.0, min(wait, self.max_wait)))
                    continue
                raise OpenGWASError(f"{endpoint}: HTTP {status} from {self.base_url}"
                                    + (f": {detail}" if detail else "")) from None
            except (urllib.error.URLError, TimeoutError, socket.timeout, ConnectionError,
                    http.client.HTTPException, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                if attempt < self.max_retries:
                    attempt += 1
                    self._sleep(min(self.backoff * (2 ** (attempt - 1)), self.max_wait))
                    continue
                what = ("timed out" if isinstance(reason, (TimeoutError, socket.timeout))
                        or "timed out" in str(reason) else _one_line(str(reason).encode(), token)
                        or type(reason).__name__)
                raise OpenGWASError(
                    f"cannot reach {self.base_url} ({what}) after {attempt + 1} attempt(s); "
                    "try again later, or re-run with a cache or use local files") from None
            try:
                return json.loads(body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                raise OpenGWASError(f"{endpoint}: the server's answer is not JSON: "
                                    f"{_one_line(body, token)}") from None


# --------------------------------------------------------------------------- helpers


def _id_list(values: str | Iterable[str], what: str) -> list[str]:
    if isinstance(values, str):
        values = [values]
    out = sorted({str(v).strip() for v in values if v is not None and str(v).strip()})
    if not out:
        raise ParameterError(f"{what}: give at least one value")
    return out


def _one_line(raw: bytes, token: str | None = None) -> str:
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
    if token:
        text = text.replace(token, "<token>")
    text = " ".join(text.split())
    return text[:200]


def _redact(response: Any, token: str) -> Any:
    """The server's answer with any echo of the token replaced (it is cached on disk)."""
    if not token:
        return response
    text = json.dumps(response)
    if token not in text:
        return response
    return json.loads(text.replace(token, "<token>"))


def _check_records(records: Any, endpoint: str, required: tuple[str, ...]) -> None:
    """A list of flat JSON objects with the ``required`` fields, else one OpenGWASError."""
    if not isinstance(records, list):
        raise OpenGWASError(f"{endpoint}: unexpected answer (expected a list of records): "
                            f"{_one_line(json.dumps(records))}")
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise OpenGWASError(f"{endpoint}: unexpected answer: record {i + 1} is not a JSON "
                                f"object: {_one_line(json.dumps(rec))}")
        lacking = [k for k in required if k not in rec]
        if lacking:
            raise OpenGWASError(f"{endpoint}: unexpected answer: record {i + 1} lacks "
                                f"{', '.join(lacking)}: {_one_line(json.dumps(rec))}")
        nested = [k for k, v in rec.items() if isinstance(v, (dict, list))]
        if nested:
            raise OpenGWASError(f"{endpoint}: unexpected answer: record {i + 1} field "
                                f"{nested[0]!r} is not a number or text: "
                                f"{_one_line(json.dumps(rec[nested[0]]))}")


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _numbers(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df.columns:
        return pd.Series(np.nan, index=df.index, dtype="float64")
    return pd.to_numeric(df[col], errors="coerce").astype("float64")


def _strings(df: pd.DataFrame, col: str, upper: bool = False) -> pd.Series:
    if col not in df.columns:
        return _as_str(pd.Series(None, index=df.index, dtype=object))
    def clean(v: Any) -> str | None:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return None
        text = str(v).strip()
        return (text.upper() if upper else text) or None

    return _as_str(pd.Series([clean(v) for v in df[col]], index=df.index, dtype=object))


def _association_frame(records: Any, proxies: bool, endpoint: str = "associations") -> pd.DataFrame:
    """API association rows -> the normalised table (+ id, trait, proxy columns)."""
    if isinstance(records, dict):
        records = [records] if records else []
    if records is None:
        records = []
    _check_records(records, endpoint, ("rsid", "beta", "se"))
    raw = pd.DataFrame.from_records(records)
    out = pd.DataFrame(index=raw.index)
    out["rsid"] = _strings(raw, "rsid")
    chr_ = _strings(raw, "chr")
    out["chr"] = _as_str(chr_.map(lambda v: v if pd.isna(v) else _chr_label(v, _CHR_CODES)))
    out["pos"] = _numbers(raw, "position").round().astype("Int64")
    out["effect_allele"] = _strings(raw, "ea", upper=True)
    out["other_allele"] = _strings(raw, "nea", upper=True)
    for col in ("eaf", "beta", "se", "p", "n", "ncase", "ncontrol"):
        out[col] = _numbers(raw, col)
    out["id"] = _strings(raw, "id")
    out["trait"] = _strings(raw, "trait")
    flip = out["id"].fillna("").str.contains("ukb-e", regex=False).to_numpy()
    out.loc[flip, "beta"] = -out.loc[flip, "beta"]
    if proxies:
        flag = raw["proxy"] if "proxy" in raw.columns else pd.Series(False, index=raw.index)
        out["proxy"] = flag.map(lambda v: str(v).lower() in ("true", "1")).astype(bool)
        for dst, src, up in (("target_rsid", "target_snp", False), ("proxy_rsid", "proxy_snp", False),
                             ("target_a1", "target_a1", True), ("target_a2", "target_a2", True),
                             ("proxy_a1", "proxy_a1", True), ("proxy_a2", "proxy_a2", True)):
            out[dst] = _strings(raw, src, upper=up)
    assert tuple(out.columns[: len(COLUMNS)]) == COLUMNS
    return out.reset_index(drop=True)
