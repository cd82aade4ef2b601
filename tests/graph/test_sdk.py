"""Building the SDK client: the Graph host kiota may send tokens to, TLS verification."""

from __future__ import annotations

import ssl
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from credly_connector.graph.sdk import graph_host, ssl_verify
from devstack.standin import TlsIdentity


def test_graph_host_is_the_base_urls_host_name() -> None:
    assert graph_host("https://graph.microsoft.com/v1.0") == "graph.microsoft.com"
    assert graph_host("https://127.0.0.1:8443/v1.0") == "127.0.0.1"
    with pytest.raises(ValueError, match="absolute"):
        graph_host("/v1.0")


def test_a_ca_file_becomes_a_context_trusting_it(tmp_path: Path) -> None:
    tls = TlsIdentity.self_signed(tmp_path)
    context = ssl_verify(str(tls.ca_file))
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert len(context.get_ca_certs()) == 1
    assert ssl_verify(False) is False


def test_contexts_are_built_once_per_thread_and_value(tmp_path: Path) -> None:
    tls = TlsIdentity.self_signed(tmp_path)
    default = ssl_verify(True)
    trusting = ssl_verify(str(tls.ca_file))

    # The default context verifies hosts against the default bundle; each is kept.
    assert isinstance(default, ssl.SSLContext)
    assert default.verify_mode is ssl.CERT_REQUIRED
    assert default.check_hostname
    assert ssl_verify(True) is default
    assert ssl_verify(str(tls.ca_file)) is trusting
    assert trusting is not default
    # Another thread builds its own (httpcore sets ALPN on a context as it connects).
    with ThreadPoolExecutor(1) as pool:
        elsewhere = pool.submit(ssl_verify, True).result()
    assert isinstance(elsewhere, ssl.SSLContext)
    assert elsewhere is not default
