//! Signatures of git commits and annotated tags, verified from the raw objects: OpenPGP
//! (rpgp) and SSH (`sshsig`, namespace `git`), against a key file the policy names.

use pgp::composed::{Deserializable, DetachedSignature, SignedPublicKey};
use pgp::packet::SignatureVersion;
use serde_json::{Value, json};
use ssh_key::{HashAlg, PublicKey, SshSig};

/// A signature found in a git object, as armored text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature {
    Pgp(String),
    Ssh(String),
}

impl Signature {
    fn classify(armored: &str) -> Option<Signature> {
        if armored.starts_with("-----BEGIN PGP SIGNATURE-----") {
            Some(Signature::Pgp(armored.to_string()))
        } else if armored.starts_with("-----BEGIN SSH SIGNATURE-----") {
            Some(Signature::Ssh(armored.to_string()))
        } else {
            None
        }
    }
}

/// A signed git object split into what was signed and the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub payload: Vec<u8>,
    pub signature: Option<Signature>,
}

/// A commit signs itself without its `gpgsig` header (and the header's continuation lines).
pub fn split_commit(raw: &[u8]) -> Signed {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = match text.find("\n\n") {
        Some(i) => (&text[..i + 1], &text[i + 1..]),
        None => (&text[..], ""),
    };
    let mut payload = String::with_capacity(raw.len());
    let mut sig: Option<String> = None;
    let mut in_sig = false;
    for line in head.split_inclusive('\n') {
        if let Some(rest) = line
            .strip_prefix("gpgsig ")
            .or_else(|| line.strip_prefix("gpgsig-sha256 "))
        {
            in_sig = true;
            sig = Some(rest.trim_end_matches('\n').to_string());
            continue;
        }
        if in_sig && let Some(cont) = line.strip_prefix(' ') {
            let s = sig.get_or_insert_with(String::new);
            s.push('\n');
            s.push_str(cont.trim_end_matches('\n'));
            continue;
        }
        in_sig = false;
        payload.push_str(line);
    }
    payload.push_str(body);
    Signed {
        payload: payload.into_bytes(),
        signature: sig.as_deref().and_then(Signature::classify),
    }
}

/// An annotated tag signs everything before the armored signature at the end of its message.
pub fn split_tag(raw: &[u8]) -> Signed {
    let text = String::from_utf8_lossy(raw);
    let start = [
        "-----BEGIN PGP SIGNATURE-----",
        "-----BEGIN SSH SIGNATURE-----",
    ]
    .iter()
    .filter_map(|m| text.find(m))
    .min();
    match start {
        Some(i) => Signed {
            payload: text[..i].as_bytes().to_vec(),
            signature: Signature::classify(text[i..].trim_end()),
        },
        None => Signed {
            payload: raw.to_vec(),
            signature: None,
        },
    }
}

fn pgp_version(v: SignatureVersion) -> u8 {
    match v {
        SignatureVersion::V2 => 2,
        SignatureVersion::V3 => 3,
        SignatureVersion::V4 => 4,
        SignatureVersion::V5 => 5,
        SignatureVersion::V6 => 6,
        SignatureVersion::Other(n) => n,
    }
}

/// Buildx's summary of a signature: `{"pgpSignature": {version, keyID}}` with the issuer key
/// id as 16 lowercase hex digits, or `{"sshSignature": {version, pubKey}}` with the signing
/// key's SHA256 fingerprint. `None` when the signature cannot be parsed.
pub fn summary(sig: &Signature) -> Option<(&'static str, Value)> {
    match sig {
        Signature::Pgp(armored) => {
            let (s, _) = DetachedSignature::from_string(armored).ok()?;
            let key_id = s
                .signature
                .issuer_key_id()
                .first()
                .map(|k| hex::encode(k.as_ref()))
                .unwrap_or_default();
            Some((
                "pgpSignature",
                json!({"version": pgp_version(s.signature.version()), "keyID": key_id}),
            ))
        }
        Signature::Ssh(armored) => {
            let s = SshSig::from_pem(armored).ok()?;
            Some((
                "sshSignature",
                json!({
                    "version": s.version(),
                    "pubKey": s.public_key().fingerprint(HashAlg::Sha256).to_string(),
                }),
            ))
        }
    }
}

/// Whether `signed` carries a signature that verifies with a key in `keyfile`. A key file
/// that cannot be read is an error; an unsigned object or a signature by another key is
/// `false`.
pub fn verify(signed: &Signed, keyfile: &[u8]) -> Result<bool, String> {
    match &signed.signature {
        None => Ok(false),
        Some(Signature::Pgp(armored)) => {
            let keys = pgp_keys(keyfile)?;
            let (sig, _) = DetachedSignature::from_string(armored)
                .map_err(|e| format!("cannot parse the PGP signature: {e}"))?;
            Ok(keys.iter().any(|k| {
                sig.verify(&k.primary_key, &signed.payload).is_ok()
                    || k.public_subkeys
                        .iter()
                        .any(|sk| sig.verify(sk, &signed.payload).is_ok())
            }))
        }
        Some(Signature::Ssh(armored)) => {
            let keys = ssh_keys(keyfile)?;
            let sig = SshSig::from_pem(armored)
                .map_err(|e| format!("cannot parse the SSH signature: {e}"))?;
            Ok(keys
                .iter()
                .any(|k| k.verify("git", &signed.payload, &sig).is_ok()))
        }
    }
}

/// OpenPGP public keys, armored (`.asc`) or binary (`.gpg`), one or several.
pub(crate) fn pgp_keys(data: &[u8]) -> Result<Vec<SignedPublicKey>, String> {
    let armored = data.starts_with(b"-----BEGIN");
    let keys: Vec<SignedPublicKey> = if armored {
        SignedPublicKey::from_armor_many(data)
            .map_err(|e| format!("cannot read the PGP key file: {e}"))?
            .0
            .collect::<Result<_, _>>()
            .map_err(|e| format!("cannot read the PGP key file: {e}"))?
    } else {
        SignedPublicKey::from_bytes_many(data)
            .map_err(|e| format!("cannot read the PGP key file: {e}"))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("cannot read the PGP key file: {e}"))?
    };
    if keys.is_empty() {
        return Err("the PGP key file holds no public key".into());
    }
    Ok(keys)
}

/// SSH public keys, one per line (`ssh-ed25519 AAAA… comment`), allowed_signers lines
/// (`principal [options] ssh-ed25519 AAAA…`) included.
fn ssh_keys(data: &[u8]) -> Result<Vec<PublicKey>, String> {
    let text = std::str::from_utf8(data).map_err(|_| "the SSH key file is not text".to_string())?;
    let keys: Vec<PublicKey> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            // The key starts at the first field that is a key type.
            let fields: Vec<&str> = l.split_whitespace().collect();
            (0..fields.len()).find_map(|i| PublicKey::from_openssh(&fields[i..].join(" ")).ok())
        })
        .collect();
    if keys.is_empty() {
        return Err("the SSH key file holds no public key".into());
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(name: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("testdata/git-signatures")
                .join(name),
        )
        .unwrap()
    }

    fn text(name: &str) -> String {
        String::from_utf8(v(name)).unwrap().trim().to_string()
    }

    #[test]
    fn pgp_signed_commit_and_tag_verify_with_the_signer_key_only() {
        for (obj, signed) in [
            ("commit-pgp", split_commit(&v("commit-pgp"))),
            ("tag-pgp", split_tag(&v("tag-pgp"))),
        ] {
            assert!(matches!(signed.signature, Some(Signature::Pgp(_))), "{obj}");
            assert_eq!(verify(&signed, &v("pgp-signer.asc")), Ok(true), "{obj}");
            assert_eq!(verify(&signed, &v("pgp-other.asc")), Ok(false), "{obj}");
            let (kind, s) = summary(signed.signature.as_ref().unwrap()).unwrap();
            assert_eq!(kind, "pgpSignature");
            assert_eq!(s["keyID"], text("pgp-signer.keyid").to_lowercase(), "{obj}");
            assert_eq!(s["version"], 4);
        }
    }

    #[test]
    fn ssh_signed_commit_and_tag_verify_with_the_signer_key_only() {
        for (obj, signed) in [
            ("commit-ssh", split_commit(&v("commit-ssh"))),
            ("tag-ssh", split_tag(&v("tag-ssh"))),
        ] {
            assert!(matches!(signed.signature, Some(Signature::Ssh(_))), "{obj}");
            assert_eq!(verify(&signed, &v("ssh-signer.pub")), Ok(true), "{obj}");
            assert_eq!(verify(&signed, &v("ssh-other.pub")), Ok(false), "{obj}");
            let (kind, s) = summary(signed.signature.as_ref().unwrap()).unwrap();
            assert_eq!(kind, "sshSignature");
            assert_eq!(s["pubKey"], text("ssh-signer.fingerprint"), "{obj}");
            assert_eq!(s["version"], 1);
        }
        // an allowed_signers line works as a key file too
        let line = format!("signer@example.com {}", text("ssh-signer.pub"));
        assert_eq!(
            verify(&split_commit(&v("commit-ssh")), line.as_bytes()),
            Ok(true)
        );
    }

    #[test]
    fn tampered_or_unsigned_objects_do_not_verify() {
        let mut raw = v("commit-pgp");
        let i = raw
            .windows(17)
            .position(|w| w == b"pgp signed commit")
            .unwrap();
        raw[i] = b'P';
        assert_eq!(verify(&split_commit(&raw), &v("pgp-signer.asc")), Ok(false));
        let mut raw = v("tag-ssh");
        let i = raw.windows(3).position(|w| w == b"tag").unwrap();
        raw[i] = b'T';
        assert_eq!(verify(&split_tag(&raw), &v("ssh-signer.pub")), Ok(false));
        let unsigned = split_commit(&v("commit-unsigned"));
        assert_eq!(unsigned.signature, None);
        assert_eq!(unsigned.payload, v("commit-unsigned"));
        assert_eq!(verify(&unsigned, &v("pgp-signer.asc")), Ok(false));
    }

    #[test]
    fn a_signature_checked_with_the_wrong_kind_of_key_is_a_clear_error() {
        let err = verify(&split_commit(&v("commit-pgp")), &v("ssh-signer.pub")).unwrap_err();
        assert!(err.contains("PGP key file"), "{err}");
        let err = verify(&split_commit(&v("commit-ssh")), &v("pgp-signer.asc")).unwrap_err();
        assert!(err.contains("SSH key file"), "{err}");
        assert!(verify(&split_commit(&v("commit-pgp")), b"garbage").is_err());
    }
}
