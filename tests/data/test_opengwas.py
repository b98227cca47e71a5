"""OpenGWAS client against a local HTTP server speaking the API's endpoints and JSON.

The JSON shapes are those ieugwasr parses (R/query.R, R/ld_clump.R) and TwoSampleMR's
format_d reads: association rows with rsid, chr, position, ea, nea, eaf, beta, se, p, n,
id, trait, and with proxies also proxy, target_snp, proxy_snp, target_a1/a2, proxy_a1/a2.
Everything binds to 127.0.0.1 with an ephemeral port and short timeouts.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from mrbook.errors import MRBookError, ParameterError
from mrbook.data.opengwas import PROXY_COLUMNS, OpenGWAS, OpenGWASError
from mrbook.data.readers import COLUMNS, to_tsmr

TOKEN = "eyJ-test-token-0123456789-SECRET"

GWASINFO = [{"id": "finn-b-M13_OSTEOPOROSIS", "trait": "Osteoporosis", "ncase": 3203,
             "ncontrol": 209575, "sample_size": 212778, "population": "European",
             "build": "HG19/GRCh37"}]
TOPHITS = [
    {"id": "ebi-a-GCST90018862", "trait": "Hypothyroidism", "rsid": "rs3184504",
     "chr": "12", "position": 111884608, "ea": "t", "nea": "c", "eaf": "0.47",
     "beta": 0.12, "se": 0.008, "p": 1.2e-50, "n": 410141},
    {"id": "ebi-a-GCST90018862", "trait": "Hypothyroidism", "rsid": "rs2476601",
     "chr": "1", "position": 114377568, "ea": "A", "nea": "G", "eaf": None,
     "beta": 0.3, "se": 0.01, "p": 0, "n": "410141"},
]
ASSOC_PROXY = [
    {"id": "finn-b-M13_OSTEOPOROSIS", "trait": "Osteoporosis", "rsid": "rs3184504",
     "chr": "12", "position": 111884608, "ea": "T", "nea": "C", "eaf": 0.45,
     "beta": 0.02, "se": 0.03, "p": 0.5, "n": 212778, "proxy": False,
     "target_snp": None, "proxy_snp": None, "target_a1": None, "target_a2": None,
     "proxy_a1": None, "proxy_a2": None},
    {"id": "finn-b-M13_OSTEOPOROSIS", "trait": "Osteoporosis", "rsid": "rs2476601",
     "chr": "1", "position": 114377568, "ea": "A", "nea": "G", "eaf": 0.09,
     "beta": -0.05, "se": 0.04, "p": 0.2, "n": 212778, "proxy": True,
     "target_snp": "rs2476601", "proxy_snp": "rs6679677", "target_a1": "A",
     "target_a2": "G", "proxy_a1": "a", "proxy_a2": "c"},
]


class FakeAPI:
    """A tiny OpenGWAS look-alike. ``mode`` scripts the next answers."""

    def __init__(self):
        self.mode = "ok"
        self.requests: list[dict] = []
        self.fail_429 = 0
        self.retry_after = "0"
        #: scripted answers, used first and in order: ("send", status, body bytes, headers),
        #: ("hang", seconds) (answer after the client's time-out), ("close",) (no answer)
        self.script: list[tuple] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                api.requests.append({"path": self.path, "body": body,
                                     "auth": self.headers.get("Authorization")})
                if api.script:
                    step = api.script.pop(0)
                    if step[0] == "send":
                        return self._send(step[1], None, step[3] if len(step) > 3 else None,
                                          raw=step[2])
                    if step[0] == "hang":
                        time.sleep(step[1])
                        return None
                    if step[0] == "close":
                        self.close_connection = True
                        return None
                if api.mode == "401":
                    return self._send(401, {"message": "token expired"})
                if api.mode == "429" or (api.mode == "429-then-ok" and api.fail_429 > 0):
                    api.fail_429 -= 1
                    return self._send(429, {"message": "allowance used"}, {"Retry-After": api.retry_after})
                if api.mode == "500":
                    return self._send(500, {"message": "boom"})
                if api.mode == "html":
                    return self._send(200, None, raw=b"<html>maintenance</html>")
                route = self.path.rsplit("/api/", 1)[-1]
                if route == "gwasinfo":
                    return self._send(200, [r for r in GWASINFO if r["id"] in body["id"]])
                if route == "tophits":
                    return self._send(200, TOPHITS)
                if route == "associations":
                    rows = ASSOC_PROXY if body.get("proxies") else ASSOC_PROXY[:1]
                    return self._send(200, [r for r in rows if r["rsid"] in body["variant"]])
                if route == "ld/clump":
                    return self._send(200, [r for r, p in zip(body["rsid"], body["pval"])
                                            if p < 1e-10])
                return self._send(404, {"message": "no such endpoint"})

            def _send(self, status, payload, headers=None, raw=None):
                data = raw if raw is not None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def api_server():
    server = FakeAPI()
    yield server
    server.stop()


@pytest.fixture
def token(monkeypatch):
    monkeypatch.setenv("OPENGWAS_JWT", TOKEN)
    return TOKEN


def _client(url: str, cache: Path, **kw) -> OpenGWAS:
    kw.setdefault("timeout", 5)
    kw.setdefault("backoff", 0.01)
    return OpenGWAS(base_url=url, cache_dir=cache, **kw)


def _assert_token_absent(cache: Path) -> None:
    files = [p for p in cache.rglob("*") if p.is_file()]
    assert files, "nothing was cached"
    for p in files:
        assert TOKEN not in p.name
        assert TOKEN.encode() not in p.read_bytes()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- success


def test_tophits_success_and_request_shape(api_server, token, tmp_path):
    client = _client(api_server.url, tmp_path)
    hits = client.tophits("ebi-a-GCST90018862")
    assert tuple(hits.columns[: len(COLUMNS)]) == COLUMNS
    assert list(hits.columns[len(COLUMNS):]) == ["id", "trait"]
    assert hits["rsid"].tolist() == ["rs3184504", "rs2476601"]
    assert hits["effect_allele"].tolist() == ["T", "A"]  # upper-cased
    assert hits["pos"].tolist() == [111884608, 114377568]
    assert str(hits["pos"].dtype) == "Int64"
    assert hits["eaf"].iloc[0] == 0.47 and pd.isna(hits["eaf"].iloc[1])
    assert hits["n"].tolist() == [410141.0, 410141.0]
    assert hits["p"].iloc[1] == 0.0  # kept; effective_p handles it
    sent = api_server.requests[-1]
    assert sent["path"] == "/api/tophits"
    assert sent["auth"] == f"Bearer {TOKEN}"
    assert sent["body"] == {"id": ["ebi-a-GCST90018862"], "pval": 5e-8, "preclumped": 1,
                            "clump": 1, "r2": 0.001, "kb": 10000, "pop": "EUR"}
    client.tophits("ebi-a-GCST90018862", r2=0.01)
    assert api_server.requests[-1]["body"]["preclumped"] == 0
    _assert_token_absent(tmp_path)


def test_gwasinfo(api_server, token, tmp_path):
    info = _client(api_server.url, tmp_path).gwasinfo(["finn-b-M13_OSTEOPOROSIS", "nope"])
    assert list(info.columns[:2]) == ["id", "trait"]
    assert info.loc[0, "ncase"] + info.loc[0, "ncontrol"] == 212778
    assert api_server.requests[-1]["body"] == {"id": ["finn-b-M13_OSTEOPOROSIS", "nope"]}


def test_associations_with_proxies(api_server, token, tmp_path):
    client = _client(api_server.url, tmp_path)
    out = client.associations(["rs2476601", "rs3184504"], "finn-b-M13_OSTEOPOROSIS")
    assert list(out.columns) == list(COLUMNS) + ["id", "trait"] + list(PROXY_COLUMNS)
    body = api_server.requests[-1]["body"]
    assert body == {"variant": ["rs2476601", "rs3184504"], "id": ["finn-b-M13_OSTEOPOROSIS"],
                    "proxies": 1, "r2": 0.8, "align_alleles": 1, "palindromes": 1,
                    "maf_threshold": 0.3}
    proxied = out[out["proxy"]].iloc[0]
    assert proxied["rsid"] == proxied["target_rsid"] == "rs2476601"
    assert proxied["proxy_rsid"] == "rs6679677"
    assert (proxied["proxy_a1"], proxied["proxy_a2"]) == ("A", "C")
    direct = out[~out["proxy"]].iloc[0]
    assert pd.isna(direct["proxy_rsid"]) and pd.isna(direct["target_rsid"])
    tsmr = to_tsmr(out, "outcome")
    assert tsmr["id.outcome"].tolist() == ["finn-b-M13_OSTEOPOROSIS"] * 2
    assert tsmr["proxy_snp.outcome"].tolist()[1] == "rs6679677"
    no_proxy = client.associations(["rs2476601", "rs3184504"], "finn-b-M13_OSTEOPOROSIS",
                                   proxies=False)
    assert "proxy" not in no_proxy.columns and len(no_proxy) == 1


def test_ld_clump(api_server, token, tmp_path):
    client = _client(api_server.url, tmp_path)
    kept = client.ld_clump(["rs3", "rs1", "rs2"], [1e-20, 0.5, 1e-12], r2=0.01, kb=10000)
    assert kept == ["rs3", "rs2"]  # input order
    body = api_server.requests[-1]["body"]
    assert body["rsid"] == ["rs1", "rs2", "rs3"] and body["pval"] == [0.5, 1e-12, 1e-20]
    assert (body["r2"], body["kb"], body["pop"], body["pthresh"]) == (0.01, 10000, "EUR", 1.0)
    with pytest.raises(ParameterError):
        client.ld_clump(["rs1"], [0.1, 0.2])


def test_ukb_e_betas_are_flipped_as_in_ieugwasr(api_server, token, tmp_path, monkeypatch):
    rows = [dict(TOPHITS[0], id="ukb-e-123_CSA")]
    monkeypatch.setattr(f"{__name__}.TOPHITS", rows)
    hits = _client(api_server.url, tmp_path).tophits("ukb-e-123_CSA")
    assert hits["beta"].item() == -0.12


# --------------------------------------------------------------------------- failures


def test_missing_token(api_server, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENGWAS_JWT", raising=False)
    with pytest.raises(OpenGWASError) as err:
        _client(api_server.url, tmp_path).tophits("ebi-a-GCST90018862")
    assert "set OPENGWAS_JWT" in str(err.value) and "\n" not in str(err.value)
    assert api_server.requests == []  # nothing was sent
    assert isinstance(err.value, MRBookError)


def test_token_is_never_a_parameter(tmp_path):
    with pytest.raises(ParameterError, match="OPENGWAS_JWT"):
        OpenGWAS(cache_dir=tmp_path, token=TOKEN)


def test_401_is_an_expired_or_invalid_token(api_server, token, tmp_path):
    api_server.mode = "401"
    with pytest.raises(OpenGWASError) as err:
        _client(api_server.url, tmp_path).tophits("ebi-a-GCST90018862")
    msg = str(err.value)
    assert "HTTP 401" in msg and "expired or invalid" in msg and TOKEN not in msg
    assert len(api_server.requests) == 1  # not retried
    assert not any(tmp_path.iterdir())  # nothing cached


def test_429_then_success_is_retried(api_server, token, tmp_path):
    api_server.mode, api_server.fail_429 = "429-then-ok", 2
    client = _client(api_server.url, tmp_path, max_retries=3)
    waits: list[float] = []
    client._sleep = waits.append
    hits = client.tophits("ebi-a-GCST90018862")
    assert len(hits) == 2
    assert len(api_server.requests) == 3
    assert waits == [0.0, 0.0]  # Retry-After: 0 honoured


def test_429_forever_gives_up(api_server, token, tmp_path):
    api_server.mode = "429"
    client = _client(api_server.url, tmp_path, max_retries=2)
    with pytest.raises(OpenGWASError) as err:
        client.tophits("ebi-a-GCST90018862")
    assert "HTTP 429" in str(err.value) and "3 attempt(s)" in str(err.value)
    assert len(api_server.requests) == 3
    assert not any(tmp_path.iterdir())


def test_long_retry_after_fails_at_once(api_server, token, tmp_path):
    api_server.mode, api_server.retry_after = "429", "3600"
    client = _client(api_server.url, tmp_path, max_retries=5, max_wait=5)
    client._sleep = lambda s: pytest.fail("must not wait an hour")
    with pytest.raises(OpenGWASError, match="wait 3600 s"):
        client.tophits("ebi-a-GCST90018862")
    assert len(api_server.requests) == 1


def test_retry_after_header_forms():
    from mrbook.data.opengwas import _retry_after

    assert _retry_after("3600") == 3600.0
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past
    assert _retry_after("soon") is None and _retry_after(None) is None


def test_server_error_then_give_up(api_server, token, tmp_path):
    api_server.mode = "500"
    with pytest.raises(OpenGWASError, match="HTTP 500"):
        _client(api_server.url, tmp_path, max_retries=1).tophits("x")
    assert len(api_server.requests) == 2


def test_non_json_answer(api_server, token, tmp_path):
    api_server.mode = "html"
    with pytest.raises(OpenGWASError, match="not JSON"):
        _client(api_server.url, tmp_path).gwasinfo("x")


def test_server_down(token, tmp_path):
    url = f"http://127.0.0.1:{_free_port()}/api"
    with pytest.raises(OpenGWASError) as err:
        _client(url, tmp_path).tophits("ebi-a-GCST90018862")
    msg = str(err.value)
    assert msg.startswith(f"cannot reach {url}") and "re-run with a cache or use local files" in msg
    assert "\n" not in msg and TOKEN not in msg


def test_server_that_never_answers_times_out(token, tmp_path):
    with socket.socket() as listener:  # accepts connections, never replies
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/api"
        with pytest.raises(OpenGWASError, match="cannot reach"):
            _client(url, tmp_path, timeout=0.3).tophits("x")


# --------------------------------------------------------------------------- cache


def test_cache_hit_needs_neither_server_nor_token(api_server, token, tmp_path, monkeypatch):
    client = _client(api_server.url, tmp_path)
    first = client.associations(["rs3184504", "rs2476601"], "finn-b-M13_OSTEOPOROSIS")
    info = client.gwasinfo("finn-b-M13_OSTEOPOROSIS")
    clumped = client.ld_clump(["rs1", "rs2"], [1e-30, 1e-3])
    n_requests = len(api_server.requests)
    api_server.stop()
    monkeypatch.delenv("OPENGWAS_JWT")
    again = OpenGWAS(base_url=api_server.url, cache_dir=tmp_path, timeout=1)
    # same query, variants in another order: the same cache entry
    pd.testing.assert_frame_equal(
        again.associations(["rs2476601", "rs3184504"], ["finn-b-M13_OSTEOPOROSIS"]), first)
    pd.testing.assert_frame_equal(again.gwasinfo(["finn-b-M13_OSTEOPOROSIS"]), info)
    assert again.ld_clump(["rs2", "rs1"], [1e-3, 1e-30]) == ["rs1"] == clumped
    offline = OpenGWAS(cache_dir=tmp_path, offline=True)
    pd.testing.assert_frame_equal(
        offline.associations(["rs3184504", "rs2476601"], "finn-b-M13_OSTEOPOROSIS"), first)
    with pytest.raises(OpenGWASError, match="offline"):
        offline.tophits("ebi-a-GCST90018862")
    assert len(api_server.requests) == n_requests
    _assert_token_absent(tmp_path)
    cached = json.loads(next(tmp_path.glob("associations-*.json")).read_text())
    assert set(cached) == {"endpoint", "params", "fetched_utc", "response"}


def test_cache_key_ignores_token_and_url(tmp_path, monkeypatch):
    a = OpenGWAS(base_url="http://a/api", cache_dir=tmp_path)
    b = OpenGWAS(base_url="http://b/api", cache_dir=tmp_path)
    params = {"id": ["x"], "pval": 5e-8}
    monkeypatch.setenv("OPENGWAS_JWT", TOKEN)
    key = a.cache_key("tophits", params)
    monkeypatch.setenv("OPENGWAS_JWT", "other")
    assert key == b.cache_key("tophits", dict(reversed(list(params.items()))))
    assert key != a.cache_key("tophits", {"id": ["x"], "pval": 1e-8})
    assert TOKEN not in repr(a)


def test_corrupt_cache_entry_is_refetched(api_server, token, tmp_path):
    client = _client(api_server.url, tmp_path)
    client.gwasinfo("finn-b-M13_OSTEOPOROSIS")
    entry = next(tmp_path.glob("gwasinfo-*.json"))
    entry.write_text("{not json")
    info = client.gwasinfo("finn-b-M13_OSTEOPOROSIS")
    assert info.loc[0, "trait"] == "Osteoporosis"
    assert len(api_server.requests) == 2


# --------------------------------------------------------------------------- faults (issue 9)
#
# Each fault ends either in a result (after bounded retries) or in one OpenGWASError line
# that says what to do; the token appears in no message, cache file or table.


def _assert_clean_error(err, *words):
    msg = str(err.value)
    assert "\n" not in msg and TOKEN not in msg, msg
    for w in words:
        assert w in msg, (w, msg)
    assert isinstance(err.value, MRBookError)


@pytest.mark.parametrize("status", [401, 403])
def test_refused_token_says_where_to_get_one(api_server, token, tmp_path, status):
    api_server.script = [("send", status, b'{"message": "bad token"}')]
    with pytest.raises(OpenGWASError) as err:
        _client(api_server.url, tmp_path).tophits("ebi-a-GCST90018862")
    _assert_clean_error(err, f"HTTP {status}", "https://api.opengwas.io/profile/", "OPENGWAS_JWT")
    assert len(api_server.requests) == 1 and not any(tmp_path.iterdir())


def test_server_errors_are_retried_with_doubling_backoff(api_server, token, tmp_path):
    api_server.script = [("send", 503, b"busy"), ("send", 502, b"gateway")]
    client = _client(api_server.url, tmp_path, max_retries=3, backoff=0.01)
    waits: list[float] = []
    client._sleep = waits.append
    assert len(client.tophits("ebi-a-GCST90018862")) == 2
    assert waits == [0.01, 0.02] and len(api_server.requests) == 3


def test_server_errors_give_up_after_the_retries(api_server, token, tmp_path):
    api_server.script = [("send", 504, b"timeout upstream")] * 3
    client = _client(api_server.url, tmp_path, max_retries=2, backoff=0.01)
    client._sleep = lambda s: None
    with pytest.raises(OpenGWASError) as err:
        client.tophits("ebi-a-GCST90018862")
    _assert_clean_error(err, "server error (HTTP 504)", "3 attempt(s)", "re-run later")
    assert len(api_server.requests) == 3 and not any(tmp_path.iterdir())


def test_429_retry_after_is_waited_then_retried(api_server, token, tmp_path):
    api_server.script = [("send", 429, b"slow down", {"Retry-After": "2"})]
    client = _client(api_server.url, tmp_path, max_wait=5)
    waits: list[float] = []
    client._sleep = waits.append
    assert len(client.tophits("ebi-a-GCST90018862")) == 2
    assert waits == [2.0]


def test_a_time_out_is_retried_then_succeeds(api_server, token, tmp_path):
    api_server.script = [("hang", 0.6)]
    client = _client(api_server.url, tmp_path, timeout=0.3, max_retries=2, backoff=0.01)
    waits: list[float] = []
    client._sleep = waits.append
    assert len(client.tophits("ebi-a-GCST90018862")) == 2
    assert waits == [0.01]


def test_time_outs_give_up_after_bounded_retries(api_server, token, tmp_path):
    api_server.script = [("hang", 0.5)] * 3
    client = _client(api_server.url, tmp_path, timeout=0.2, max_retries=2, backoff=0.01)
    waits: list[float] = []
    client._sleep = waits.append
    with pytest.raises(OpenGWASError) as err:
        client.tophits("ebi-a-GCST90018862")
    _assert_clean_error(err, "cannot reach", "timed out", "3 attempt(s)")
    assert waits == [0.01, 0.02] and not any(tmp_path.iterdir())


def test_a_dropped_connection_is_retried(api_server, token, tmp_path):
    api_server.script = [("close",)]
    client = _client(api_server.url, tmp_path, max_retries=1, backoff=0.01)
    client._sleep = lambda s: None
    assert len(client.tophits("ebi-a-GCST90018862")) == 2
    assert len(api_server.requests) == 2


@pytest.mark.parametrize("body, words", [
    (b'[{"rsid": "rs1", "beta": 0.1', ["not JSON"]),                       # cut off
    (b"\xff\xfe\x00garbage", ["not JSON"]),                                 # binary
    (b"[1, 2, 3]", ["record 1 is not a JSON object"]),
    (b'{"message": "maintenance"}', ["record 1 lacks rsid, beta, se"]),
    (b'"just text"', ["expected a list of records"]),
    (b'[{"rsid": "rs1", "beta": {"x": 1}, "se": 0.1}]', ["field 'beta' is not a number"]),
])
def test_malformed_answers_are_one_line_errors(api_server, token, tmp_path, body, words):
    api_server.script = [("send", 200, body)]
    with pytest.raises(OpenGWASError) as err:
        _client(api_server.url, tmp_path).tophits("ebi-a-GCST90018862")
    _assert_clean_error(err, "tophits", *words)


def test_malformed_gwasinfo_answer(api_server, token, tmp_path):
    api_server.script = [("send", 200, b'[["finn-b-X"]]')]
    with pytest.raises(OpenGWASError) as err:
        _client(api_server.url, tmp_path).gwasinfo("finn-b-X")
    _assert_clean_error(err, "gwasinfo", "not a JSON object")


def test_a_token_echoed_by_the_server_is_never_shown_cached_or_written(api_server, token,
                                                                      tmp_path):
    api_server.script = [("send", 400, f"bad request for Bearer {TOKEN}".encode())]
    with pytest.raises(OpenGWASError) as err:
        _client(api_server.url, tmp_path).tophits("ebi-a-GCST90018862")
    _assert_clean_error(err, "HTTP 400", "<token>")
    rows = [dict(TOPHITS[0], trait=f"echo {TOKEN}")]
    api_server.script = [("send", 200, json.dumps(rows).encode())]
    hits = _client(api_server.url, tmp_path).tophits("ebi-a-GCST90018862")
    assert hits["trait"].tolist() == ["echo <token>"]
    assert TOKEN not in hits.to_csv() and TOKEN not in to_tsmr(hits, "exposure").to_csv()
    _assert_token_absent(tmp_path)


def test_cli_reports_an_opengwas_fault_in_one_line_and_writes_nothing(api_server, token,
                                                                      tmp_path, monkeypatch):
    from mrbook.cli.main import main

    monkeypatch.setenv("MRBOOK_OPENGWAS_URL", api_server.url)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    out = tmp_path / "run"
    for script, words in ([("send", 401, b"{}")], ["HTTP 401", "api.opengwas.io/profile"]), \
                         ([("send", 200, b"<html>")], ["not JSON"]):
        api_server.script = list(script)
        import io
        import contextlib

        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main(["instruments", "--exposure", "ebi-a-GCST90018862", "--outcome",
                         "demo:osteoporosis", "--out", str(out)])
        text = err.getvalue()
        assert code == 2 and text.count("\n") == 1 and "Traceback" not in text, text
        assert TOKEN not in text and all(w in text for w in words), text
        assert not out.exists()
