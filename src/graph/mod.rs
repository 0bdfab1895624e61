//! The build graph (LLB `Definition`) as the Dockerfile frontend produced it: every op is
//! identified by the sha256 of its marshalled bytes and refers to its inputs by those digests.
//!
//! Parsing is strict on purpose. An op this frontend does not understand could be a way to
//! bring in content that no policy saw, so it stops the build instead of passing through.

mod rewrite;
pub mod wire;

use std::collections::HashMap;

use prost::Message;
use prost::encoding::WireType;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::proto::pb;

pub use rewrite::{SourceUpdate, reassemble, rename_inputs, rewrite};

// Field numbers of pb.Op (solver/pb/ops.proto).
const OP_INPUTS: u32 = 1;
const OP_EXEC: u32 = 2;
const OP_SOURCE: u32 = 3;
const OP_FILE: u32 = 4;
const OP_BUILD: u32 = 5;
const OP_MERGE: u32 = 6;
const OP_DIFF: u32 = 7;
const OP_PASSTHROUGH: u32 = 8;
const OP_PLATFORM: u32 = 10;
const OP_CONSTRAINTS: u32 = 11;

#[derive(Debug, Clone, PartialEq)]
pub enum OpKind {
    Source(pb::SourceOp),
    /// A RUN step; `network` is its `pb::NetMode` (0 unset = the daemon's default network).
    Exec {
        network: i32,
    },
    File,
    Merge,
    Diff,
    /// The last op of a definition: no body, one input naming the output.
    Terminal,
}

#[derive(Debug, Clone)]
pub struct OpNode {
    pub digest: String,
    pub kind: OpKind,
    pub inputs: Vec<pb::Input>,
    pub platform: Option<pb::Platform>,
}

#[derive(Debug, Clone)]
pub struct Graph {
    pub nodes: Vec<OpNode>,
}

/// `sha256:<hex>` of some bytes, the way BuildKit names ops and blobs.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A definition of one marshalled op and the terminal that selects its output, with
/// `metadata` for the op (its name in the client's progress, its caps): how the frontend
/// solves a source by itself.
pub fn single_op(op: Vec<u8>, metadata: pb::OpMetadata) -> pb::Definition {
    let digest = digest_of(&op);
    let terminal = pb::Op {
        inputs: vec![pb::Input {
            digest: digest.clone(),
            index: 0,
        }],
        ..Default::default()
    }
    .encode_to_vec();
    pb::Definition {
        metadata: [(digest, metadata)].into(),
        def: vec![op, terminal],
        source: None,
    }
}

/// Decodes a marshalled Definition for reading. Never re-encode the result: see
/// `rewrite`, which edits the marshalled bytes instead.
pub fn decode(raw: &[u8]) -> Result<pb::Definition> {
    pb::Definition::decode(raw)
        .map_err(|e| Error::graph(format!("cannot decode the definition: {e}")))
}

/// A definition as BuildKit sent it, with its decoded form and op graph, parsed once.
pub struct ParsedDefinition<'a> {
    pub raw: &'a [u8],
    pub def: pb::Definition,
    pub graph: Graph,
}

impl<'a> ParsedDefinition<'a> {
    pub fn new(raw: &'a [u8]) -> Result<Self> {
        let def = decode(raw)?;
        let graph = Graph::parse(&def)?;
        Ok(ParsedDefinition { raw, def, graph })
    }
}

impl Graph {
    pub fn parse(def: &pb::Definition) -> Result<Self> {
        let mut nodes = Vec::with_capacity(def.def.len());
        for (i, bytes) in def.def.iter().enumerate() {
            let last = i + 1 == def.def.len();
            nodes.push(
                parse_op(bytes, last)
                    .map_err(|e| Error::graph(format!("op #{i} ({}): {e}", digest_of(bytes))))?,
            );
        }
        let index: HashMap<&str, usize> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.digest.as_str(), i))
            .collect();
        for n in &nodes {
            for inp in &n.inputs {
                if !index.contains_key(inp.digest.as_str()) {
                    return Err(Error::graph(format!(
                        "op {} refers to input {} which is not in the definition",
                        n.digest, inp.digest
                    )));
                }
            }
        }
        if !nodes.is_empty() && nodes.len() < 2 {
            return Err(Error::graph(format!(
                "a definition needs at least 2 ops, this one has {}",
                nodes.len()
            )));
        }
        Ok(Graph { nodes })
    }

    /// Where the user wrote op `digest`: its own source-map entry or, for a source op the
    /// Dockerfile frontend did not map (e.g. ADD's http source), the nearest op using it.
    pub fn location<'a, T>(&self, digest: &str, lines: &'a HashMap<String, T>) -> Option<&'a T> {
        let mut frontier = vec![digest];
        let mut seen = std::collections::HashSet::new();
        while !frontier.is_empty() {
            if let Some(l) = frontier.iter().find_map(|d| lines.get(*d)) {
                return Some(l);
            }
            let next: Vec<&str> = self
                .nodes
                .iter()
                .filter(|n| {
                    n.inputs
                        .iter()
                        .any(|i| frontier.contains(&i.digest.as_str()))
                })
                .map(|n| n.digest.as_str())
                .filter(|d| seen.insert(*d))
                .collect();
            frontier = next;
        }
        None
    }

    /// Whether a RUN step may use the network (any mode but `none`).
    pub fn has_networked_exec(&self) -> bool {
        self.nodes.iter().any(
            |n| matches!(n.kind, OpKind::Exec { network } if network != pb::NetMode::None as i32),
        )
    }

    pub fn sources(&self) -> impl Iterator<Item = (&OpNode, &pb::SourceOp)> {
        self.nodes.iter().filter_map(|n| match &n.kind {
            OpKind::Source(s) => Some((n, s)),
            _ => None,
        })
    }
}

fn parse_op(bytes: &[u8], last: bool) -> std::result::Result<OpNode, String> {
    let mut inputs = Vec::new();
    let mut kind = None;
    let mut platform = None;
    for f in wire::fields(bytes)? {
        let body = || -> std::result::Result<&[u8], String> {
            if f.wire_type != WireType::LengthDelimited {
                return Err(format!(
                    "field {} has wire type {:?}",
                    f.number, f.wire_type
                ));
            }
            Ok(f.body(bytes))
        };
        let found = match f.number {
            OP_INPUTS => {
                inputs.push(pb::Input::decode(body()?).map_err(|e| e.to_string())?);
                continue;
            }
            OP_PLATFORM => {
                platform = Some(pb::Platform::decode(body()?).map_err(|e| e.to_string())?);
                continue;
            }
            OP_CONSTRAINTS => continue,
            OP_SOURCE => OpKind::Source(pb::SourceOp::decode(body()?).map_err(|e| e.to_string())?),
            OP_EXEC => OpKind::Exec {
                network: pb::ExecOp::decode(body()?)
                    .map_err(|e| e.to_string())?
                    .network,
            },
            OP_FILE => OpKind::File,
            OP_MERGE => OpKind::Merge,
            OP_DIFF => OpKind::Diff,
            OP_BUILD => {
                return Err(
                    "a build op (nested LLB solved at build time) cannot be verified before the build; refusing it"
                        .into(),
                );
            }
            OP_PASSTHROUGH => {
                return Err(
                    "a passthrough op refers to a result outside this graph that was not verified; refusing it"
                        .into(),
                );
            }
            n => {
                return Err(format!(
                    "unknown op field {n}: this BuildKit is newer than the frontend understands, and an unknown op could bring in unverified content"
                ));
            }
        };
        if kind.is_some() {
            return Err("op has more than one body".into());
        }
        kind = Some(found);
    }
    let kind = match kind {
        Some(k) => k,
        None if last && inputs.len() == 1 => OpKind::Terminal,
        None if last => return Err("the terminal op must have exactly one input".into()),
        None => return Err("op has no body and is not the terminal op".into()),
    };
    Ok(OpNode {
        digest: digest_of(bytes),
        kind,
        inputs,
        platform,
    })
}

/// Where each op came from in the user's files (the source map the Dockerfile frontend
/// attaches): op digest -> "Dockerfile:3" (or "Dockerfile:3-5"), for error messages.
pub fn source_lines(def: &pb::Definition) -> HashMap<String, String> {
    let Some(src) = &def.source else {
        return HashMap::new();
    };
    src.locations
        .iter()
        .filter_map(|(digest, locs)| {
            let labels: Vec<String> = locs
                .locations
                .iter()
                .filter_map(|loc| {
                    let file = src.infos.get(usize::try_from(loc.source_index).ok()?)?;
                    let r = loc.ranges.first()?;
                    let (start, end) =
                        (r.start.as_ref()?.line, r.end.as_ref().map_or(0, |e| e.line));
                    Some(if end > start {
                        format!("{}:{start}-{end}", file.filename)
                    } else {
                        format!("{}:{start}", file.filename)
                    })
                })
                .collect();
            (!labels.is_empty()).then(|| (digest.clone(), labels.join(", ")))
        })
        .collect()
}

/// The source file and line ranges of each mapped op, for warnings the client shows with a
/// snippet of the Dockerfile.
pub fn source_ranges(def: &pb::Definition) -> HashMap<String, (pb::SourceInfo, Vec<pb::Range>)> {
    let Some(src) = &def.source else {
        return HashMap::new();
    };
    src.locations
        .iter()
        .filter_map(|(digest, locs)| {
            let loc = locs.locations.first()?;
            let info = src.infos.get(usize::try_from(loc.source_index).ok()?)?;
            Some((digest.clone(), (info.clone(), loc.ranges.clone())))
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod testutil {
    use std::collections::BTreeMap;

    use prost::Message;

    use crate::proto::pb;

    pub fn source_op(id: &str, attrs: &[(&str, &str)]) -> Vec<u8> {
        pb::Op {
            op: Some(pb::op::Op::Source(pb::SourceOp {
                identifier: id.into(),
                attrs: attrs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>(),
            })),
            platform: Some(pb::Platform {
                architecture: "amd64".into(),
                os: "linux".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
        .encode_to_vec()
    }

    pub fn exec_op(inputs: &[&[u8]], args: &[&str]) -> Vec<u8> {
        pb::Op {
            inputs: inputs
                .iter()
                .map(|b| pb::Input {
                    digest: super::digest_of(b),
                    index: 0,
                })
                .collect(),
            op: Some(pb::op::Op::Exec(pb::ExecOp {
                meta: Some(pb::Meta {
                    args: args.iter().map(|s| s.to_string()).collect(),
                    ..Default::default()
                }),
                mounts: (0..inputs.len() as i64)
                    .map(|i| pb::Mount {
                        input: i,
                        dest: if i == 0 { "/".into() } else { format!("/m{i}") },
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })),
            ..Default::default()
        }
        .encode_to_vec()
    }

    pub fn terminal(input: &[u8]) -> Vec<u8> {
        pb::Op {
            inputs: vec![pb::Input {
                digest: super::digest_of(input),
                index: 0,
            }],
            ..Default::default()
        }
        .encode_to_vec()
    }

    pub fn definition(ops: Vec<Vec<u8>>) -> pb::Definition {
        let metadata = ops
            .iter()
            .map(|b| {
                (
                    super::digest_of(b),
                    pb::OpMetadata {
                        description: BTreeMap::from([("llb.customname".into(), "x".into())]),
                        ..Default::default()
                    },
                )
            })
            .collect();
        pb::Definition {
            def: ops,
            metadata,
            source: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;
    use prost::encoding::{encode_key, encode_varint};

    #[test]
    fn knows_which_run_steps_may_use_the_network() {
        let img = source_op("docker-image://docker.io/library/busybox:latest", &[]);
        let with_mode = |network: pb::NetMode| {
            let mut op = pb::Op::decode(exec_op(&[&img], &["true"]).as_slice()).unwrap();
            if let Some(pb::op::Op::Exec(e)) = op.op.as_mut() {
                e.network = network as i32;
            }
            let run = op.encode_to_vec();
            Graph::parse(&definition(vec![img.clone(), run.clone(), terminal(&run)])).unwrap()
        };
        assert!(with_mode(pb::NetMode::Unset).has_networked_exec());
        assert!(with_mode(pb::NetMode::Host).has_networked_exec());
        assert!(!with_mode(pb::NetMode::None).has_networked_exec());
        let only_source = Graph::parse(&definition(vec![img.clone(), terminal(&img)])).unwrap();
        assert!(!only_source.has_networked_exec());
    }

    #[test]
    fn parses_sources_exec_and_terminal() {
        let img = source_op("docker-image://docker.io/library/busybox:latest", &[]);
        let git = source_op(
            "git://example.com/r.git#main",
            &[("git.fullurl", "https://example.com/r.git")],
        );
        let run = exec_op(&[&img, &git], &["sh", "-c", "true"]);
        let def = definition(vec![img.clone(), git, run.clone(), terminal(&run)]);
        let g = Graph::parse(&def).unwrap();
        let ids: Vec<_> = g.sources().map(|(_, s)| s.identifier.clone()).collect();
        assert_eq!(
            ids,
            [
                "docker-image://docker.io/library/busybox:latest",
                "git://example.com/r.git#main"
            ]
        );
        assert_eq!(g.nodes[2].kind, OpKind::Exec { network: 0 });
        assert_eq!(g.nodes[3].kind, OpKind::Terminal);
        assert_eq!(g.nodes[0].platform.as_ref().unwrap().architecture, "amd64");
    }

    #[test]
    fn source_lines_name_file_and_line() {
        let img = source_op("docker-image://a/b:c", &[]);
        let mut def = definition(vec![img.clone(), terminal(&img)]);
        let pos = |line| Some(pb::Position { line, character: 0 });
        def.source = Some(pb::Source {
            locations: [(
                digest_of(&img),
                pb::Locations {
                    locations: vec![pb::Location {
                        source_index: 0,
                        ranges: vec![pb::Range {
                            start: pos(3),
                            end: pos(3),
                        }],
                    }],
                },
            )]
            .into(),
            infos: vec![pb::SourceInfo {
                filename: "Dockerfile".into(),
                ..Default::default()
            }],
        });
        assert_eq!(source_lines(&def)[&digest_of(&img)], "Dockerfile:3");
        // an out-of-range source index is ignored, not a panic
        def.source.as_mut().unwrap().infos.clear();
        assert!(source_lines(&def).is_empty());
    }

    #[test]
    fn location_falls_back_to_the_consuming_op() {
        let http = source_op("https://example.com/x", &[]);
        let copy = exec_op(&[&http], &["cp"]);
        let def = definition(vec![http.clone(), copy.clone(), terminal(&copy)]);
        let g = Graph::parse(&def).unwrap();
        let lines = HashMap::from([(digest_of(&copy), "Dockerfile:3".to_string())]);
        assert_eq!(
            g.location(&digest_of(&http), &lines).unwrap(),
            "Dockerfile:3"
        );
        assert!(
            g.location(&digest_of(&http), &HashMap::<String, String>::new())
                .is_none()
        );
    }

    #[test]
    fn empty_definition_has_no_sources() {
        let g = Graph::parse(&pb::Definition::default()).unwrap();
        assert_eq!(g.sources().count(), 0);
    }

    fn err_of(def: &pb::Definition) -> String {
        Graph::parse(def).unwrap_err().to_string()
    }

    #[test]
    fn refuses_unknown_and_opaque_ops() {
        let img = source_op("docker-image://a/b:c", &[]);
        // An op body with a field number BuildKit may add later.
        let mut future = Vec::new();
        encode_key(9, WireType::LengthDelimited, &mut future);
        encode_varint(0, &mut future);
        let def = definition(vec![img.clone(), future.clone(), terminal(&future)]);
        assert!(
            err_of(&def).contains("unknown op field 9"),
            "{}",
            err_of(&def)
        );

        let build = pb::Op {
            op: Some(pb::op::Op::Build(pb::BuildOp::default())),
            ..Default::default()
        }
        .encode_to_vec();
        let def = definition(vec![build.clone(), terminal(&build)]);
        assert!(err_of(&def).contains("build op"));

        let pass = pb::Op {
            op: Some(pb::op::Op::Passthrough(pb::PassthroughOp::default())),
            ..Default::default()
        }
        .encode_to_vec();
        let def = definition(vec![pass.clone(), terminal(&pass)]);
        assert!(err_of(&def).contains("passthrough"));
    }

    #[test]
    fn refuses_dangling_inputs_and_bad_terminal() {
        let img = source_op("docker-image://a/b:c", &[]);
        let other = source_op("docker-image://a/x:y", &[]);
        let def = definition(vec![img.clone(), terminal(&other)]);
        assert!(err_of(&def).contains("not in the definition"));
        let def = definition(vec![img.clone(), pb::Op::default().encode_to_vec()]);
        assert!(err_of(&def).contains("exactly one input"));
        let def = pb::Definition {
            def: vec![vec![0x1a, 0x10, 0x00]],
            ..Default::default()
        };
        assert!(err_of(&def).contains("truncated"));
    }
}
