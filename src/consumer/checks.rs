//! The checks, per platform of the image: the attestation chain, the VSA, the report,
//! provenance, the policy (digest and decision) and signatures over the attestation manifest.

use oci_spec::image::{Descriptor, ImageManifest};

use super::decide::{Candidate, GivenPolicy, decide, policy_digest};
use super::document::{ImageRoot, ReadError, RootDocument, annotation, parse_manifest};
use super::rows::{PlatformRows, Row};
use super::signatures::{Attested, chain, signature_row};
use super::statements::{Layer, prefix12, provenance, report, vsa};
use super::store::{ImageSpec, Store};
use crate::model::{REPORT_PREDICATE, VSA_PREDICATE, platform_string};
use crate::proto::pb;
use crate::verify::chain::{
    ATTESTATION_REFERENCE_DIGEST as REFERENCE_DIGEST, ATTESTATION_REFERENCE_TYPE as REFERENCE_TYPE,
    PREDICATE_TYPE_ANNOTATION as PREDICATE_TYPE, SLSA_PREFIX,
};
use crate::verify::image::ImageVerifier;

pub struct Checker {
    pub policy: Option<GivenPolicy>,
    pub verifier: ImageVerifier,
    /// `--trusted-root` was given: a verified signature is required.
    pub require_signature: bool,
    pub platform: Option<String>,
}

/// Bad input: printed as one line, exit 2.
pub type Fatal = String;

/// A digest that is not what it should be is a failed check; anything else unreadable is
/// bad input.
fn fatal_unless_integrity(e: ReadError) -> Result<String, Fatal> {
    match e {
        ReadError::Integrity(m) => Ok(m),
        other => Err(other.to_string()),
    }
}

fn short(d: &str) -> String {
    format!(
        "sha256:{}",
        prefix12(d.strip_prefix("sha256:").unwrap_or(d))
    )
}

fn platform_of(d: &Descriptor) -> Option<pb::Platform> {
    let p = d.platform().as_ref()?;
    Some(pb::Platform {
        os: p.os().to_string(),
        architecture: p.architecture().to_string(),
        variant: p.variant().clone().unwrap_or_default(),
        ..Default::default()
    })
}

fn one_row(check: &'static str, detail: String) -> Vec<Row> {
    vec![Row {
        platform: "-".into(),
        check,
        ok: false,
        detail,
    }]
}

/// A platform image of the index: its name, platform and descriptor.
type PlatformImage<'a> = (String, pb::Platform, &'a Descriptor);

/// The platform's attestation manifest, read and checked against the index.
struct Attestation {
    digest: String,
    data: Vec<u8>,
    image_manifest: ImageManifest,
    layers: Vec<Layer>,
}

impl Checker {
    /// Every row for the image; `Err` is bad input (exit 2).
    pub async fn run(&mut self, store: &Store, spec: &ImageSpec) -> Result<Vec<Row>, Fatal> {
        let root = match store.root(spec).await {
            Ok(r) => r,
            Err(e) => return Ok(one_row("image", fatal_unless_integrity(e)?)),
        };
        let entries = match &root.document {
            RootDocument::Index(index) => index.manifests(),
            RootDocument::Manifest(_) => {
                return Ok(one_row(
                    "attestation",
                    format!(
                        "{} is a single image manifest, not an index: it carries no attestations",
                        root.digest
                    ),
                ));
            }
        };
        let mut rows = Vec::new();
        for (name, platform, entry) in self.platforms(&root, entries)? {
            let mut out = PlatformRows::new(name);
            self.platform_checks(store, &root, entries, &platform, entry, &mut out)
                .await?;
            rows.extend(out.rows);
        }
        Ok(rows)
    }

    /// The index's platform images to check (all, or the one `--platform` names).
    fn platforms<'a>(
        &self,
        root: &ImageRoot,
        entries: &'a [Descriptor],
    ) -> Result<Vec<PlatformImage<'a>>, Fatal> {
        let images: Vec<PlatformImage<'a>> = entries
            .iter()
            .filter(|e| annotation(e, REFERENCE_TYPE).is_none())
            .filter_map(|e| platform_of(e).map(|p| (platform_string(&p), p, e)))
            .collect();
        let chosen: Vec<PlatformImage<'a>> = images
            .iter()
            .filter(|(name, p, _)| {
                p.os != "unknown" && self.platform.as_ref().is_none_or(|want| want == name)
            })
            .cloned()
            .collect();
        if !chosen.is_empty() {
            return Ok(chosen);
        }
        let all: Vec<&str> = images.iter().map(|(name, ..)| name.as_str()).collect();
        Err(match &self.platform {
            Some(p) => format!(
                "the image has no platform {p} (it has: {})",
                if all.is_empty() {
                    "none".to_string()
                } else {
                    all.join(", ")
                }
            ),
            None => format!("the index {} lists no platform image", root.digest),
        })
    }

    async fn platform_checks(
        &mut self,
        store: &Store,
        root: &ImageRoot,
        entries: &[Descriptor],
        platform: &pb::Platform,
        entry: &Descriptor,
        out: &mut PlatformRows,
    ) -> Result<(), Fatal> {
        let image = entry.digest().to_string();
        let image_hex = entry.as_digest_sha256().unwrap_or_default();

        // 1. index -> platform manifest -> attestation manifest
        let Some(att_entry) = attestation_entry(entries, &image, out) else {
            return Ok(());
        };
        let Some(att) = read_attestation(store, entry, att_entry, out).await? else {
            return Ok(());
        };
        attestation_row(&att, &image, out);

        // 2. the VSA, the report, provenance
        let vsa = vsa(&att.layers, image_hex, out);
        report(&att.layers, image_hex, vsa.as_ref(), out);
        provenance(&att.layers, image_hex, out);

        // 4 (before 3: the policy reads the verified signatures). Signatures over the
        // attestation manifest, through the same verifier the frontend uses.
        let attested = Attested {
            image: &image,
            attestation: &att.digest,
            attestation_data: &att.data,
            statements: att
                .layers
                .iter()
                .filter_map(|l| l.data.as_deref().ok())
                .collect(),
        };
        let (chain, unreadable) = chain(store, root, &attested).await;
        let checked = self.verifier.check(&chain);

        // 3. the policy, with the image itself as the source
        if let Some(policy) = self.policy.as_mut() {
            policy_digest(policy, vsa.as_ref(), out);
            let config = &att.image_manifest.config();
            match store.blob("image config", config).await {
                Ok(config) => {
                    let signatures = match &checked {
                        Ok(c) => c.signatures.clone(),
                        Err(_) => vec![],
                    };
                    let candidate = Candidate {
                        root,
                        platform,
                        chain: &chain,
                        config,
                        signatures,
                    };
                    decide(policy, candidate, out);
                }
                Err(e) => out.fail("policy", e.to_string()),
            }
        }
        signature_row(checked, unreadable, self.require_signature, out);
        Ok(())
    }
}

/// The index's one attestation manifest for `image`; a failed row when there is none or
/// more than one.
fn attestation_entry<'a>(
    entries: &'a [Descriptor],
    image: &str,
    out: &mut PlatformRows,
) -> Option<&'a Descriptor> {
    let atts: Vec<&Descriptor> = entries
        .iter()
        .filter(|e| {
            annotation(e, REFERENCE_TYPE) == Some("attestation-manifest")
                && annotation(e, REFERENCE_DIGEST) == Some(image)
        })
        .collect();
    match atts.as_slice() {
        [one] => Some(*one),
        [] => {
            out.fail(
                "attestation",
                format!("the index lists no attestation manifest for {image}"),
            );
            None
        }
        many => {
            out.fail(
                "attestation",
                format!(
                    "the index lists {} attestation manifests for {image}",
                    many.len()
                ),
            );
            None
        }
    }
}

/// Reads the platform's image manifest and its attestation manifest (which must be about
/// it) and the statements the attestation manifest lists. `None`: a failed row says why.
async fn read_attestation(
    store: &Store,
    entry: &Descriptor,
    att_entry: &Descriptor,
    out: &mut PlatformRows,
) -> Result<Option<Attestation>, Fatal> {
    let image = entry.digest().as_ref();
    let att = att_entry.digest().to_string();
    let image_manifest = match store.manifest("image manifest", entry).await {
        Ok(d) => parse_manifest("image manifest", image, &d).map_err(|e| e.to_string())?,
        Err(e) => {
            out.fail("attestation", fatal_unless_integrity(e)?);
            return Ok(None);
        }
    };
    let data = match store.manifest("attestation manifest", att_entry).await {
        Ok(d) => d,
        Err(e) => {
            out.fail("attestation", fatal_unless_integrity(e)?);
            return Ok(None);
        }
    };
    let manifest =
        parse_manifest("attestation manifest", &att, &data).map_err(|e| e.to_string())?;
    if let Some(subject) = manifest.subject()
        && subject.digest().as_ref() != image
    {
        out.fail(
            "attestation",
            format!(
                "attestation manifest {att} has subject {}, not {image}",
                subject.digest()
            ),
        );
        return Ok(None);
    }
    let layers = read_statements(store, &manifest).await?;
    Ok(Some(Attestation {
        digest: att,
        data,
        image_manifest,
        layers,
    }))
}

/// The attestation manifest's statement layers (those naming their predicate type). A
/// blob that does not match its digest is kept as such, for its check to fail.
async fn read_statements(store: &Store, manifest: &ImageManifest) -> Result<Vec<Layer>, Fatal> {
    let mut layers = Vec::new();
    for l in manifest.layers() {
        let Some(t) = annotation(l, PREDICATE_TYPE) else {
            continue;
        };
        let data = store.blob("statement", l).await;
        if let Err(ReadError::Unreadable(m) | ReadError::Malformed(m)) = &data {
            return Err(m.clone());
        }
        layers.push(Layer {
            predicate_type: t.to_string(),
            digest: l.digest().to_string(),
            data,
        });
    }
    Ok(layers)
}

/// The attestation row: which statements the attestation manifest holds.
fn attestation_row(att: &Attestation, image: &str, out: &mut PlatformRows) {
    let kinds: Vec<&str> = att
        .layers
        .iter()
        .map(|l| match l.predicate_type.as_str() {
            VSA_PREDICATE => "VSA",
            REPORT_PREDICATE => "report",
            t if t.starts_with(SLSA_PREFIX) => "provenance",
            t => t,
        })
        .collect();
    out.ok(
        "attestation",
        format!(
            "{} for image manifest {} ({})",
            short(&att.digest),
            short(image),
            kinds.join(", ")
        ),
    );
}
