"""HTTPS to the real local Triton through a TLS-terminating proxy whose CA the test makes: --ca-cert (and
TRITONCTL_CA_CERT) on the management requests and on inference; without it the certificate is refused."""

from __future__ import annotations

import json

import pytest

from tls_proxy import TlsProxy

pytestmark = pytest.mark.triton


@pytest.fixture
def tls(local_triton, tmp_path):
    proxy = TlsProxy(local_triton["state"].http_port, tmp_path / "pki")
    yield proxy
    proxy.stop()


def test_a_private_ca_is_trusted_with_ca_cert(cli, local_triton, tls):
    shown = cli("status", "--url", tls.url, "--ca-cert", str(tls.ca_pem), "-r", str(local_triton["repo"]), "-f",
                "json")
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout)["url"] == tls.url
    by_env = cli("infer", "text_recognition", "--url", tls.url, env={"TRITONCTL_CA_CERT": str(tls.ca_pem)})
    assert by_env.exit_code == 0, by_env.stderr  # inference (tritonclient) checks the same CA
    refused = cli("status", "--url", tls.url, "-r", str(local_triton["repo"]))
    assert refused.exit_code == 3
    assert refused.stderr.startswith(f"error: TLS with {tls.url} failed (CERTIFICATE_VERIFY_FAILED)"), refused.stderr
    missing = cli("status", "--url", tls.url, "--ca-cert", str(tls.ca_pem) + ".nope")
    assert missing.exit_code == 3 and "cannot use the CA certificate" in missing.stderr
