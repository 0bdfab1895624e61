//! Where the build's own files are read: the Dockerfile's directory, the build context, a
//! named context. Each is a client's local directory or a solved ref (a pinned remote
//! context, a frontend input), read through the gateway. Policy loading reads them as
//! `policy::load::Directory`s, knowing nothing of the gateway.

use prost::Message;

use crate::error::{Error, Result};
use crate::gateway::{Bridge, Options};
use crate::graph::{digest_of, single_op};
use crate::policy::load::{Directory, LoadRequest, Reader};
use crate::proto::pb;

/// Where a directory of the build is read from: a local directory of the client, or a
/// solved ref (a pinned remote context, or a frontend input) below `prefix`.
#[derive(Debug, Clone, PartialEq)]
pub enum Place {
    Local(String),
    Ref {
        ref_id: String,
        /// The op a warning about the policies attaches to.
        vertex: String,
        /// The directory inside the ref (`contextsubdir`), empty for its root.
        prefix: String,
        /// How the user names it, for messages (`git://…#main`).
        what: String,
        /// The definition the ref was solved from, which error locations name.
        definition: pb::Definition,
    },
}

/// Where the Dockerfile's directory (and the automatic policy) and the build context (the
/// `policy` option's files) are read from, as the Dockerfile frontend reads them.
#[derive(Debug, Clone, PartialEq)]
pub struct Places {
    pub dockerfile: Place,
    pub context: Place,
}

impl Places {
    /// The client's local directories named by `dockerfilekey` and `contextkey`.
    pub fn local(opts: &Options) -> Self {
        let name = |key: &str, default: &str| {
            Place::Local(
                opts.all
                    .get(key)
                    .map_or(default, String::as_str)
                    .to_string(),
            )
        };
        Places {
            dockerfile: name("dockerfilekey", "dockerfile"),
            context: name("contextkey", "context"),
        }
    }
}

impl Place {
    /// `path` as the user would look for it, with where it was looked for when not local.
    pub fn describe(&self, path: &str) -> String {
        match self {
            Place::Local(_) => path.to_string(),
            Place::Ref { what, .. } => format!("{path} in {what}"),
        }
    }
}

/// What the options ask of the policies, for `policy::load_all`.
pub fn load_request(opts: &Options) -> LoadRequest {
    LoadRequest {
        filename: opts.all.get("filename").cloned(),
        policies: opts.policies.clone(),
        mode: opts.policy_mode,
        strict: opts.policy_strict,
    }
}

/// A place as policy loading reads it.
pub struct PlaceDir<'a> {
    pub bridge: &'a Bridge,
    pub opts: &'a Options,
    pub place: &'a Place,
}

/// The files of a place, opened.
pub enum PlaceFiles<'a> {
    Local(LocalDir<'a>),
    Ref(RefDir<'a>),
}

impl Reader for PlaceFiles<'_> {
    async fn read(&self, path: &str) -> Result<Option<Vec<u8>>> {
        match self {
            PlaceFiles::Local(d) => d.read(path).await,
            PlaceFiles::Ref(d) => d.read(path).await,
        }
    }
}

impl<'a> Directory for PlaceDir<'a> {
    type Files = PlaceFiles<'a>;

    async fn open(&self, patterns: &[String], what: &str) -> Result<PlaceFiles<'a>> {
        Ok(match self.place {
            Place::Local(name) => PlaceFiles::Local(
                LocalDir::open(self.bridge, self.opts, name, patterns, what).await?,
            ),
            Place::Ref {
                ref_id,
                prefix,
                vertex,
                ..
            } => PlaceFiles::Ref(RefDir {
                bridge: self.bridge,
                ref_id,
                prefix,
                vertex,
            }),
        })
    }

    fn vertex(&self, files: &PlaceFiles<'a>) -> String {
        match files {
            PlaceFiles::Local(d) => d.vertex.clone(),
            PlaceFiles::Ref(d) => d.vertex.to_string(),
        }
    }

    fn describe(&self, path: &str) -> String {
        self.place.describe(path)
    }
}

/// A solved ref's files below a directory.
pub struct RefDir<'a> {
    bridge: &'a Bridge,
    ref_id: &'a str,
    prefix: &'a str,
    /// The op the ref comes out of, which warnings attach to.
    vertex: &'a str,
}

impl Reader for RefDir<'_> {
    async fn read(&self, path: &str) -> Result<Option<Vec<u8>>> {
        let dir = self.prefix.trim_matches('/');
        let full = if dir.is_empty() {
            path.to_string()
        } else {
            format!("{dir}/{path}")
        };
        self.bridge.read_file(self.ref_id, &full).await
    }
}

/// A local directory of the client, solved so its files can be read.
pub struct LocalDir<'a> {
    bridge: &'a Bridge,
    ref_id: String,
    /// The digest of the local source op: a vertex the client has seen, which warnings
    /// can be attached to (as the Dockerfile frontend does with its own load vertex).
    vertex: String,
    /// The definition it was solved from, which error locations name.
    definition: pb::Definition,
}

impl<'a> LocalDir<'a> {
    /// Transfers only the files matching `patterns` (BuildKit include patterns).
    async fn open(
        bridge: &'a Bridge,
        opts: &Options,
        name: &str,
        patterns: &[String],
        what: &str,
    ) -> Result<LocalDir<'a>> {
        let session = opts
            .all
            .get(&format!("local-sessionid:{name}"))
            .cloned()
            .or_else(|| std::env::var("BUILDKIT_SESSION_ID").ok())
            .unwrap_or_default();
        let source = local_source(name, &session, patterns);
        let vertex = digest_of(&source);
        let definition = local_definition(source, &format!("load {what} from {name}"));
        let r = bridge.solve_definition(definition.encode_to_vec()).await?;
        Ok(LocalDir {
            bridge,
            ref_id: r.id,
            vertex,
            definition,
        })
    }
}

impl Reader for LocalDir<'_> {
    async fn read(&self, path: &str) -> Result<Option<Vec<u8>>> {
        self.bridge.read_file(&self.ref_id, path).await
    }
}

/// The local source op of the client's directory `name`, sending only `patterns`.
fn local_source(name: &str, session: &str, patterns: &[String]) -> Vec<u8> {
    let patterns = serde_json::to_string(patterns).unwrap_or_default();
    pb::Op {
        op: Some(pb::op::Op::Source(pb::SourceOp {
            identifier: format!("local://{name}"),
            attrs: [
                ("local.session".to_string(), session.to_string()),
                ("local.sharedkeyhint".to_string(), format!("{name}-policy")),
                ("local.includepattern".to_string(), patterns),
            ]
            .into(),
        })),
        ..Default::default()
    }
    .encode_to_vec()
}

/// A definition of the local source op alone, named in the client's progress.
fn local_definition(source: Vec<u8>, name: &str) -> pb::Definition {
    single_op(
        source,
        pb::OpMetadata {
            description: [(
                "llb.customname".to_string(),
                format!("[verified-frontend] {name}"),
            )]
            .into(),
            caps: [
                ("source.local".to_string(), true),
                ("source.local.includepatterns".to_string(), true),
                ("source.local.sessionid".to_string(), true),
                ("source.local.sharedkeyhint".to_string(), true),
            ]
            .into(),
            ..Default::default()
        },
    )
}

/// A file the options name in the build context (`context`), or in the named context
/// `named` (e.g. `trusted-root`), read like policies.
pub async fn context_file(
    bridge: &Bridge,
    opts: &Options,
    context: &Place,
    path: &str,
    named: Option<&str>,
) -> Result<Vec<u8>> {
    let err = |m: String| Error::option("trusted-root", m);
    let (local, what) = match (named, context) {
        (None, Place::Ref { .. }) => {
            let data = read_at(bridge, opts, context, path).await?;
            let what = context.describe("the build context");
            return data.ok_or_else(|| err(format!("{path} not found in {what}")));
        }
        (None, Place::Local(name)) => (name.clone(), "the build context".to_string()),
        // Buildx sends `--build-context name=dir` as `context:name=local:<session dir>`;
        // buildctl users name the local directory itself (`--local name=dir`).
        (Some(name), _) => match opts.all.get(&format!("context:{name}")) {
            Some(v) => match v.strip_prefix("local:") {
                Some(l) => (l.to_string(), format!("named context {name}")),
                None => {
                    return Err(err(format!(
                        "named context {name} is {v}, not a local directory"
                    )));
                }
            },
            None => (name.to_string(), format!("local {name}")),
        },
    };
    read_at(bridge, opts, &Place::Local(local), path)
        .await?
        .ok_or_else(|| err(format!("{path} not found in {what}")))
}

/// One file of a place (for a local directory, only that file is transferred), with the
/// definition it was read from, which error locations name.
pub async fn read_at_with_definition(
    bridge: &Bridge,
    opts: &Options,
    place: &Place,
    path: &str,
) -> Result<Option<(Vec<u8>, pb::Definition)>> {
    match place {
        Place::Local(name) => {
            let dir = LocalDir::open(bridge, opts, name, &[path.to_string()], "file").await?;
            let data = dir.read(path).await?;
            Ok(data.map(|d| (d, dir.definition)))
        }
        Place::Ref {
            ref_id,
            prefix,
            definition,
            vertex,
            ..
        } => {
            let dir = RefDir {
                bridge,
                ref_id,
                prefix,
                vertex,
            };
            let data = dir.read(path).await?;
            Ok(data.map(|d| (d, definition.clone())))
        }
    }
}

async fn read_at(
    bridge: &Bridge,
    opts: &Options,
    place: &Place,
    path: &str,
) -> Result<Option<Vec<u8>>> {
    Ok(read_at_with_definition(bridge, opts, place, path)
        .await?
        .map(|(d, _)| d))
}
