"""An HTTPS front for the live server, with a certificate made at test time (OA-06).

:func:`make_certificates` writes a test CA and server certificates (good, self-signed, for
another host, expired) into a temporary directory; no key material lives in git.
:class:`TlsFront` listens on 127.0.0.1, completes the TLS handshake with one of them and pipes
the decrypted bytes to the plain-HTTP live server (the sandbox) behind it. It counts the
handshakes that failed, so a test can tell "refused at TLS" from "never tried".
"""

import selectors
import socket
import ssl
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HOST = "localhost"  # the name the portal is told; the good certificate names it
KINDS = ("good", "self_signed", "wrong_host", "expired")


@dataclass(frozen=True)
class Certificates:
    ca_file: Path
    chains: dict[str, tuple[Path, Path]]  # kind -> (certificate, key)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Desk Connect test CA"))
        .issuer_name(_name("Desk Connect test CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _server(
    kind: str, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    valid = (
        (now - timedelta(days=30), now - timedelta(days=1))
        if kind == "expired"
        else (
            now - timedelta(days=1),
            now + timedelta(days=1),
        )
    )
    names: list[x509.GeneralName] = (
        [x509.DNSName("accounts.zoho.example")]
        if kind == "wrong_host"
        else [x509.DNSName(HOST), x509.IPAddress(IPv4Address("127.0.0.1"))]
    )
    issuer, signer = (_name(HOST), key) if kind == "self_signed" else (ca.subject, ca_key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(HOST))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), False
        )
    )
    return builder.sign(signer, hashes.SHA256()), key


def make_certificates(directory: Path) -> Certificates:
    """A CA (to trust) and one server certificate of each kind in :data:`KINDS`."""
    ca, ca_key = _ca()
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chains = {}
    for kind in KINDS:
        cert, key = _server(kind, ca, ca_key)
        cert_file, key_file = directory / f"{kind}.pem", directory / f"{kind}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(_pem_key(key))
        chains[kind] = (cert_file, key_file)
    return Certificates(ca_file, chains)


class TlsFront:
    """Terminates TLS on a free port and pipes each connection to ``backend`` (host, port)."""

    def __init__(self, backend: tuple[str, int], cert_file: Path, key_file: Path) -> None:
        self.backend = backend
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert_file, key_file)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.failed_handshakes = 0
        self.piped = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str = "") -> str:
        return f"https://{HOST}:{self.port}{path}"

    def close(self) -> None:
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:  # closed
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            tls = self.context.wrap_socket(conn, server_side=True)
        except OSError:  # the client refused the certificate (ssl.SSLError is an OSError)
            self.failed_handshakes += 1
            conn.close()
            return
        self.piped += 1
        with tls, socket.create_connection(self.backend) as upstream:
            _pipe(tls, upstream)


def _pipe(tls: ssl.SSLSocket, upstream: socket.socket) -> None:
    """Copy bytes both ways until either side closes (one thread: an SSL socket is not safe
    to read and write from two)."""
    with selectors.DefaultSelector() as selector:
        selector.register(tls, selectors.EVENT_READ)
        selector.register(upstream, selectors.EVENT_READ)
        while True:
            for key, _ in selector.select(timeout=30):
                source = key.fileobj
                try:
                    if source is tls:
                        data = tls.recv(65536)
                        while data and tls.pending():
                            data += tls.recv(tls.pending())
                        target: socket.socket = upstream
                    else:
                        data = upstream.recv(65536)
                        target = tls
                    if not data:
                        return
                    target.sendall(data)
                except OSError:
                    return
