"""PAdES signatures on report PDFs (pyHanko), and checking them offline.

Who signs: the organisation's key and certificate when ``STEU_SIGNING_P12`` names a PKCS#12 file
(password in ``STEU_SIGNING_P12_PASSWORD``); otherwise a self-signed certificate made on first use and
kept owner-only (0600, folder 0700) at ``steu_home()/keys/report-signing.pem``. A self-signed signature
proves the file is unchanged since signing, not who signed it; every place that shows the signature
says so in exactly these words (:data:`SELF_SIGNED_WORDS`).
"""
from __future__ import annotations

import datetime as dt
import io
import logging
import os
import socket
import warnings
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..paths import steu_home

P12_ENV, P12_PASSWORD_ENV = "STEU_SIGNING_P12", "STEU_SIGNING_P12_PASSWORD"
SELF_SIGNED_FILE = "report-signing.pem"
SELF_SIGNED_WORDS = "signed with a self-signed certificate: proves the file is unchanged since signing, not who signed it"
ORG_WORDS = "signed with the organisation's certificate"
FIELD_NAME = "STEU-Audit-Report"
_POSIX = os.name != "nt"  # owner-only modes; on Windows the profile's ACLs protect the data directory
# pyHanko imports cryptography's DSA key class, and recent cryptography releases (51 was measured) warn on that
# import. STEU Audit signs with EC or RSA keys and uses no DSA itself, so this one warning, raised in pyHanko only,
# would merely alarm whoever checks a report (issue 28).
DSA_WARNING = r"DSA is deprecated"
warnings.filterwarnings("ignore", message=DSA_WARNING, module=r"pyhanko(\.|$)")


@dataclass
class ReportSigner:
    """A pyHanko signer and what the report says about it."""

    signer: object  # pyhanko.sign.signers.SimpleSigner
    self_signed: bool
    subject: str
    cert_sha256: str
    source: str  # the PKCS#12 file, or the self-signed PEM file

    @property
    def words(self) -> str:
        return SELF_SIGNED_WORDS if self.self_signed else f"{ORG_WORDS} ({self.subject})"

    def as_dict(self) -> dict:
        return {"self_signed": self.self_signed, "subject": self.subject, "cert_sha256": self.cert_sha256,
                "statement": self.words, "format": "PAdES (ETSI.CAdES.detached), pyHanko"}


def self_signed_path() -> Path:
    return steu_home() / "keys" / SELF_SIGNED_FILE


def report_signer() -> ReportSigner:
    """The organisation's signer when configured, else the local self-signed one (made on first use)."""
    p12 = os.environ.get(P12_ENV, "").strip()
    if p12:
        return _pkcs12_signer(Path(p12).expanduser())
    path = self_signed_path()
    if not path.exists():
        _create_self_signed(path)
    return _pem_signer(path)


def _pkcs12_signer(path: Path) -> ReportSigner:
    from cryptography.hazmat.primitives.serialization import pkcs12  # only signing needs it

    hint = f"Set {P12_ENV} to the organisation's PKCS#12 (.p12/.pfx) file and {P12_PASSWORD_ENV} to its password."
    if not path.is_file():
        raise ConfigError(f"the signing certificate '{path}' ({P12_ENV}) does not exist.", hint=hint)
    password = os.environ.get(P12_PASSWORD_ENV)
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(path.read_bytes(),
                                                            password.encode() if password else None)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"the signing certificate '{path}' cannot be opened ({type(exc).__name__}: wrong "
                          "password or not a PKCS#12 file).", hint=hint) from None
    if key is None or cert is None:
        raise ConfigError(f"'{path}' holds no private key and certificate.", hint=hint)
    return _make_signer(key, cert, list(extra or []), source=str(path))


def _pem_signer(path: Path) -> ReportSigner:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    if _POSIX and path.stat().st_mode & 0o077:
        raise ConfigError(f"the report signing key '{path}' can be read by other users.",
                          hint=f"Run: chmod 600 '{path}'")
    data = path.read_bytes()
    try:
        key, cert = load_pem_private_key(data, password=None), x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise ConfigError(f"the report signing key '{path}' is damaged ({exc}).",
                          hint="Move it away: a new self-signed certificate is made on the next report.") from None
    return _make_signer(key, cert, [], source=str(path))


def _make_signer(key, cert, extra: list, source: str) -> ReportSigner:
    """A pyHanko SimpleSigner from ``cryptography`` objects (pyHanko speaks asn1crypto)."""
    from asn1crypto import keys as asn1_keys, x509 as asn1_x509
    from cryptography.hazmat.primitives import hashes, serialization
    from pyhanko.sign.signers import SimpleSigner
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    der = serialization.Encoding.DER
    key_info = asn1_keys.PrivateKeyInfo.load(key.private_bytes(der, serialization.PrivateFormat.PKCS8,
                                                                serialization.NoEncryption()))
    certs = [asn1_x509.Certificate.load(c.public_bytes(der)) for c in [cert, *extra]]
    signer = SimpleSigner(signing_cert=certs[0], signing_key=key_info,
                          cert_registry=SimpleCertificateStore.from_certs(certs))
    return ReportSigner(signer, self_signed=cert.issuer == cert.subject, subject=cert.subject.rfc4514_string(),
                        cert_sha256=cert.fingerprint(hashes.SHA256()).hex(), source=source)


def _create_self_signed(path: Path) -> None:
    """An EC P-256 key and a 10-year self-signed certificate, one PEM file, owner-only, made atomically."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"STEU Audit reports ({socket.gethostname()[:40]})"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "self-signed, identity not verified")])
    now = dt.datetime.now(dt.timezone.utc)
    usage = x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=False,
                          encipher_only=False, decipher_only=False)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=3650)).add_extension(usage, critical=True)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True).sign(key, hashes.SHA256()))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()) + cert.public_bytes(serialization.Encoding.PEM)
    _write_owner_only(path, pem)


def _write_owner_only(path: Path, data: bytes) -> None:
    """Write ``data`` 0600 under a 0700 folder; linked into place so a concurrent maker never sees half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if _POSIX:
        path.parent.chmod(0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            os.link(tmp, path)
        except FileExistsError:  # another process made it first: use theirs
            pass
    finally:
        tmp.unlink(missing_ok=True)


def sign_pdf(pdf_bytes: bytes, rs: ReportSigner, reason: str) -> bytes:
    """``pdf_bytes`` with an invisible PAdES signature over the whole file (an incremental update)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf_bytes), strict=False)
    meta = signers.PdfSignatureMetadata(field_name=FIELD_NAME, reason=reason[:200], location=socket.gethostname()[:60],
                                        subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha256")
    out = signers.sign_pdf(writer, meta, signer=rs.signer, new_field_spec=fields.SigFieldSpec(FIELD_NAME))
    return out.getvalue()


@dataclass
class SignatureCheck:
    """Outcome of :func:`check_pdf_signature`: ``ok`` when the file is intact since signing."""

    ok: bool
    reason: str
    trust: str = ""  # how the signer's certificate was trusted, in words
    self_signed: bool = False
    subject: str = ""
    untrusted: bool = False  # intact, but signed with another certificate than the one given to trust


def check_pdf_signature(data: bytes, trusted_pem: bytes | None = None) -> SignatureCheck:
    """Validate the report's signature offline: it must verify and cover the entire file.

    ``trusted_pem``: a certificate to trust (the local self-signed one, or one the reader was given).
    Without it the signer's own certificate is trusted as found in the file, which checks integrity
    only; the returned ``trust`` says which was done.
    """
    from asn1crypto import x509 as asn1_x509
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.general import SigningError
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    try:
        sigs = PdfFileReader(io.BytesIO(data), strict=False).embedded_signatures
    except Exception as exc:  # pyHanko raises several kinds for damaged files
        return SignatureCheck(False, f"the PDF's signatures cannot be read ({type(exc).__name__})")
    if not sigs:
        return SignatureCheck(False, "the PDF carries no signature")
    sig = sigs[-1]
    cert = sig.signer_cert
    self_signed = cert.self_signed in ("yes", "maybe")
    subject = cert.subject.human_friendly
    if trusted_pem:
        try:  # the PEM may hold the private key first: cryptography finds the CERTIFICATE block
            root = asn1_x509.Certificate.load(x509.load_pem_x509_certificate(trusted_pem).public_bytes(Encoding.DER))
        except ValueError:
            return SignatureCheck(False, "the certificate given to trust is not a PEM certificate")
        trust = "the signer's certificate was checked against the certificate given to trust"
    else:
        root = cert
        trust = ("no certificate was given to trust: the certificate inside the file was trusted as found, which "
                 "checks integrity only, not who signed")
    try:
        with _quiet("pyhanko"):
            status = validate_pdf_signature(sig, ValidationContext(trust_roots=[root], allow_fetching=False))
    except (SigningError, ValueError) as exc:
        return SignatureCheck(False, f"the signature cannot be validated ({type(exc).__name__}: {exc})",
                              trust, self_signed, subject)
    if not (status.intact and status.valid):
        return SignatureCheck(False, "the PDF signature does not verify: the signed bytes were changed",
                              trust, self_signed, subject)
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        return SignatureCheck(False, "the signature does not cover the whole file: something was added after signing",
                              trust, self_signed, subject)
    if not status.trusted:
        return SignatureCheck(False, f"the signature is intact but its certificate ({subject}) is not the one "
                                     "given to trust", trust, self_signed, subject, untrusted=True)
    words = SELF_SIGNED_WORDS if self_signed else f"{ORG_WORDS} ({subject})"
    return SignatureCheck(True, f"the digital signature (PAdES, the standard for signed PDF files) verifies and "
                                f"covers the whole file; {words}",
                          trust, self_signed, subject)


class _quiet:
    """Hold back a library's log records: pyHanko logs a full traceback for an untrusted certificate,
    which the result already states in words."""

    def __init__(self, name: str):
        self.logger = logging.getLogger(name)

    def __enter__(self):
        self.level = self.logger.level
        self.logger.setLevel(logging.CRITICAL)

    def __exit__(self, *exc):
        self.logger.setLevel(self.level)
