//! Keys, certificates and the small encoding helpers every other module shares.

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow};
use base64::Engine;
use der::asn1::{BitString, OctetString};
use der::oid::{AssociatedOid, ObjectIdentifier};
use der::{DecodePem, Encode, EncodePem, pem::LineEnding};
use p256::ecdsa::{Signature, SigningKey, signature::Signer};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectKeyIdentifier,
};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};
use x509_cert::{Certificate, TbsCertificate, Version};

pub const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
pub const SHA256_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
pub const EKU_CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
pub const EKU_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");

pub fn b64(data: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

pub fn hex(data: impl AsRef<[u8]>) -> String {
    data.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

pub fn sha256(data: impl AsRef<[u8]>) -> [u8; 32] {
    Sha256::digest(data).into()
}

pub fn now_secs() -> Result<u64> {
    Ok(SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("system clock is before 1970")?
        .as_secs())
}

/// RFC 3339 in UTC, the form the trusted root's `validFor` windows use.
pub fn rfc3339(secs: u64) -> Result<String> {
    let t = der::DateTime::from_unix_duration(Duration::from_secs(secs))
        .map_err(|e| anyhow!("time {secs} out of range: {e}"))?;
    Ok(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minutes(),
        t.seconds()
    ))
}

/// A tag-length-value with a DER length, for the few structures no crate here models.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

pub fn new_key() -> SigningKey {
    SigningKey::random(&mut OsRng)
}

pub fn save_key(path: &Path, key: &SigningKey) -> Result<()> {
    let pem = key
        .to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
        .map_err(|e| anyhow!("encoding a private key: {e}"))?;
    write_private(path, pem.as_bytes())
}

#[cfg(unix)]
fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(data)
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(not(unix))]
fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    fs::write(path, data).with_context(|| format!("writing {}", path.display()))
}

pub fn load_key(path: &Path) -> Result<SigningKey> {
    let pem = fs::read_to_string(path).with_context(|| {
        format!(
            "reading {} (was the root made with `sigkit mint-root`?)",
            path.display()
        )
    })?;
    SigningKey::from_pkcs8_pem(&pem)
        .map_err(|e| anyhow!("{}: not a PKCS#8 P-256 key: {e}", path.display()))
}

pub fn spki_der(key: &SigningKey) -> Result<Vec<u8>> {
    Ok(key
        .verifying_key()
        .to_public_key_der()
        .map_err(|e| anyhow!("encoding a public key: {e}"))?
        .as_bytes()
        .to_vec())
}

/// ECDSA P-256 over SHA-256, ASN.1 DER encoded: the form Sigstore uses everywhere.
pub fn sign_der(key: &SigningKey, msg: &[u8]) -> Vec<u8> {
    let sig: Signature = key.sign(msg);
    sig.to_der().as_bytes().to_vec()
}

fn ecdsa_sha256() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: ECDSA_WITH_SHA256,
        parameters: None,
    }
}

pub fn name(rfc4514: &str) -> Result<Name> {
    rfc4514
        .parse()
        .map_err(|e| anyhow!("bad name {rfc4514:?}: {e}"))
}

pub fn random_serial() -> Result<SerialNumber> {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    // Positive and without a leading zero octet, as RFC 5280 serials must be.
    bytes[0] = (bytes[0] & 0x7f) | 0x10;
    SerialNumber::new(&bytes).map_err(|e| anyhow!("serial number: {e}"))
}

pub fn x509_time(secs: u64) -> Result<Time> {
    Time::try_from(UNIX_EPOCH + Duration::from_secs(secs))
        .map_err(|e| anyhow!("time {secs} cannot go in a certificate: {e}"))
}

/// Key identifier: the first 160 bits of SHA-256 of the SPKI (RFC 7093 method 1 style).
pub fn key_id(spki: &[u8]) -> Vec<u8> {
    sha256(spki)[..20].to_vec()
}

pub fn ext<T: AssociatedOid + Encode>(critical: bool, value: &T) -> Result<Extension> {
    raw_ext(T::OID, critical, value.to_der()?)
}

pub fn raw_ext(oid: ObjectIdentifier, critical: bool, value: Vec<u8>) -> Result<Extension> {
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(value)?,
    })
}

pub struct CertSpec {
    pub serial: SerialNumber,
    pub issuer: Name,
    pub subject: Name,
    pub not_before: u64,
    pub not_after: u64,
    pub spki: Vec<u8>,
    pub extensions: Vec<Extension>,
}

pub fn tbs(spec: CertSpec) -> Result<TbsCertificate> {
    use der::Decode;
    Ok(TbsCertificate {
        version: Version::V3,
        serial_number: spec.serial,
        signature: ecdsa_sha256(),
        issuer: spec.issuer,
        validity: Validity {
            not_before: x509_time(spec.not_before)?,
            not_after: x509_time(spec.not_after)?,
        },
        subject: spec.subject,
        subject_public_key_info: SubjectPublicKeyInfoOwned::from_der(&spec.spki)?,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(spec.extensions),
    })
}

pub fn sign_tbs(tbs: TbsCertificate, issuer_key: &SigningKey) -> Result<Certificate> {
    let sig = sign_der(issuer_key, &tbs.to_der()?);
    Ok(Certificate {
        tbs_certificate: tbs,
        signature_algorithm: ecdsa_sha256(),
        signature: BitString::from_bytes(&sig)?,
    })
}

/// Extensions of a CA certificate; `parent_spki` is `None` for a self-signed root.
pub fn ca_extensions(
    spki: &[u8],
    parent_spki: Option<&[u8]>,
    path_len: Option<u8>,
    eku: Option<ObjectIdentifier>,
) -> Result<Vec<Extension>> {
    let mut exts = vec![
        ext(true, &KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign))?,
        ext(
            true,
            &BasicConstraints {
                ca: true,
                path_len_constraint: path_len,
            },
        )?,
        ext(
            false,
            &SubjectKeyIdentifier(OctetString::new(key_id(spki))?),
        )?,
    ];
    if let Some(parent) = parent_spki {
        exts.push(ext(false, &authority_key_id(parent)?)?);
    }
    if let Some(eku) = eku {
        exts.push(ext(false, &ExtendedKeyUsage(vec![eku]))?);
    }
    Ok(exts)
}

pub fn authority_key_id(issuer_spki: &[u8]) -> Result<AuthorityKeyIdentifier> {
    Ok(AuthorityKeyIdentifier {
        key_identifier: Some(OctetString::new(key_id(issuer_spki))?),
        authority_cert_issuer: None,
        authority_cert_serial_number: None,
    })
}

pub fn save_cert(path: &Path, cert: &Certificate) -> Result<()> {
    let pem = cert
        .to_pem(LineEnding::LF)
        .map_err(|e| anyhow!("encoding a certificate: {e}"))?;
    fs::write(path, pem).with_context(|| format!("writing {}", path.display()))
}

pub fn load_cert(path: &Path) -> Result<Certificate> {
    let pem = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Certificate::from_pem(&pem).map_err(|e| anyhow!("{}: not a certificate: {e}", path.display()))
}

pub fn cert_spki(cert: &Certificate) -> Result<Vec<u8>> {
    Ok(cert.tbs_certificate.subject_public_key_info.to_der()?)
}
