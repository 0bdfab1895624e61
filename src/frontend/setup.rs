//! Stage "options -> policies": the policies read and compiled before anything else is
//! resolved (a broken policy fails the build at once), what they need fetched, and the trust
//! roots signatures are checked against.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::places::{self, Place, PlaceDir, Places};
use crate::attest;
use crate::error::{Error, Result};
use crate::gateway::{Bridge, Options};
use crate::knob;
use crate::model::{Mode, Needs, TrustRootRecord};
use crate::policy::needs::FetchModel;
use crate::policy::{self, PolicySet, PolicySource};
use crate::verify::image::ImageVerifier;
use crate::verify::trust::SigstoreRoot;

pub struct Setup {
    pub policies: PolicySet,
    /// Per policy, what Buildx would fetch for it.
    pub models: Vec<FetchModel>,
    /// The progress vertex the policy files were read in; warnings attach to it.
    pub load_vertex: String,
    pub needs: Needs,
    /// Present when a policy reads image signatures.
    pub images: Option<ImageVerifier>,
    /// How the attestations name the trust root, when one was loaded.
    pub trust_root: Option<TrustRootRecord>,
}

/// `places`: where the Dockerfile frontend reads the Dockerfile and the build context.
pub async fn policies(bridge: &Bridge, opts: &Options, places: &Places) -> Result<Setup> {
    let (mut policies, models, load_vertex) = match opts.policy_mode {
        Mode::Off => (PolicySet::compile(vec![])?, Vec::new(), String::new()),
        Mode::Enforce | Mode::Warn | Mode::ReportOnly => {
            let req = places::load_request(opts);
            let dir = |place| PlaceDir {
                bridge,
                opts,
                place,
            };
            let mut loaded =
                policy::load_all(&req, &dir(&places.dockerfile), &dir(&places.context)).await?;
            // The knob's policy comes last: another policy that must allow, and the one the
            // report names for a source every policy allowed.
            if opts.verified.is_some() {
                loaded
                    .sources
                    .push(builtin(bridge, opts, &places.dockerfile).await?);
                loaded.found = true;
            }
            loaded.require_strict(&req)?;
            if let Some(line) = loaded.notice() {
                notice(bridge, &line).await?;
            }
            let models = loaded
                .sources
                .iter()
                .map(|s| FetchModel::new(&s.modules))
                .collect();
            (PolicySet::compile(loaded.sources)?, models, loaded.vertex)
        }
    };
    let needs = if policies.is_empty() {
        Needs::default()
    } else {
        policies.needs()
    };
    let mut trust_root = None;
    let images = if needs.image_attestations || opts.trusted_root.is_some() {
        let roots = match &opts.trusted_root {
            Some(path) => {
                let (root, roots) = context_root(bridge, opts, &places.context, path).await?;
                trust_root = Some(root);
                // The build's own root replaces the embedded ones for downloads too.
                policies.set_trust_roots(roots.clone());
                roots
            }
            None => {
                trust_root = Some(TrustRootRecord::embedded());
                SigstoreRoot::embedded()
                    .map_err(|e| Error::option("trusted-root", e))?
                    .into()
            }
        };
        needs.image_attestations.then(|| ImageVerifier::new(roots))
    } else {
        None
    };
    Ok(Setup {
        policies,
        models,
        load_vertex,
        needs,
        images,
        trust_root,
    })
}

/// The built-in policy of `verified=`, with what the Dockerfile pins itself and the settings
/// file beside it (and the bundles that names), all read where the Dockerfile is.
async fn builtin(bridge: &Bridge, opts: &Options, dockerfile: &Place) -> Result<PolicySource> {
    let filename = opts
        .all
        .get("filename")
        .filter(|f| !f.is_empty())
        .map_or("Dockerfile", String::as_str);
    let read = |path: String| async move {
        let found = places::read_at_with_definition(bridge, opts, dockerfile, &path).await?;
        Ok::<_, Error>(found.map(|(d, _)| d))
    };
    let mut text = read(filename.to_string()).await?;
    if text.is_none() && filename.rsplit('/').next() == Some("Dockerfile") {
        // As the Dockerfile frontend falls back to `dockerfile`.
        let lower = format!(
            "{}dockerfile",
            filename.strip_suffix("Dockerfile").unwrap_or("")
        );
        text = read(lower).await?;
    }
    let text = text.unwrap_or_default();
    let pins = knob::WrittenPins::scan(&String::from_utf8_lossy(&text));
    let path = knob::settings_path(filename);
    let shown = dockerfile.describe(&path);
    let settings = match read(path.clone()).await? {
        Some(data) => knob::Settings::parse(&shown, &data)?,
        None => knob::Settings::default(),
    };
    let dir = filename.rsplit_once('/').map_or("", |(d, _)| d);
    let mut bundles = BTreeMap::new();
    for b in settings.bundles() {
        let at = if dir.is_empty() {
            b.to_string()
        } else {
            format!("{dir}/{b}")
        };
        let data = read(at).await?.ok_or_else(|| Error::Policy {
            file: shown.clone(),
            message: format!("downloads: bundle {b} not found beside the Dockerfile"),
        })?;
        bundles.insert(b.to_string(), data);
    }
    knob::source(&pins, &settings, bundles)
}

/// A line in the client's progress as a step of its own (not a warning: a build without a
/// policy is a supported build, and BuildKit's Dockerfile tests count warnings).
async fn notice(bridge: &Bridge, line: &str) -> Result<()> {
    let def =
        attest::named_files_definition(&[("/notice".into(), line.as_bytes().to_vec())], Some(line));
    crate::daemon_log!("{line}");
    bridge.evaluate_definition(def).await.map(drop)
}

/// The `trusted-root` file, from the build context or the named context holding it.
async fn context_root(
    bridge: &Bridge,
    opts: &Options,
    context: &Place,
    path: &str,
) -> Result<(TrustRootRecord, Arc<[SigstoreRoot]>)> {
    let named = opts.trusted_root_context.as_deref();
    let data = places::context_file(bridge, opts, context, path, named).await?;
    let uri = match named {
        None => format!("context:{path}"),
        Some(n) => format!("named-context:{n}:{path}"),
    };
    let root = TrustRootRecord::file(uri, &data);
    let text = String::from_utf8(data)
        .map_err(|_| Error::option("trusted-root", format!("{path} is not text")))?;
    let roots: Arc<[SigstoreRoot]> =
        vec![SigstoreRoot::from_json(path, &text).map_err(|e| Error::option("trusted-root", e))?]
            .into();
    Ok((root, roots))
}
