//! `sign`: what `cosign sign --new-bundle-format` does for an image digest, against the kit
//! instance: Fulcio leaf with embedded SCT, DSSE in-toto statement, Rekor v1 `dsse` entry
//! with SET and checkpointed inclusion proof, optional RFC 3161 timestamp; out comes a
//! Sigstore v0.3 bundle.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use der::Encode;
use der::asn1::{Ia5String, OctetString, Utf8StringRef};
use der::oid::ObjectIdentifier;
use serde_json::json;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::name::Name;

use crate::merkle;
use crate::pki::{self, CertSpec};
use crate::root::{self, Layout};
use crate::tsa;

pub const DEFAULT_IDENTITY: &str =
    "https://github.com/docker/github-builder/.github/workflows/build.yml@refs/tags/v1";
pub const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";
const DEFAULT_SUBJECT_NAME: &str = "example/app";
const PREDICATE_TYPE: &str = "https://sigstore.dev/cosign/sign/v1";
const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

const SCT_LIST_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.2");
/// Fulcio's OID arc; claim `n` lives at 1.3.6.1.4.1.57264.1.n.
const FULCIO_ARC: &str = "1.3.6.1.4.1.57264.1";

/// The Fulcio claims from .9 on, DER UTF8String valued, by their camelCase names.
pub const CLAIMS: [(&str, u32); 14] = [
    ("buildSignerURI", 9),
    ("buildSignerDigest", 10),
    ("runnerEnvironment", 11),
    ("sourceRepositoryURI", 12),
    ("sourceRepositoryDigest", 13),
    ("sourceRepositoryRef", 14),
    ("sourceRepositoryIdentifier", 15),
    ("sourceRepositoryOwnerURI", 16),
    ("sourceRepositoryOwnerIdentifier", 17),
    ("buildConfigURI", 18),
    ("buildConfigDigest", 19),
    ("buildTrigger", 20),
    ("runInvocationURI", 21),
    ("sourceRepositoryVisibilityAtSigning", 22),
];

/// How long a Fulcio certificate lives.
const CERT_LIFETIME: u64 = 600;
/// Where the signing time falls inside the certificate's window.
const SIGNED_AFTER_ISSUE: u64 = 60;

/// The tree the entry is logged in: a few earlier entries before it, one after.
const ENTRIES_BEFORE: usize = 5;
const ENTRIES_AFTER: usize = 1;
/// Rekor v1 numbers entries across all its shards (the entry's `logIndex`) and within the
/// active shard's tree (the inclusion proof's `logIndex`); an offset keeps them distinct so
/// consumers that confuse the two are caught.
pub const EARLIER_SHARDS_SIZE: u64 = 100_000;
const TREE_ID: &str = "4242424242424242424";

pub struct SignOptions {
    pub root: PathBuf,
    pub digest_hex: String,
    pub out: PathBuf,
    pub subject_name: String,
    /// The statement's predicate type (cosign's `sign/v1`; SLSA provenance for a download's
    /// bundle, which `artifact_attestation` requires).
    pub predicate_type: String,
    pub identity: String,
    pub issuer: String,
    /// `--claim` values by camelCase name; an empty value drops the claim.
    pub claims: BTreeMap<String, String>,
    pub timestamp: bool,
    pub expired: bool,
    pub tamper: bool,
}

impl SignOptions {
    pub fn new(root: PathBuf, digest: &str, out: PathBuf) -> Result<Self> {
        let hex = digest
            .strip_prefix("sha256:")
            .with_context(|| format!("--digest {digest:?}: expected sha256:<64 hex digits>"))?;
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("--digest {digest:?}: expected sha256:<64 hex digits>");
        }
        Ok(SignOptions {
            root,
            digest_hex: hex.to_ascii_lowercase(),
            out,
            subject_name: DEFAULT_SUBJECT_NAME.into(),
            predicate_type: PREDICATE_TYPE.into(),
            identity: DEFAULT_IDENTITY.into(),
            issuer: DEFAULT_ISSUER.into(),
            claims: BTreeMap::new(),
            timestamp: false,
            expired: false,
            tamper: false,
        })
    }

    pub fn set_claim(&mut self, spec: &str) -> Result<()> {
        let (key, value) = spec
            .split_once('=')
            .with_context(|| format!("--claim {spec:?}: expected KEY=VALUE"))?;
        if !CLAIMS.iter().any(|(name, _)| *name == key) {
            let names: Vec<_> = CLAIMS.iter().map(|(n, _)| *n).collect();
            bail!(
                "--claim {spec:?}: unknown claim {key:?}; known: {}",
                names.join(", ")
            );
        }
        self.claims.insert(key.into(), value.into());
        Ok(())
    }

    /// Every claim with GitHub-Actions-like defaults, derived from one another the way a
    /// workflow run's token relates them, then overridden by `--claim`.
    fn resolved_claims(&self) -> BTreeMap<&'static str, String> {
        let given = |k: &str| self.claims.get(k).cloned();
        let repo = given("sourceRepositoryURI").unwrap_or("https://github.com/example/app".into());
        let git_ref = given("sourceRepositoryRef").unwrap_or("refs/heads/main".into());
        let commit = given("sourceRepositoryDigest")
            .unwrap_or("4f0c1a7e9d2b3c5a6e8f0b1d2c3e4f5a6b7c8d9e".into());
        let owner = repo
            .rsplit_once('/')
            .map(|(o, _)| o.to_string())
            .unwrap_or_else(|| repo.clone());
        let defaults = [
            ("buildSignerURI", self.identity.clone()),
            (
                "buildSignerDigest",
                "c767551a26459c30e1f683df73a12fdb918f7068".into(),
            ),
            ("runnerEnvironment", "github-hosted".into()),
            ("sourceRepositoryURI", repo.clone()),
            ("sourceRepositoryDigest", commit.clone()),
            ("sourceRepositoryRef", git_ref.clone()),
            ("sourceRepositoryIdentifier", "123456789".into()),
            ("sourceRepositoryOwnerURI", owner),
            ("sourceRepositoryOwnerIdentifier", "1234567".into()),
            (
                "buildConfigURI",
                format!("{repo}/.github/workflows/release.yml@{git_ref}"),
            ),
            ("buildConfigDigest", commit),
            ("buildTrigger", "push".into()),
            (
                "runInvocationURI",
                format!("{repo}/actions/runs/1234567890/attempts/1"),
            ),
            ("sourceRepositoryVisibilityAtSigning", "public".into()),
        ];
        defaults
            .into_iter()
            .map(|(k, v)| (k, given(k).unwrap_or(v)))
            .filter(|(_, v)| !v.is_empty())
            .collect()
    }
}

fn fulcio_oid(n: u32) -> Result<ObjectIdentifier> {
    ObjectIdentifier::new(&format!("{FULCIO_ARC}.{n}"))
        .map_err(|e| anyhow::anyhow!("OID {FULCIO_ARC}.{n}: {e}"))
}

fn utf8_der(value: &str) -> Result<Vec<u8>> {
    Ok(Utf8StringRef::new(value)?.to_der()?)
}

/// The identity-bearing extensions Fulcio adds for a GitHub Actions token, in Fulcio's order.
fn fulcio_extensions(opts: &SignOptions) -> Result<Vec<Extension>> {
    let claims = opts.resolved_claims();
    let claim = |k: &str| claims.get(k).map(String::as_str).unwrap_or_default();
    let mut exts = vec![
        // .1 predates .8 and holds the bare string; verifiers still read it.
        pki::raw_ext(fulcio_oid(1)?, false, opts.issuer.as_bytes().to_vec())?,
    ];
    // .2 to .6: the deprecated GitHub workflow claims, bare strings, still issued by Fulcio.
    let repo_path = claim("sourceRepositoryURI")
        .strip_prefix("https://github.com/")
        .unwrap_or(claim("sourceRepositoryURI"));
    for (n, value) in [
        (2, claim("buildTrigger")),
        (3, claim("sourceRepositoryDigest")),
        (4, "release"),
        (5, repo_path),
        (6, claim("sourceRepositoryRef")),
    ] {
        if !value.is_empty() {
            exts.push(pki::raw_ext(
                fulcio_oid(n)?,
                false,
                value.as_bytes().to_vec(),
            )?);
        }
    }
    exts.push(pki::raw_ext(
        fulcio_oid(8)?,
        false,
        utf8_der(&opts.issuer)?,
    )?);
    for (name, n) in CLAIMS {
        if let Some(value) = claims.get(name) {
            exts.push(pki::raw_ext(fulcio_oid(n)?, false, utf8_der(value)?)?);
        }
    }
    Ok(exts)
}

/// An RFC 6962 v1 SCT for a precertificate whose TBS (without the SCT list) is `tbs_der`.
fn sct(
    ctlog: &p256::ecdsa::SigningKey,
    issuer_spki: &[u8],
    tbs_der: &[u8],
    timestamp_ms: u64,
) -> Result<Vec<u8>> {
    let log_id = pki::sha256(pki::spki_der(ctlog)?);
    let tbs_len = u32::try_from(tbs_der.len())
        .ok()
        .filter(|l| *l < 1 << 24)
        .context("TBS certificate too large for an SCT")?;

    // digitally-signed struct: version, signature_type certificate_timestamp, timestamp,
    // entry_type precert_entry, PreCert{issuer_key_hash, tbs_certificate<1..2^24-1>},
    // extensions<0..2^16-1>.
    let mut signed = vec![0u8, 0u8];
    signed.extend_from_slice(&timestamp_ms.to_be_bytes());
    signed.extend_from_slice(&1u16.to_be_bytes());
    signed.extend_from_slice(&pki::sha256(issuer_spki));
    signed.extend_from_slice(&tbs_len.to_be_bytes()[1..]);
    signed.extend_from_slice(tbs_der);
    signed.extend_from_slice(&0u16.to_be_bytes());
    let signature = pki::sign_der(ctlog, &signed);

    let mut out = vec![0u8]; // v1
    out.extend_from_slice(&log_id);
    out.extend_from_slice(&timestamp_ms.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes()); // no extensions
    out.extend_from_slice(&[4, 3]); // sha256, ecdsa
    out.extend_from_slice(&(signature.len() as u16).to_be_bytes());
    out.extend_from_slice(&signature);
    Ok(out)
}

/// The embedded-SCT extension: an OCTET STRING holding the TLS SignedCertificateTimestampList.
fn sct_list_extension(sct: &[u8]) -> Result<Extension> {
    let mut list = ((sct.len() + 2) as u16).to_be_bytes().to_vec();
    list.extend_from_slice(&(sct.len() as u16).to_be_bytes());
    list.extend_from_slice(sct);
    pki::raw_ext(SCT_LIST_OID, false, OctetString::new(list)?.to_der()?)
}

/// The DSSE pre-authentication encoding, which is what gets signed.
fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

fn json_str(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// The statement cosign signs for an image, fields in in-toto's own order.
fn statement(subject_name: &str, digest_hex: &str, predicate_type: &str) -> String {
    format!(
        r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":{},"digest":{{"sha256":{}}}}}],"predicateType":{},"predicate":{{}}}}"#,
        json_str(subject_name),
        json_str(digest_hex),
        json_str(predicate_type)
    )
}

/// A Fulcio leaf certificate and the ephemeral key it certifies.
pub struct Signer {
    pub key: p256::ecdsa::SigningKey,
    pub leaf_der: Vec<u8>,
    pub leaf_pem: String,
}

/// The kit root's layout, checked to exist.
pub fn layout(opts: &SignOptions) -> Result<Layout> {
    let layout = Layout::new(&opts.root);
    if !layout.trusted_root().exists() {
        bail!(
            "{} does not exist: make the root with `sigkit mint-root --out {}` first",
            layout.trusted_root().display(),
            opts.root.display()
        );
    }
    Ok(layout)
}

/// What Fulcio issues for one signature made at `now`: an ephemeral key and a leaf with the
/// options' identity, issuer and claims and an embedded SCT. With `--expired` the
/// certificate's window ends an hour before `now`.
pub fn signing_certificate(opts: &SignOptions, layout: &Layout, now: u64) -> Result<Signer> {
    let intermediate_key = pki::load_key(&layout.path(root::FULCIO_INTERMEDIATE_KEY))?;
    let intermediate = pki::load_cert(&layout.path(root::FULCIO_INTERMEDIATE_CRT))?;
    let intermediate_spki = pki::cert_spki(&intermediate)?;
    let ctlog_key = pki::load_key(&layout.path(root::CTLOG_KEY))?;

    // Signing, log integration and timestamping all happen at `now`; only the certificate
    // window moves, so `--expired` fails on exactly one thing.
    let not_after = if opts.expired {
        now - 3600
    } else {
        now - SIGNED_AFTER_ISSUE + CERT_LIFETIME
    };
    let not_before = not_after - CERT_LIFETIME;

    // The ephemeral key cosign generates for one signature and then forgets.
    let ephemeral = pki::new_key();
    let ephemeral_spki = pki::spki_der(&ephemeral)?;
    let san = SubjectAltName(vec![GeneralName::UniformResourceIdentifier(
        Ia5String::new(&opts.identity)
            .with_context(|| format!("--identity {:?} must be ASCII", opts.identity))?,
    )]);
    let mut extensions = vec![
        pki::ext(true, &KeyUsage(KeyUsages::DigitalSignature.into()))?,
        pki::ext(false, &ExtendedKeyUsage(vec![pki::EKU_CODE_SIGNING]))?,
        pki::ext(
            false,
            &SubjectKeyIdentifier(OctetString::new(pki::key_id(&ephemeral_spki))?),
        )?,
        pki::ext(false, &pki::authority_key_id(&intermediate_spki)?)?,
        // Critical because the subject is empty (RFC 5280 §4.2.1.6), as in Fulcio's leaves.
        pki::ext(true, &san)?,
    ];
    extensions.extend(fulcio_extensions(opts)?);
    let mut tbs = pki::tbs(CertSpec {
        serial: pki::random_serial()?,
        issuer: intermediate.tbs_certificate.subject.clone(),
        subject: Name::default(),
        not_before,
        not_after,
        spki: ephemeral_spki,
        extensions,
    })?;
    // The CT log signs the precertificate TBS; the verifier rebuilds it by dropping the SCT
    // list from the final TBS, so the SCT extension must come last and nothing else change.
    let sct = sct(
        &ctlog_key,
        &intermediate_spki,
        &tbs.to_der()?,
        not_before * 1000 + 250,
    )?;
    if let Some(exts) = tbs.extensions.as_mut() {
        exts.push(sct_list_extension(&sct)?);
    }
    let leaf = pki::sign_tbs(tbs, &intermediate_key)?;
    let leaf_der = leaf.to_der()?;
    let leaf_pem = der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, &leaf_der)
        .map_err(|e| anyhow::anyhow!("PEM-encoding the leaf: {e}"))?;
    Ok(Signer {
        key: ephemeral,
        leaf_der,
        leaf_pem,
    })
}

/// The log's ID (sha256 of its key) and its SET over an entry: the log's signature over
/// the RFC 8785 form of the entry's core fields (serde_json's sorted maps give exactly
/// that for these ASCII keys and integers), as Rekor v1 makes it and cosign checks it.
pub fn signed_entry_timestamp(
    rekor_key: &p256::ecdsa::SigningKey,
    body: &str,
    integrated_time: u64,
    log_index: u64,
) -> Result<([u8; 32], Vec<u8>)> {
    let log_id = pki::sha256(pki::spki_der(rekor_key)?);
    let set_payload = json!({
        "body": pki::b64(body.as_bytes()),
        "integratedTime": integrated_time,
        "logID": pki::hex(log_id),
        "logIndex": log_index,
    })
    .to_string();
    Ok((log_id, pki::sign_der(rekor_key, set_payload.as_bytes())))
}

pub fn sign(opts: &SignOptions) -> Result<()> {
    let layout = layout(opts)?;
    let rekor_key = pki::load_key(&layout.path(root::REKOR_KEY))?;
    let now = pki::now_secs()?;
    let Signer {
        key: ephemeral,
        leaf_der,
        leaf_pem,
    } = signing_certificate(opts, &layout, now)?;

    let payload = statement(&opts.subject_name, &opts.digest_hex, &opts.predicate_type);
    let signature = pki::sign_der(&ephemeral, &pae(PAYLOAD_TYPE, payload.as_bytes()));
    let envelope_json = |sig: &[u8]| {
        json!({
            "payload": pki::b64(payload.as_bytes()),
            "payloadType": PAYLOAD_TYPE,
            "signatures": [{ "sig": pki::b64(sig) }],
        })
    };

    // Rekor's canonical form of a dsse 0.0.1 entry: sorted keys, no whitespace.
    let body = json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "envelopeHash": {
                "algorithm": "sha256",
                "value": pki::hex(pki::sha256(envelope_json(&signature).to_string())),
            },
            "payloadHash": {
                "algorithm": "sha256",
                "value": pki::hex(pki::sha256(payload.as_bytes())),
            },
            "signatures": [{
                "signature": pki::b64(&signature),
                "verifier": pki::b64(leaf_pem.as_bytes()),
            }],
        },
    })
    .to_string();

    let mut leaves: Vec<[u8; 32]> = (0..ENTRIES_BEFORE + 1 + ENTRIES_AFTER)
        .map(|i| merkle::leaf_hash(format!("sigkit earlier entry {now}-{i}").as_bytes()))
        .collect();
    leaves[ENTRIES_BEFORE] = merkle::leaf_hash(body.as_bytes());
    let tree_root = merkle::root(&leaves);
    let path = merkle::inclusion_path(ENTRIES_BEFORE, &leaves);
    let tree_index = ENTRIES_BEFORE as u64;
    let log_index = EARLIER_SHARDS_SIZE + tree_index;
    let (log_id, set) = signed_entry_timestamp(&rekor_key, &body, now, log_index)?;

    // Signed note: the body lines, a blank line, then "— <name> base64(keyhint || sig)",
    // the key hint being the first four bytes of the log ID.
    let note_body = format!(
        "{} - {TREE_ID}\n{}\n{}\n",
        root::REKOR_ORIGIN_NAME,
        leaves.len(),
        pki::b64(tree_root)
    );
    let mut note_sig = log_id[..4].to_vec();
    note_sig.extend(pki::sign_der(&rekor_key, note_body.as_bytes()));
    let checkpoint = format!(
        "{note_body}\n\u{2014} {} {}\n",
        root::REKOR_ORIGIN_NAME,
        pki::b64(note_sig)
    );

    let mut timestamps = Vec::new();
    if opts.timestamp {
        let tsa_key = pki::load_key(&layout.path(root::TSA_KEY))?;
        let tsa_cert = pki::load_cert(&layout.path(root::TSA_CRT))?;
        let token = tsa::timestamp(&signature, now, &tsa_key, &tsa_cert)?;
        timestamps.push(json!({ "signedTimestamp": pki::b64(token) }));
    }

    let mut envelope_sig = signature.clone();
    if opts.tamper {
        // The low bit of the last byte sits inside the DER INTEGER s, so the signature
        // still parses and fails only cryptographically.
        if let Some(last) = envelope_sig.last_mut() {
            *last ^= 1;
        }
    }

    let mut verification_material = json!({
        "certificate": { "rawBytes": pki::b64(&leaf_der) },
        "tlogEntries": [{
            "logIndex": log_index.to_string(),
            "logId": { "keyId": pki::b64(log_id) },
            "kindVersion": { "kind": "dsse", "version": "0.0.1" },
            "integratedTime": now.to_string(),
            "inclusionPromise": { "signedEntryTimestamp": pki::b64(set) },
            "inclusionProof": {
                "logIndex": tree_index.to_string(),
                "rootHash": pki::b64(tree_root),
                "treeSize": leaves.len().to_string(),
                "hashes": path.iter().map(pki::b64).collect::<Vec<_>>(),
                "checkpoint": { "envelope": checkpoint },
            },
            "canonicalizedBody": pki::b64(body.as_bytes()),
        }],
    });
    if !timestamps.is_empty() {
        verification_material["timestampVerificationData"] =
            json!({ "rfc3161Timestamps": timestamps });
    }
    let bundle = json!({
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": verification_material,
        "dsseEnvelope": envelope_json(&envelope_sig),
    });
    write_output(&opts.out, &(serde_json::to_string_pretty(&bundle)? + "\n"))
}

pub fn write_output(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::tlv;

    #[test]
    fn claims_default_and_override() {
        let mut o = SignOptions::new(
            "r".into(),
            &format!("sha256:{}", "ab".repeat(32)),
            "o".into(),
        )
        .unwrap();
        o.set_claim("sourceRepositoryURI=https://github.com/acme/tool")
            .unwrap();
        o.set_claim("buildTrigger=").unwrap();
        let c = o.resolved_claims();
        assert_eq!(c["buildSignerURI"], DEFAULT_IDENTITY);
        assert_eq!(c["sourceRepositoryOwnerURI"], "https://github.com/acme");
        assert!(c["buildConfigURI"].starts_with("https://github.com/acme/tool/.github/"));
        assert!(!c.contains_key("buildTrigger"));
        assert!(o.set_claim("nope=1").is_err());
        assert!(o.set_claim("nope").is_err());
    }

    #[test]
    fn digests_are_checked() {
        for bad in [
            "abc",
            "sha256:xyz",
            "sha512:00",
            &format!("sha256:{}", "g".repeat(64)),
        ] {
            assert!(
                SignOptions::new("r".into(), bad, "o".into()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn pae_matches_the_dsse_spec() {
        assert_eq!(pae("t", b"hi"), b"DSSEv1 1 t 2 hi");
    }

    #[test]
    fn tlv_uses_long_form_lengths() {
        assert_eq!(tlv(0x30, &[0; 3])[..2], [0x30, 3]);
        assert_eq!(tlv(0x04, &[0; 200])[..3], [0x04, 0x81, 200]);
        assert_eq!(tlv(0x04, &[0; 300])[..4], [0x04, 0x82, 1, 44]);
    }
}
