"""``--scheduler tls://`` with certificates (issue 17, item 13), against a real Dask LocalCluster with TLS.

The certificates are made in the test with the ``openssl`` command: a
cluster CA signing the scheduler's, the workers' and this client's
certificates, and a second, unrelated CA.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")
from distributed.security import Security  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VIDEO = ROOT / "sample_videos" / "control.mp4"

if subprocess.run(["which", "openssl"], capture_output=True).returncode != 0:
    pytest.skip("needs the openssl command to make certificates", allow_module_level=True)


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _ca(folder: Path, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
             "-subj", f"/CN={name}", "-keyout", f"{name}.key", "-out", f"{name}.pem", cwd=folder)


def _signed(folder: Path, name: str, ca: str) -> None:
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", f"/CN={name}",
             "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=folder)
    (folder / f"{name}.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial",
             "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=folder)


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("certs")
    _ca(folder, "cluster-ca")
    _ca(folder, "other-ca")
    for name in ("node", "client"):
        _signed(folder, name, "cluster-ca")
    _signed(folder, "stranger", "other-ca")
    return folder


@pytest.fixture(scope="module")
def tls_cluster(certs):
    c = certs
    security = Security(tls_ca_file=str(c / "cluster-ca.pem"), require_encryption=True,
                        tls_scheduler_cert=str(c / "node.pem"), tls_scheduler_key=str(c / "node.key"),
                        tls_worker_cert=str(c / "node.pem"), tls_worker_key=str(c / "node.key"),
                        tls_client_cert=str(c / "client.pem"), tls_client_key=str(c / "client.key"))
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  protocol="tls", security=security, dashboard_address=":0") as cluster:
        assert cluster.scheduler_address.startswith("tls://127.0.0.1:")
        yield cluster.scheduler_address


def _batch(out: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "synkan.cli", "batch", str(VIDEO), "-o", str(out), "--laterality",
                           "plain", "--no-figures", *map(str, args)], capture_output=True, text=True, timeout=300)


def _one_line(res: subprocess.CompletedProcess) -> str:
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1 and lines[0].startswith("synkan: error: "), res.stderr
    return lines[0]


@pytest.mark.slow
def test_batch_runs_on_a_tls_cluster(tls_cluster, certs, tmp_path, model_path):
    res = _batch(tmp_path / "out", "--scheduler", tls_cluster, "--tls-ca", certs / "cluster-ca.pem",
                 "--tls-cert", certs / "client.pem", "--tls-key", certs / "client.key")
    assert res.returncode == 0, res.stderr
    import synkan

    summary = synkan.read_summary(tmp_path / "out")
    assert list(summary["status"]) == ["ok"] and summary["oral_ocular_asymmetry_pp"].notna().all()


@pytest.mark.parametrize("ca, cert, expected", [
    ("other-ca", "client", "its certificate is not trusted"),   # we do not trust the scheduler
    ("cluster-ca", "stranger", "TLS handshake failed"),          # the scheduler does not trust us
])
def test_wrong_certificates_fail_in_one_line(tls_cluster, certs, tmp_path, ca, cert, expected):
    t0 = time.monotonic()
    line = _one_line(_batch(tmp_path / "out", "--scheduler", tls_cluster, "--tls-ca", certs / f"{ca}.pem",
                            "--tls-cert", certs / f"{cert}.pem", "--tls-key", certs / f"{cert}.key"))
    assert expected in line and f"Dask scheduler at {tls_cluster}" in line
    assert time.monotonic() - t0 < 60 and not (tmp_path / "out").exists()


def test_tls_without_certificates_and_tls_options_without_tls(tls_cluster, certs, tmp_path):
    assert "needs --tls-ca CA.pem and --tls-cert CERT.pem" in _one_line(_batch(tmp_path / "o", "--scheduler", tls_cluster))
    tcp = tls_cluster.replace("tls://", "tcp://")
    assert "--tls-ca needs a tls:// scheduler" in _one_line(
        _batch(tmp_path / "o", "--scheduler", tcp, "--tls-ca", certs / "cluster-ca.pem"))
    assert "--tls-cert needs --scheduler tls://" in _one_line(_batch(tmp_path / "o", "--tls-cert", certs / "client.pem"))
    assert "--tls-ca " + str(tmp_path / "nope.pem") + ": no such file" in _one_line(
        _batch(tmp_path / "o", "--scheduler", tls_cluster, "--tls-ca", tmp_path / "nope.pem", "--tls-cert",
               certs / "client.pem"))
    assert not (tmp_path / "o").exists()
