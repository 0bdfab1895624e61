//! Stage "options -> main context": where the Dockerfile frontend will read the Dockerfile
//! and the build context, made exact before anything is read from them.
//!
//! A remote context (a git URL, an http(s) tarball or single Dockerfile, a client's tar
//! upload) and a Dockerfile given as a frontend input are sources like any other. They are
//! resolved and pinned first, the policies are read from the pinned content, then they are
//! decided by those policies (roles `context` and `dockerfile`) before the Dockerfile
//! frontend runs; and the Dockerfile frontend gets the pinned content: a git context as its
//! URL with the commit (`checksum=`), which BuildKit enforces on every fetch, anything else
//! as frontend inputs holding the pinned definition.

mod git;
mod http;

use std::collections::{BTreeMap, HashMap};

use prost::Message;

use super::decide::Decider;
use super::places::{Place, Places};
use crate::error::{Error, Result};
use crate::gateway::{Bridge, Options};
use crate::graph::{self, ParsedDefinition, SourceUpdate, digest_of};
use crate::model::{Needs, Role, SourceKind, SourceRecord};
use crate::proto::{gw, pb};
use crate::resolve;
use git::GitContext;

/// The Dockerfile frontend's names for its inputs and options.
const INPUT_CONTEXT: &str = "context";
const INPUT_DOCKERFILE: &str = "dockerfile";
const OPT_CONTEXT_KEY: &str = "contextkey";
const OPT_DOCKERFILE_KEY: &str = "dockerfilekey";
const OPT_CONTEXT_SUBDIR: &str = "contextsubdir";
const OPT_FILENAME: &str = "filename";

pub struct MainContext {
    pub places: Places,
    /// The frontend inputs the Dockerfile frontend gets: the client's, pinned where read.
    pub inputs: BTreeMap<String, Vec<u8>>,
    /// Options set (`Some`) or dropped (`None`) for the Dockerfile frontend.
    forward: BTreeMap<String, Option<String>>,
    /// The pinned sources the Dockerfile and the policies were read from, to decide.
    entries: Vec<Entry>,
    /// A git context's identifier and the commit it was read at.
    git: Option<(String, String)>,
    /// Whether the build context is a frontend input (read only if a policy reads it).
    context_input: bool,
}

/// A source pinned before anything was read from it.
struct Entry {
    role: Role,
    location: String,
    /// The identifier as written.
    original: String,
    /// The op with its pin.
    op: pb::SourceOp,
    platform: Option<pb::Platform>,
    /// The digest, commit or checksum it was read at.
    resolved: String,
    pin: Option<SourceUpdate>,
}

/// Finds where the Dockerfile frontend reads from (dockerui's `initContext`) and pins it.
pub async fn open(bridge: &Bridge, opts: &Options) -> Result<MainContext> {
    let mut main = MainContext {
        places: Places::local(opts),
        inputs: bridge.inputs().await?,
        forward: BTreeMap::new(),
        entries: Vec::new(),
        git: None,
        context_input: false,
    };
    // dockerui reads the context from the option `contextkey` names, `context` by default.
    let key = opts
        .all
        .get(OPT_CONTEXT_KEY)
        .map_or(INPUT_CONTEXT, String::as_str);
    let value = opts.all.get(key).cloned().unwrap_or_default();
    if let Some(g) = GitContext::parse(&value, &opts.all)? {
        main.open_git(bridge, opts, key, &value, g).await?;
    } else if http::is_http(&value) {
        main.open_http(bridge, opts, key, &value).await?;
    } else {
        main.open_inputs(bridge, opts).await?;
    }
    Ok(main)
}

impl MainContext {
    async fn open_git(
        &mut self,
        bridge: &Bridge,
        opts: &Options,
        key: &str,
        value: &str,
        g: GitContext,
    ) -> Result<()> {
        let entry = pin(bridge, &g.op, None, Role::Context, "build context").await?;
        let checksum = entry
            .op
            .attrs
            .get("git.checksum")
            .cloned()
            .unwrap_or_else(|| entry.resolved.clone());
        let def = source_definition(&entry, &format!("load build context {value}"));
        let place = solve(bridge, def, value).await?;
        self.set_places(opts, place);
        self.forward
            .insert(key.to_string(), Some(g.pinned(&checksum)));
        self.git = Some((entry.op.identifier.clone(), entry.resolved.clone()));
        self.entries.push(entry);
        Ok(())
    }

    async fn open_http(
        &mut self,
        bridge: &Bridge,
        opts: &Options,
        key: &str,
        url: &str,
    ) -> Result<()> {
        let entry = pin(
            bridge,
            &http::source_op(url),
            None,
            Role::Context,
            "build context",
        )
        .await?;
        self.epoch_from_last_modified(bridge, opts, url, &entry.resolved)
            .await?;
        let download = source_definition(&entry, &format!("load build context {url}"));
        let r = bridge.solve_definition(download.clone()).await?;
        let head = bridge
            .read_file_range(&r.id, http::FILENAME, Some(http::HEAD_LEN))
            .await?
            .unwrap_or_default();
        let def = if http::is_archive(&head) {
            let mut d = graph::decode(&download)?;
            let source = d.def[0].clone();
            let unpack = http::unpack_op(&source);
            d.metadata.insert(
                digest_of(&unpack),
                pb::OpMetadata {
                    caps: BTreeMap::from([("file.base".to_string(), true)]),
                    ..Default::default()
                },
            );
            d.def = vec![source, unpack.clone(), terminal(&unpack)];
            d.encode_to_vec()
        } else {
            // Not an archive: the download is the Dockerfile itself.
            self.forward
                .insert(OPT_FILENAME.into(), Some(http::FILENAME.into()));
            download
        };
        let place = solve(bridge, def.clone(), url).await?;
        self.set_places(opts, place);
        self.forward.insert(key.to_string(), None);
        self.inputs.insert(INPUT_CONTEXT.into(), def.clone());
        self.inputs.insert(INPUT_DOCKERFILE.into(), def);
        self.entries.push(entry);
        Ok(())
    }

    /// `SOURCE_DATE_EPOCH=context` takes an http context's time from its `Last-Modified`
    /// header, which BuildKit reports only for an unpinned download: the Dockerfile frontend,
    /// reading the pinned content, would fall back to the archive's newest file. So the time
    /// is read here, for the same content as the pin, and handed on as the number.
    async fn epoch_from_last_modified(
        &mut self,
        bridge: &Bridge,
        opts: &Options,
        url: &str,
        checksum: &str,
    ) -> Result<()> {
        if opts
            .all
            .get(http::SOURCE_DATE_EPOCH_ARG)
            .map(String::as_str)
            != Some(http::EPOCH_FROM_CONTEXT)
        {
            return Ok(());
        }
        let req = gw::ResolveSourceMetaRequest {
            source: Some(http::source_op(url)),
            ..Default::default()
        };
        let http = bridge
            .resolve_source_meta(req)
            .await?
            .http
            .ok_or_else(|| Error::pin(url, "the daemon returned no http metadata"))?;
        let secs = http::last_modified(&http, checksum).map_err(|e| Error::pin(url, e))?;
        if let Some(secs) = secs {
            self.forward
                .insert(http::SOURCE_DATE_EPOCH_ARG.into(), Some(secs.to_string()));
        }
        Ok(())
    }

    /// A Dockerfile (unless `dockerfilekey` forces the local one) or a build context given
    /// as frontend inputs (Buildx sends a git context with a query string that way, the
    /// same state as both): pinned, and read from there.
    async fn open_inputs(&mut self, bridge: &Bridge, opts: &Options) -> Result<()> {
        let context = self.inputs.get(INPUT_CONTEXT).cloned();
        let dockerfile = match opts.all.contains_key(OPT_DOCKERFILE_KEY) {
            true => None,
            false => self.inputs.get(INPUT_DOCKERFILE).cloned(),
        };
        // The Dockerfile frontend refuses an empty input with this message; policies would
        // otherwise be looked for where the Dockerfile is not.
        if let Some(raw) = &dockerfile
            && ParsedDefinition::new(raw)?.graph.nodes.is_empty()
        {
            return Err(Error::Other(format!(
                "invalid nil input definition to definition op (the {INPUT_DOCKERFILE} frontend input is empty)"
            )));
        }
        if let Some(raw) = &dockerfile
            && let Some((def, entries)) = pin_definition(bridge, raw, INPUT_DOCKERFILE).await?
        {
            let place = solve(bridge, def.clone(), "the dockerfile input").await?;
            self.places.dockerfile = place.clone();
            self.inputs.insert(INPUT_DOCKERFILE.into(), def.clone());
            self.entries.extend(entries);
            if context.as_ref() == Some(raw) {
                self.set_places(opts, place);
                self.inputs.insert(INPUT_CONTEXT.into(), def);
                return Ok(());
            }
        }
        // The build context input's sources reach the policy through the build graph; they
        // are pinned here so that what is read from it is what the build gets.
        if let Some(raw) = &context
            && let Some((def, _)) = pin_definition(bridge, raw, INPUT_CONTEXT).await?
        {
            self.context_input = true;
            let reads = !opts.policies.is_empty()
                || (opts.trusted_root.is_some() && opts.trusted_root_context.is_none());
            if reads {
                let mut place = solve(bridge, def.clone(), "the context input").await?;
                scope(&mut place, opts);
                self.places.context = place;
            }
            self.inputs.insert(INPUT_CONTEXT.into(), def);
        }
        Ok(())
    }

    /// A remote context holds the Dockerfile too, unless `dockerfilekey` names a local one.
    fn set_places(&mut self, opts: &Options, place: Place) {
        if !opts.all.contains_key(OPT_DOCKERFILE_KEY) {
            self.places.dockerfile = place.clone();
        }
        let mut context = place;
        scope(&mut context, opts);
        self.places.context = context;
    }

    /// The Dockerfile frontend's options, pointed at the pinned content.
    pub fn forward(&self, forwarded: &mut BTreeMap<String, String>) {
        for (k, v) in &self.forward {
            match v {
                Some(v) => forwarded.insert(k.clone(), v.clone()),
                None => forwarded.remove(k),
            };
        }
    }

    /// Decides the sources the Dockerfile and the policies were read from. They must still
    /// resolve to what was read.
    pub async fn decide(&self, decider: &mut Decider<'_>) -> Result<Vec<SourceRecord>> {
        let mut out = Vec::new();
        for e in &self.entries {
            let at = Some(&e.location);
            let res = resolve::resolve(decider.bridge, &e.op, e.platform.as_ref(), decider.needs)
                .await
                .map_err(|err| err.at(at))?;
            if res.facts.resolved() != e.resolved {
                return Err(Error::pin(
                    &e.original,
                    format!(
                        "resolved to {} after its files were read at {}",
                        res.facts.resolved(),
                        e.resolved
                    ),
                )
                .at(at));
            }
            let v = decider
                .decide(
                    &e.op,
                    e.platform.as_ref(),
                    Some(e.location.clone()),
                    res,
                    e.role,
                )
                .await?;
            if v.converted.is_some() {
                return Err(Error::source(
                    &e.original,
                    "pin_image cannot replace a source the Dockerfile is read from; name the image by digest",
                )
                .at(at));
            }
            let mut record = v.record;
            record.original = e.original.clone();
            if let Some(p) = &e.pin {
                record.pin_attrs = p.attrs.clone();
            }
            out.push(record);
        }
        let reads = match decider.policies.is_empty() {
            true => Vec::new(),
            false => self.local_reads(),
        };
        for (role, name, location) in reads {
            let op = pb::SourceOp {
                identifier: format!("local://{name}"),
                attrs: BTreeMap::new(),
            };
            let res = resolve::resolve(decider.bridge, &op, None, decider.needs).await?;
            let v = decider
                .decide(&op, None, Some(location.to_string()), res, role)
                .await?;
            out.push(v.record);
        }
        Ok(out)
    }

    /// The client's directories the Dockerfile frontend reads before there is a graph: the
    /// Dockerfile's, then the build context's (its `.dockerignore`). BuildKit asks the
    /// policy about both (Buildx decides `local://dockerfile` and `local://context` for
    /// every build), whether or not the graph uses them.
    fn local_reads(&self) -> Vec<(Role, String, &'static str)> {
        let mut out: Vec<(Role, String, &'static str)> = Vec::new();
        if let Place::Local(name) = &self.places.dockerfile {
            out.push((Role::Dockerfile, name.clone(), "Dockerfile"));
        }
        // A context given as a frontend input is read from there, not from a local.
        if let Place::Local(name) = &self.places.context
            && !self.context_input
            && !out.iter().any(|(_, n, _)| n == name)
        {
            out.push((Role::Context, name.clone(), "build context"));
        }
        out
    }

    /// The build graph's own source for a git context must use the commit the Dockerfile
    /// and the policies were read at (BuildKit enforces the forwarded checksum; this makes
    /// sure the graph is the one pinned).
    pub fn check_build(&self, records: &[SourceRecord]) -> Result<()> {
        let Some((id, commit)) = &self.git else {
            return Ok(());
        };
        for r in records
            .iter()
            .filter(|r| r.kind == SourceKind::Git && &r.original == id)
        {
            if &r.resolved != commit {
                return Err(Error::pin(
                    id,
                    format!(
                        "the build context was read at commit {commit}, but the build graph uses {}",
                        r.resolved
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// The build context is `contextsubdir` of the content, as dockerui scopes it.
fn scope(place: &mut Place, opts: &Options) {
    if let (Place::Ref { prefix, .. }, Some(sub)) = (place, opts.all.get(OPT_CONTEXT_SUBDIR)) {
        *prefix = sub.trim_matches('/').to_string();
    }
}

/// Resolves one source and pins it, as the build will load it.
async fn pin(
    bridge: &Bridge,
    op: &pb::SourceOp,
    platform: Option<&pb::Platform>,
    role: Role,
    location: &str,
) -> Result<Entry> {
    let location = location.to_string();
    let res = resolve::resolve(bridge, op, platform, Needs::default())
        .await
        .map_err(|e| e.at(Some(&location)))?;
    let mut pinned = op.clone();
    if let Some(u) = &res.update {
        pinned.identifier = u.identifier.clone();
        pinned.attrs.extend(u.attrs.clone());
    }
    Ok(Entry {
        role,
        location,
        original: op.identifier.clone(),
        op: pinned,
        platform: platform.cloned(),
        resolved: res.facts.resolved().to_string(),
        pin: res.update,
    })
}

/// A client's input definition with every source pinned, and the pinned sources; `None`
/// for an empty definition, which is handed on as it is (the Dockerfile frontend refuses
/// it with BuildKit's own message).
async fn pin_definition(
    bridge: &Bridge,
    raw: &[u8],
    input: &str,
) -> Result<Option<(Vec<u8>, Vec<Entry>)>> {
    let parsed = ParsedDefinition::new(raw)?;
    if parsed.graph.nodes.is_empty() {
        return Ok(None);
    }
    let location = format!("{input} input");
    let mut updates = HashMap::new();
    let mut entries: Vec<Entry> = Vec::new();
    for (node, op) in parsed.graph.sources() {
        let e = pin(
            bridge,
            op,
            node.platform.as_ref(),
            Role::Dockerfile,
            &location,
        )
        .await?;
        if let Some(u) = &e.pin {
            updates.insert(node.digest.clone(), u.clone());
        }
        let seen = entries
            .iter()
            .any(|x| x.op == e.op && x.platform == e.platform);
        if !seen {
            entries.push(e);
        }
    }
    let def = if updates.is_empty() {
        raw.to_vec()
    } else {
        graph::rewrite(&parsed, &updates)?.0
    };
    Ok(Some((def, entries)))
}

/// A definition of the pinned source alone, named in the client's progress.
fn source_definition(entry: &Entry, name: &str) -> Vec<u8> {
    let source = pb::Op {
        op: Some(pb::op::Op::Source(entry.op.clone())),
        platform: entry.platform.clone(),
        ..Default::default()
    }
    .encode_to_vec();
    let caps = entry
        .pin
        .iter()
        .flat_map(|u| u.caps.iter())
        .map(|c| (c.clone(), true))
        .collect();
    pb::Definition {
        metadata: BTreeMap::from([(
            digest_of(&source),
            pb::OpMetadata {
                description: BTreeMap::from([(
                    "llb.customname".to_string(),
                    format!("[verified-frontend] {name}"),
                )]),
                caps,
                ..Default::default()
            },
        )]),
        def: vec![source.clone(), terminal(&source)],
        source: None,
    }
    .encode_to_vec()
}

fn terminal(input: &[u8]) -> Vec<u8> {
    pb::Op {
        inputs: vec![pb::Input {
            digest: digest_of(input),
            index: 0,
        }],
        ..Default::default()
    }
    .encode_to_vec()
}

/// Solves a pinned definition so its files can be read.
async fn solve(bridge: &Bridge, def: Vec<u8>, what: &str) -> Result<Place> {
    let definition = graph::decode(&def)?;
    // Warnings attach to the op the content comes out of, which the client has seen.
    let vertex = definition
        .def
        .last()
        .and_then(|t| pb::Op::decode(t.as_slice()).ok())
        .and_then(|t| t.inputs.first().map(|i| i.digest.clone()))
        .unwrap_or_default();
    let r = bridge.solve_definition(def).await?;
    Ok(Place::Ref {
        ref_id: r.id,
        vertex,
        prefix: String::new(),
        what: what.to_string(),
        definition,
    })
}
