//! Named contexts that make the Dockerfile frontend use exactly the images decided.
//!
//! The Dockerfile frontend reads an image's config (ENV, USER, ONBUILD, ...) when it
//! converts the Dockerfile, before this frontend sees the graph. Rewriting only the source
//! op afterwards would give the layers of one image with the config of another. So an image
//! the policy converts (`pin_image`) is handed back to the Dockerfile frontend as the named
//! context it looks up for that name (`context:<name>=docker-image://<ref>@<digest>`), and
//! the frontend runs again; and an image named context the client gave by tag is pinned to a
//! digest first, because the Dockerfile frontend does not write the digest it resolved for a
//! named context into the graph.

use std::collections::{BTreeMap, BTreeSet};

use futures::stream::{self, StreamExt};

use crate::error::{Error, Result};
use crate::gateway::Bridge;
use crate::gateway::options::Options;
use crate::proto::pb;
use crate::resolve;
use crate::sources::ImageRef;
use crate::sources::image_ref::familiar_name;

const CONTEXT_PREFIX: &str = "context:";
const IMAGE_SCHEME: &str = "docker-image://";
/// The Dockerfile frontend's name for an empty image context.
const EMPTY_IMAGE: &str = "scratch";
/// Named contexts resolved at once.
const IN_FLIGHT: usize = 8;

/// The client's image named contexts given by tag, pinned to what the tag names now. Returns
/// each pinned identifier with the one the client gave: Buildx decides that one (the
/// Dockerfile frontend resolves it, and the graph names it so), never the pinned one.
pub async fn pin_client_contexts(
    bridge: &Bridge,
    opts: &Options,
    forwarded: &mut BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>> {
    let mut wanted = Vec::new();
    for (key, value) in &opts.all {
        let Some(name) = key.strip_prefix(CONTEXT_PREFIX) else {
            continue;
        };
        let Some(reference) = value.strip_prefix(IMAGE_SCHEME) else {
            continue;
        };
        if reference == EMPTY_IMAGE {
            continue;
        }
        let r = ImageRef::normalize(reference)
            .map_err(|e| Error::option(key, format!("{reference:?}: {e}")))?;
        if r.digest.is_none() {
            wanted.push((key, name, format!("{IMAGE_SCHEME}{r}")));
        }
    }
    // The root digest (the index for a multi-platform image) serves every platform the
    // context is used for. One that does not resolve is left as written: the Dockerfile
    // frontend fails on it only if the build uses it, and then the graph names it without
    // a digest, so the rounds hand it back pinned before it is built.
    let resolved: Vec<_> = stream::iter(wanted.into_iter().map(|(key, name, identifier)| {
        let op = pb::SourceOp {
            identifier,
            attrs: BTreeMap::new(),
        };
        async move {
            let res = resolve::resolve(bridge, &op, None, Default::default()).await;
            (key, name, op.identifier, res)
        }
    }))
    .buffered(IN_FLIGHT)
    .collect()
    .await;
    let mut pinned = BTreeMap::new();
    for (key, name, identifier, res) in resolved {
        match res {
            Ok(res) => {
                let id = res.pinned_identifier().to_string();
                pinned.insert(id.clone(), identifier);
                forwarded.insert(key.clone(), id);
            }
            Err(e) => crate::daemon_log!("named context {name} not pinned yet: {e}"),
        }
    }
    Ok(pinned)
}

/// One image source of the graph and what the policy made of it.
pub struct ImageUse<'a> {
    /// The identifier in the graph.
    pub identifier: &'a str,
    /// The converted identifier, when `pin_image` replaced the image.
    pub converted: Option<&'a str>,
}

/// The named contexts that hand every converted image to the Dockerfile frontend whole.
///
/// Keys are the names the Dockerfile frontend looks up: the familiar reference as the user
/// may have written it, with and without the digest it resolved. A key that an unconverted
/// (or differently converted) source of the graph shares is left out, so no other source
/// changes; a conversion no key reaches is caught when the next run still converts it.
pub fn for_conversions(
    uses: &[ImageUse],
    forwarded: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut targets: BTreeMap<String, BTreeSet<Option<&str>>> = BTreeMap::new();
    for u in uses {
        let Some(reference) = u.identifier.strip_prefix(IMAGE_SCHEME) else {
            continue;
        };
        let Ok(r) = ImageRef::parse(reference) else {
            continue;
        };
        for key in lookup_names(&r) {
            targets
                .entry(format!("{CONTEXT_PREFIX}{key}"))
                .or_default()
                .insert(u.converted);
        }
        // A client's named context that resolved to this source, as written or as the
        // graph writes it (normalized).
        let normalized = ImageRef::normalize(reference).ok();
        for (key, value) in forwarded {
            let Some(v) = value.strip_prefix(IMAGE_SCHEME) else {
                continue;
            };
            let same = v == reference
                || (normalized.is_some() && ImageRef::normalize(v).ok() == normalized);
            if key.starts_with(CONTEXT_PREFIX) && same {
                targets.entry(key.clone()).or_default().insert(u.converted);
            }
        }
    }
    targets
        .into_iter()
        .filter_map(|(key, set)| match set.into_iter().collect::<Vec<_>>()[..] {
            [Some(converted)] => Some((key, converted.to_string())),
            _ => None,
        })
        .collect()
}

/// Whether `identifier` (a graph's `docker-image://` source) is the image of one of the
/// client's image named contexts, compared in normalized form.
pub fn names_client_context(identifier: &str, forwarded: &BTreeMap<String, String>) -> bool {
    let Some(wanted) = identifier
        .strip_prefix(IMAGE_SCHEME)
        .and_then(|r| ImageRef::normalize(r).ok())
    else {
        return false;
    };
    forwarded.iter().any(|(key, value)| {
        key.starts_with(CONTEXT_PREFIX)
            && value
                .strip_prefix(IMAGE_SCHEME)
                .and_then(|v| ImageRef::normalize(v).ok())
                .is_some_and(|v| v == wanted)
    })
}

/// The names under which the Dockerfile frontend may have looked this image up: its
/// familiar form (Docker's `FamiliarName`: Docker Hub's `docker.io/` and the official
/// images' `library/` dropped; `:latest` trimmed), as written
/// with a digest and as written without the digest it then resolved.
fn lookup_names(r: &ImageRef) -> Vec<String> {
    let name = r.domain_and_path().map_or_else(
        |_| r.name.clone(),
        |(domain, path)| familiar_name(&domain, &path),
    );
    let tagged = match r.tag.as_deref() {
        Some(t) => format!("{name}:{t}"),
        None => name.clone(),
    };
    let mut names = Vec::new();
    if let Some(d) = &r.digest {
        names.push(format!("{tagged}@{d}"));
    }
    if r.tag.is_some() || r.digest.is_none() {
        names.push(
            tagged
                .strip_suffix(":latest")
                .unwrap_or(&tagged)
                .to_string(),
        );
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn names_are_those_the_dockerfile_frontend_looks_up() {
        let n = |s: &str| lookup_names(&ImageRef::parse(s).unwrap());
        assert_eq!(
            n(&format!("docker.io/library/alpine:latest@{A}")),
            [format!("alpine:latest@{A}"), "alpine".to_string()]
        );
        assert_eq!(
            n(&format!("127.0.0.1:5000/adv/base:a@{A}")),
            [
                format!("127.0.0.1:5000/adv/base:a@{A}"),
                "127.0.0.1:5000/adv/base:a".to_string()
            ]
        );
        assert_eq!(
            n(&format!("docker.io/user/app@{A}")),
            [format!("user/app@{A}")]
        );
    }

    #[test]
    fn a_conversion_becomes_named_contexts_unless_another_source_shares_the_name() {
        let a = format!("docker-image://127.0.0.1:5000/adv/base:a@{A}");
        let to_b = format!("docker-image://127.0.0.1:5000/adv/base:a@{B}");
        let uses = [ImageUse {
            identifier: &a,
            converted: Some(&to_b),
        }];
        let mut client = BTreeMap::new();
        client.insert(
            "context:base".to_string(),
            format!("docker-image://127.0.0.1:5000/adv/base:a@{A}"),
        );
        let got = for_conversions(&uses, &client);
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got["context:127.0.0.1:5000/adv/base:a"], to_b);
        assert_eq!(got[&format!("context:127.0.0.1:5000/adv/base:a@{A}")], to_b);
        assert_eq!(got["context:base"], to_b);
        // The same tag resolved elsewhere to another digest and not converted: only the
        // digest-qualified name is safe.
        let other = format!("docker-image://127.0.0.1:5000/adv/base:a@{B}");
        let uses = [
            ImageUse {
                identifier: &a,
                converted: Some(&to_b),
            },
            ImageUse {
                identifier: &other,
                converted: None,
            },
        ];
        let got = for_conversions(&uses, &BTreeMap::new());
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            [&format!("context:127.0.0.1:5000/adv/base:a@{A}")]
        );
    }

    #[test]
    fn a_client_context_by_tag_is_found_in_the_graph_normalized() {
        // `--build-context base=docker-image://busybox` reaches the graph as BuildKit
        // writes it; the context must be handed back pinned under the client's key.
        let graph = "docker-image://docker.io/library/busybox:latest";
        let pinned = format!("docker-image://docker.io/library/busybox:latest@{A}");
        let uses = [ImageUse {
            identifier: graph,
            converted: Some(&pinned),
        }];
        let client = BTreeMap::from([
            (
                "context:base".to_string(),
                "docker-image://busybox".to_string(),
            ),
            (
                "context:other".to_string(),
                "docker-image://alpine".to_string(),
            ),
        ]);
        let got = for_conversions(&uses, &client);
        assert_eq!(got["context:base"], pinned);
        assert_eq!(got["context:busybox"], pinned);
        assert!(!got.contains_key("context:other"), "{got:?}");
    }

    #[test]
    fn only_a_client_context_image_counts_as_one() {
        let mut client = BTreeMap::new();
        client.insert(
            "context:base".to_string(),
            "docker-image://foo:1".to_string(),
        );
        client.insert(
            "build-arg:X".to_string(),
            "docker-image://bar:1".to_string(),
        );
        let named = |id: &str| names_client_context(id, &client);
        assert!(named("docker-image://docker.io/library/foo:1"));
        assert!(!named("docker-image://docker.io/library/foo:2"));
        // Not a context option, and not an image.
        assert!(!named("docker-image://docker.io/library/bar:1"));
        assert!(!named("git://example.com/foo"));
    }
}
