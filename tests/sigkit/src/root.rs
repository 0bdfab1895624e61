//! `mint-root`: a throwaway Sigstore instance (Fulcio CA, Rekor and CT log keys, a TSA) and
//! the trusted_root.json that trusts it.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use der::Encode;
use serde_json::json;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages};

use crate::pki::{self, CertSpec};

/// Everything is valid from here on: long before any test runs, so that bundles signed
/// "in the past" (e.g. `--expired`) still fall inside every trust window.
pub const VALID_FROM: u64 = 1_577_836_800; // 2020-01-01T00:00:00Z
/// The last second a certificate can hold as UTCTime, which is what real CAs emit.
const VALID_UNTIL: u64 = 2_524_607_999; // 2049-12-31T23:59:59Z

pub const REKOR_URL: &str = "https://rekor.sigkit.test";
pub const REKOR_ORIGIN_NAME: &str = "rekor.sigkit.test";
const CTLOG_URL: &str = "https://ctfe.sigkit.test";
const FULCIO_URL: &str = "https://fulcio.sigkit.test";
const TSA_URL: &str = "https://tsa.sigkit.test/api/v1/timestamp";

/// The public-good names, so a frontend that classifies signers by the leaf's issuer
/// (`CN=sigstore-intermediate,O=sigstore.dev`) treats kit bundles like real ones.
const FULCIO_ROOT_NAME: &str = "CN=sigstore,O=sigstore.dev";
pub const FULCIO_INTERMEDIATE_NAME: &str = "CN=sigstore-intermediate,O=sigstore.dev";
const TSA_ROOT_NAME: &str = "CN=sigkit TSA root,O=sigkit";
const TSA_LEAF_NAME: &str = "CN=sigkit TSA,O=sigkit";

/// File names inside a root directory.
pub struct Layout {
    dir: PathBuf,
}

impl Layout {
    pub fn new(dir: &Path) -> Self {
        Layout {
            dir: dir.to_path_buf(),
        }
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
    pub fn trusted_root(&self) -> PathBuf {
        self.path("trusted_root.json")
    }
}

pub const FULCIO_ROOT_KEY: &str = "fulcio-root.key.pem";
pub const FULCIO_ROOT_CRT: &str = "fulcio-root.crt.pem";
pub const FULCIO_INTERMEDIATE_KEY: &str = "fulcio-intermediate.key.pem";
pub const FULCIO_INTERMEDIATE_CRT: &str = "fulcio-intermediate.crt.pem";
pub const REKOR_KEY: &str = "rekor.key.pem";
pub const CTLOG_KEY: &str = "ctlog.key.pem";
pub const TSA_ROOT_KEY: &str = "tsa-root.key.pem";
pub const TSA_ROOT_CRT: &str = "tsa-root.crt.pem";
pub const TSA_KEY: &str = "tsa.key.pem";
pub const TSA_CRT: &str = "tsa.crt.pem";

pub fn mint_root(out: &Path, force: bool) -> Result<()> {
    let layout = Layout::new(out);
    if layout.trusted_root().exists() && !force {
        bail!(
            "{} already exists; bundles signed by that root would stop verifying if it were \
             replaced (pass --force to replace it anyway)",
            layout.trusted_root().display()
        );
    }
    fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;

    let fulcio_root_key = pki::new_key();
    let fulcio_root_spki = pki::spki_der(&fulcio_root_key)?;
    let fulcio_root = pki::sign_tbs(
        pki::tbs(CertSpec {
            serial: pki::random_serial()?,
            issuer: pki::name(FULCIO_ROOT_NAME)?,
            subject: pki::name(FULCIO_ROOT_NAME)?,
            not_before: VALID_FROM,
            not_after: VALID_UNTIL,
            spki: fulcio_root_spki.clone(),
            extensions: pki::ca_extensions(&fulcio_root_spki, None, Some(1), None)?,
        })?,
        &fulcio_root_key,
    )?;

    let intermediate_key = pki::new_key();
    let intermediate_spki = pki::spki_der(&intermediate_key)?;
    let intermediate = pki::sign_tbs(
        pki::tbs(CertSpec {
            serial: pki::random_serial()?,
            issuer: pki::name(FULCIO_ROOT_NAME)?,
            subject: pki::name(FULCIO_INTERMEDIATE_NAME)?,
            not_before: VALID_FROM,
            not_after: VALID_UNTIL,
            spki: intermediate_spki.clone(),
            // Like Fulcio's intermediate: restricted to code signing, issues leaves only.
            extensions: pki::ca_extensions(
                &intermediate_spki,
                Some(&fulcio_root_spki),
                Some(0),
                Some(pki::EKU_CODE_SIGNING),
            )?,
        })?,
        &fulcio_root_key,
    )?;

    let tsa_root_key = pki::new_key();
    let tsa_root_spki = pki::spki_der(&tsa_root_key)?;
    let tsa_root = pki::sign_tbs(
        pki::tbs(CertSpec {
            serial: pki::random_serial()?,
            issuer: pki::name(TSA_ROOT_NAME)?,
            subject: pki::name(TSA_ROOT_NAME)?,
            not_before: VALID_FROM,
            not_after: VALID_UNTIL,
            spki: tsa_root_spki.clone(),
            extensions: pki::ca_extensions(&tsa_root_spki, None, Some(0), None)?,
        })?,
        &tsa_root_key,
    )?;

    let tsa_key = pki::new_key();
    let tsa_spki = pki::spki_der(&tsa_key)?;
    let tsa = pki::sign_tbs(
        pki::tbs(CertSpec {
            serial: pki::random_serial()?,
            issuer: pki::name(TSA_ROOT_NAME)?,
            subject: pki::name(TSA_LEAF_NAME)?,
            not_before: VALID_FROM,
            not_after: VALID_UNTIL,
            spki: tsa_spki.clone(),
            extensions: vec![
                pki::ext(true, &KeyUsage(KeyUsages::DigitalSignature.into()))?,
                pki::ext(
                    true,
                    &BasicConstraints {
                        ca: false,
                        path_len_constraint: None,
                    },
                )?,
                // RFC 3161 §2.3: the TSA's certificate has exactly this EKU, marked critical.
                pki::ext(true, &ExtendedKeyUsage(vec![pki::EKU_TIME_STAMPING]))?,
                pki::ext(
                    false,
                    &x509_cert::ext::pkix::SubjectKeyIdentifier(der::asn1::OctetString::new(
                        pki::key_id(&tsa_spki),
                    )?),
                )?,
                pki::ext(false, &pki::authority_key_id(&tsa_root_spki)?)?,
            ],
        })?,
        &tsa_root_key,
    )?;

    let rekor_key = pki::new_key();
    let ctlog_key = pki::new_key();

    for (file, key) in [
        (FULCIO_ROOT_KEY, &fulcio_root_key),
        (FULCIO_INTERMEDIATE_KEY, &intermediate_key),
        (REKOR_KEY, &rekor_key),
        (CTLOG_KEY, &ctlog_key),
        (TSA_ROOT_KEY, &tsa_root_key),
        (TSA_KEY, &tsa_key),
    ] {
        pki::save_key(&layout.path(file), key)?;
    }
    for (file, cert) in [
        (FULCIO_ROOT_CRT, &fulcio_root),
        (FULCIO_INTERMEDIATE_CRT, &intermediate),
        (TSA_ROOT_CRT, &tsa_root),
        (TSA_CRT, &tsa),
    ] {
        pki::save_cert(&layout.path(file), cert)?;
    }

    let valid_for = json!({ "start": pki::rfc3339(VALID_FROM)? });
    let log = |url: &str, spki: &[u8]| {
        json!({
            "baseUrl": url,
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": pki::b64(spki),
                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                "validFor": valid_for,
            },
            "logId": { "keyId": pki::b64(pki::sha256(spki)) },
        })
    };
    let root = json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [log(REKOR_URL, &pki::spki_der(&rekor_key)?)],
        "certificateAuthorities": [{
            "subject": { "organization": "sigstore.dev", "commonName": "sigstore" },
            "uri": FULCIO_URL,
            // Leaf-most first, as in the public-good root.
            "certChain": { "certificates": [
                { "rawBytes": pki::b64(intermediate.to_der()?) },
                { "rawBytes": pki::b64(fulcio_root.to_der()?) },
            ]},
            "validFor": valid_for,
        }],
        "ctlogs": [log(CTLOG_URL, &pki::spki_der(&ctlog_key)?)],
        "timestampAuthorities": [{
            "subject": { "organization": "sigkit", "commonName": "sigkit TSA" },
            "uri": TSA_URL,
            "certChain": { "certificates": [
                { "rawBytes": pki::b64(tsa.to_der()?) },
                { "rawBytes": pki::b64(tsa_root.to_der()?) },
            ]},
            "validFor": valid_for,
        }],
    });
    let text = serde_json::to_string_pretty(&root)? + "\n";
    fs::write(layout.trusted_root(), text)
        .with_context(|| format!("writing {}", layout.trusted_root().display()))?;
    Ok(())
}
