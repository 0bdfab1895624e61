//! `input.image`: the names and platform of an image reference, and what its config and
//! attestation chain say, as Buildx's `sourceToInput` fills `Image`.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{put_nonempty, put_str, put_true};
use crate::model::{Facts, Fetched, platform_string};
use crate::policy::image_names::image_names;
use crate::policy::provenance::{self, Material};
use crate::proto::pb;
use crate::sources::ImageRef;

/// The image object, and the materials its provenance names.
pub(super) fn image(
    r: &ImageRef,
    platform: Option<&pb::Platform>,
    facts: Option<&Facts>,
    fetched: Fetched,
) -> Result<(Value, Vec<Material>), String> {
    let p = platform.ok_or("platform required for image source")?;
    let mut m = image_names(r)?;
    if let Some(t) = r.tag.as_ref().filter(|_| tag_holds(r, facts)) {
        m.insert("tag".into(), json!(t));
    }
    put_str(&mut m, "platform", &platform_string(p));
    put_str(&mut m, "os", &p.os);
    put_str(&mut m, "arch", &p.architecture);
    put_str(&mut m, "variant", &p.variant);
    put_true(&mut m, "isCanonical", r.digest.is_some());
    let (resolved, config, chain) = match facts {
        Some(Facts::Image {
            digest,
            config,
            chain,
            ..
        }) => (Some(digest.as_str()), config.as_deref(), chain.as_ref()),
        Some(Facts::Blob { digest }) => (Some(digest.as_str()), None, None),
        _ => (None, None, None),
    };
    // BuildKit returns the digest with any image metadata; before, only a written one is known.
    let checksum = r
        .digest
        .as_deref()
        .or(resolved.filter(|_| fetched.any_image()));
    put_str(&mut m, "checksum", checksum.unwrap_or_default());
    if let Some(cfg) = config.filter(|_| fetched.image_config) {
        image_config(&mut m, cfg)?;
    }
    let mut materials = Vec::new();
    if let Some(chain) = chain.filter(|_| fetched.chain()) {
        // Without the statements Buildx finds no provenance in the chain.
        let prov = match fetched.image_provenance {
            true => provenance::from_chain(chain)?,
            false => None,
        };
        put_true(
            &mut m,
            "hasProvenance",
            !chain.attestation_manifest.is_empty() || prov.is_some(),
        );
        if let Some(p) = prov {
            m.insert("provenance".into(), Value::Object(p.fields));
            materials = p.materials;
        }
    }
    Ok((Value::Object(m), materials))
}

/// A tag is a claim about the digest; with both written, BuildKit uses the digest. When
/// the tag was checked and names another digest now, the policy does not get the tag.
fn tag_holds(r: &ImageRef, facts: Option<&Facts>) -> bool {
    match (facts, &r.digest) {
        (
            Some(Facts::Image {
                tag_digest: Some(t),
                ..
            }),
            Some(d),
        ) => d == t,
        _ => true,
    }
}

/// What the policy reads of an image config. Its runtime part is oci-spec's `Config`; the
/// rest is not required, as Buildx's decoder (Go's) does not require `architecture`, `os`
/// or `rootfs`, which oci-spec's `ImageConfiguration` does.
#[derive(Deserialize)]
struct ImageConfig {
    created: Option<String>,
    config: Option<oci_spec::image::Config>,
}

fn image_config(m: &mut Map<String, Value>, raw: &[u8]) -> Result<(), String> {
    let cfg: ImageConfig =
        serde_json::from_slice(raw).map_err(|e| format!("image config is malformed: {e}"))?;
    if let Some(created) = &cfg.created {
        let t = rfc3339_seconds(created)
            .map_err(|e| format!("image config is malformed: created {created:?}: {e}"))?;
        m.insert("createdTime".into(), json!(t));
    }
    let c = cfg.config.unwrap_or_default();
    put_nonempty(m, "env", json!(c.env().clone().unwrap_or_default()));
    put_nonempty(m, "labels", json!(c.labels().clone().unwrap_or_default()));
    put_str(m, "user", c.user().as_deref().unwrap_or_default());
    // Buildx lists volumes in Go's map order, which is random; sorted is one of its orders.
    let mut volumes = c.volumes().clone().unwrap_or_default();
    volumes.sort();
    put_nonempty(m, "volumes", json!(volumes));
    put_str(
        m,
        "workingDir",
        c.working_dir().as_deref().unwrap_or_default(),
    );
    Ok(())
}

/// An RFC 3339 time as Go's `Time.Format(time.RFC3339)` writes what it parsed: whole
/// seconds, the offset as written, `Z` for a zero one.
pub(crate) fn rfc3339_seconds(s: &str) -> Result<String, String> {
    s.parse::<jiff::Timestamp>()
        .map_err(|e| format!("not an RFC 3339 time: {e}"))?;
    let (head, rest) = s
        .split_at_checked(19)
        .ok_or_else(|| "not an RFC 3339 time".to_string())?;
    let offset = rest
        .trim_start_matches(|c: char| c == '.' || c.is_ascii_digit())
        .to_string();
    let offset = match offset.as_str() {
        "Z" | "z" | "+00:00" | "-00:00" => "Z".to_string(),
        _ => offset,
    };
    Ok(format!("{}T{}{offset}", &head[..10], &head[11..]))
}
