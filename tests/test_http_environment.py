"""HTTP clients read the environment once: a CA bundle variable still counts, a proxy reads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from azure.core.exceptions import ServiceRequestError
from azure.core.rest import HttpRequest

from credly_connector.http_environment import environment_session
from credly_connector.stores.transport import storage_session, storage_transport
from devstack.standin import TlsIdentity


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on loopback whose certificate only a throwaway CA file trusts."""
    identity = TlsIdentity.self_signed(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    server.socket = identity.context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/", identity.ca_file
    finally:
        server.shutdown()
        server.server_close()


def test_a_ca_bundle_variable_is_trusted_without_reading_the_environment_per_request(
    tls_server: tuple[str, Path],
) -> None:
    # given: only a CA bundle variable, naming the CA that issued the server's certificate
    url, ca_file = tls_server
    environ = {"REQUESTS_CA_BUNDLE": str(ca_file)}

    # when: the transport built from that environment sends a request
    transport = storage_transport(environ=environ)
    response = transport.send(HttpRequest("GET", url))

    # then: the server is trusted, and requests does not reread the environment per request
    assert response.status_code == 200
    assert transport.session.trust_env is False


def test_curl_ca_bundle_is_read_when_requests_own_is_not_set(
    tls_server: tuple[str, Path],
) -> None:
    # given: only curl's CA bundle variable
    url, ca_file = tls_server

    # when / then: it is trusted, as requests itself would trust it
    transport = storage_transport(environ={"CURL_CA_BUNDLE": str(ca_file)})
    assert transport.send(HttpRequest("GET", url)).status_code == 200


def test_without_a_ca_bundle_the_throwaway_ca_is_not_trusted(
    tls_server: tuple[str, Path],
) -> None:
    # given: no CA bundle variable at all
    url, _ = tls_server

    # when / then: the server's certificate fails verification
    transport = storage_transport(environ={})
    with pytest.raises(ServiceRequestError, match="CERTIFICATE_VERIFY_FAILED"):
        transport.send(HttpRequest("GET", url))


def test_a_proxy_variable_keeps_requests_reading_the_environment() -> None:
    # given / when: a proxy variable is set (chosen per host, NO_PROXY included)
    session = storage_session({"HTTPS_PROXY": "http://127.0.0.1:9", "CURL_CA_BUNDLE": "x"})

    # then: requests reads the environment on each request, as without this transport
    assert session.trust_env is True
    assert storage_session({"CURL_CA_BUNDLE": "x"}).trust_env is False


def test_the_credly_session_trusts_a_ca_bundle_variable_read_once(
    tls_server: tuple[str, Path],
) -> None:
    # given: a session made from an environment naming the server's CA
    url, ca_file = tls_server
    trusting = environment_session({"REQUESTS_CA_BUNDLE": str(ca_file)})

    # when / then: it is trusted without reading the environment per request; without the
    # variable, the certificate fails verification
    assert trusting.get(url, timeout=5).status_code == 200
    assert trusting.trust_env is False
    with pytest.raises(requests.exceptions.SSLError):
        environment_session({}).get(url, timeout=5)
