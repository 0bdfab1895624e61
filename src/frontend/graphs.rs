//! Stage "graph": every definition the Dockerfile frontend returned, parsed strictly, and
//! the distinct sources in them. Attestation refs (an SBOM scanner run over the scanned
//! state) are graphs like the main refs: they run in the build too.

use std::collections::{BTreeMap, HashMap};

use crate::error::{Error, Result};
use crate::gateway::SubResult;
use crate::graph::{self, OpNode, ParsedDefinition};
use crate::model::platform_string;
use crate::proto::{gw, pb};
use crate::sources::ImageRef;

/// Where a definition sits in the Dockerfile frontend's result.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Slot {
    /// `refs[key]`; `None` for a single-ref result.
    Ref(Option<String>),
    /// `attestations[key].attestation[index].ref`.
    Attestation(String, usize),
}

impl Slot {
    pub fn is_attestation(&self) -> bool {
        matches!(self, Slot::Attestation(..))
    }
}

/// Identity of a source for resolution: the same op on the same platform resolves once,
/// however many stages, platforms or attestation graphs use it.
pub type SourceKey = (String, BTreeMap<String, String>, Option<String>);

pub fn source_key(node: &OpNode, op: &pb::SourceOp) -> SourceKey {
    (
        op.identifier.clone(),
        op.attrs.clone(),
        node.platform.as_ref().map(platform_string),
    )
}

/// Where in a source file (the Dockerfile) an op was written, for warnings with a snippet.
pub type SourceRange = (pb::SourceInfo, Vec<pb::Range>);

/// A source to resolve: the op as written, its platform, and where the user wrote it.
pub struct Wanted {
    pub op: pb::SourceOp,
    pub platform: Option<pb::Platform>,
    pub location: Option<String>,
    /// Where in the Dockerfile, for warnings with a snippet.
    pub range: Option<SourceRange>,
    /// Only attestation graphs (e.g. the SBOM generator) use it.
    pub attestation_only: bool,
}

/// The parsed definitions of one sub-solve, by slot.
pub struct Graphs<'a> {
    pub parsed: Vec<(Slot, ParsedDefinition<'a>)>,
}

impl<'a> Graphs<'a> {
    /// Parses every definition of `sub` before anything is resolved, so a graph this
    /// frontend cannot verify fails the build before any network traffic.
    pub fn collect(sub: &'a SubResult) -> Result<Self> {
        let mut parsed = Vec::new();
        for (key, r) in &sub.refs {
            if let Some(p) = parse_ref(r, &format!("result ref {key:?}"))? {
                parsed.push((Slot::Ref(key.clone()), p));
            }
        }
        for (key, list) in &sub.attestations {
            for (i, a) in list.attestation.iter().enumerate() {
                let Some(r) = &a.r#ref else { continue };
                if let Some(p) = parse_ref(r, &format!("attestation {i} of {key:?}"))? {
                    parsed.push((Slot::Attestation(key.clone(), i), p));
                }
            }
        }
        Ok(Graphs { parsed })
    }

    /// Whether any RUN step of any graph may use the network.
    pub fn has_networked_exec(&self) -> bool {
        self.parsed
            .iter()
            .any(|(_, p)| p.graph.has_networked_exec())
    }

    /// The distinct sources of all graphs, each with where the user wrote it.
    pub fn wanted(&self) -> BTreeMap<SourceKey, Wanted> {
        let mut lines: HashMap<String, String> = HashMap::new();
        let mut ranges = HashMap::new();
        for (_, p) in &self.parsed {
            lines.extend(graph::source_lines(&p.def));
            ranges.extend(graph::source_ranges(&p.def));
        }
        let mut wanted: BTreeMap<SourceKey, Wanted> = BTreeMap::new();
        for (slot, p) in &self.parsed {
            for (node, op) in p.graph.sources() {
                let w = wanted
                    .entry(source_key(node, op))
                    .or_insert_with(|| Wanted {
                        op: op.clone(),
                        platform: node.platform.clone(),
                        location: p.graph.location(&node.digest, &lines).cloned(),
                        range: p.graph.location(&node.digest, &ranges).cloned(),
                        attestation_only: true,
                    });
                w.attestation_only &= slot.is_attestation();
            }
        }
        wanted
    }
}

/// Whether the Dockerfile text where the source was written names `r` with its digest
/// (`FROM name:tag@sha256:…`), rather than the Dockerfile frontend having added the digest
/// it resolved for `name:tag`. Unknown (no location, a reference built from an `ARG`) is
/// `false`: the tag form is then decided too, which can only deny more.
pub fn written_with_digest(range: Option<&SourceRange>, r: &ImageRef) -> bool {
    written_references(range)
        .iter()
        .any(|w| w.digest.is_some() && same_reference(w, r))
}

/// Whether the Dockerfile text shows that the Dockerfile frontend added `r`'s digest: the
/// lines name `r` by its tag alone (or by no tag, which is `latest`) and nowhere with a
/// digest. An `ARG`, a named context or no location leaves it unknown, so `false`.
pub fn digest_added_by_frontend(range: Option<&SourceRange>, r: &ImageRef) -> bool {
    if r.digest.is_none() || r.tag.is_none() {
        return false;
    }
    let written = written_references(range);
    let tagged = |w: &ImageRef| ImageRef {
        tag: w.tag.clone().or_else(|| Some("latest".into())),
        digest: r.digest.clone(),
        ..w.clone()
    };
    written
        .iter()
        .any(|w| w.digest.is_none() && same_reference(&tagged(w), r))
        && !written
            .iter()
            .any(|w| w.digest.is_some() && same_name(w, r))
}

/// Every image reference written on the lines of `range`: its words, split where a flag's
/// value starts (`--from=…`) or a list goes on (`from=…,target=…`).
fn written_references(range: Option<&SourceRange>) -> Vec<ImageRef> {
    let Some((info, ranges)) = range else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&info.data);
    let lines: Vec<&str> = text.lines().collect();
    let line = |p: Option<&pb::Position>| usize::try_from(p.map_or(0, |p| p.line)).unwrap_or(0);
    ranges
        .iter()
        .flat_map(|rg| {
            let (from, to) = (line(rg.start.as_ref()), line(rg.end.as_ref()));
            lines.iter().take(to).skip(from.saturating_sub(1))
        })
        .flat_map(|l| l.split(|c: char| c.is_whitespace() || c == '=' || c == ','))
        .filter_map(|t| ImageRef::normalize(t).ok())
        .collect()
}

/// The same name (normalized), tag and digest.
fn same_reference(a: &ImageRef, b: &ImageRef) -> bool {
    same_name(a, b) && a.tag == b.tag && a.digest == b.digest
}

/// The same name, normalized.
fn same_name(a: &ImageRef, b: &ImageRef) -> bool {
    let name = |r: &ImageRef| r.domain_and_path().ok();
    name(a).is_some() && name(a) == name(b)
}

/// A ref's definition, or `None` for an empty result (e.g. `FROM scratch` with no files).
/// A ref that names a solved result without its definition cannot be verified.
fn parse_ref<'a>(r: &'a gw::Ref, what: &str) -> Result<Option<ParsedDefinition<'a>>> {
    match (r.id.is_empty(), r.def.is_empty()) {
        (_, false) => ParsedDefinition::new(&r.def).map(Some),
        (true, true) => Ok(None),
        (false, true) => Err(Error::graph(format!(
            "the Dockerfile frontend returned {what} as result {} without its definition; a result that cannot be read cannot be verified",
            r.id
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::testutil as testing;

    fn sub(refs: Vec<(Option<&str>, gw::Ref)>, att: Vec<(&str, gw::Ref)>) -> SubResult {
        SubResult {
            refs: refs
                .into_iter()
                .map(|(k, r)| (k.map(str::to_string), r))
                .collect(),
            metadata: BTreeMap::new(),
            attestations: att
                .into_iter()
                .map(|(k, r)| {
                    (
                        k.to_string(),
                        gw::Attestations {
                            attestation: vec![gw::Attestation {
                                r#ref: Some(r),
                                ..Default::default()
                            }],
                        },
                    )
                })
                .collect(),
        }
    }

    fn def_ref(id: &str, image: &str) -> gw::Ref {
        use prost::Message;
        let src = testing::source_op(image, &[]);
        let def = testing::definition(vec![src.clone(), testing::terminal(&src)]);
        gw::Ref {
            id: id.into(),
            def: def.encode_to_vec(),
        }
    }

    #[test]
    fn a_ref_with_an_id_but_no_definition_is_refused() {
        let s = sub(
            vec![(
                None,
                gw::Ref {
                    id: "abc".into(),
                    def: vec![],
                },
            )],
            vec![],
        );
        let err = Graphs::collect(&s).err().expect("refused").to_string();
        assert!(err.contains("result abc without its definition"), "{err}");
        // The same in an attestation ref.
        let s = sub(
            vec![],
            vec![(
                "linux/amd64",
                gw::Ref {
                    id: "x".into(),
                    def: vec![],
                },
            )],
        );
        assert!(Graphs::collect(&s).is_err());
    }

    #[test]
    fn attestation_graphs_are_sources_too() {
        let s = sub(
            vec![(
                Some("linux/amd64"),
                def_ref("", "docker-image://docker.io/library/busybox:latest"),
            )],
            vec![(
                "linux/amd64",
                def_ref("", "docker-image://127.0.0.1:5000/scanner:1"),
            )],
        );
        let g = Graphs::collect(&s).unwrap();
        assert_eq!(g.parsed.len(), 2);
        let w = g.wanted();
        let only: Vec<(&str, bool)> = w
            .values()
            .map(|w| (w.op.identifier.as_str(), w.attestation_only))
            .collect();
        assert_eq!(
            only,
            vec![
                ("docker-image://127.0.0.1:5000/scanner:1", true),
                ("docker-image://docker.io/library/busybox:latest", false),
            ]
        );
        // An empty ref (no id, no def) is an empty result, not an error.
        let s = sub(vec![(None, gw::Ref::default())], vec![]);
        assert!(Graphs::collect(&s).unwrap().parsed.is_empty());
    }

    fn range_of(text: &str, line: i32) -> SourceRange {
        let pos = |l| {
            Some(pb::Position {
                line: l,
                character: 0,
            })
        };
        (
            pb::SourceInfo {
                filename: "Dockerfile".into(),
                data: text.as_bytes().to_vec(),
                ..Default::default()
            },
            vec![pb::Range {
                start: pos(line),
                end: pos(line),
            }],
        )
    }

    #[test]
    fn a_digest_is_written_only_when_the_dockerfile_line_names_it() {
        let d = format!("sha256:{}", "a".repeat(64));
        let graph = ImageRef::parse(&format!("docker.io/library/alpine:3@{d}")).unwrap();
        let df = format!(
            "FROM alpine:3\nFROM alpine:3@{d}\nCOPY --from=docker.io/library/alpine:3@{d} /a /b\nFROM ${{BASE}}\nRUN --mount=type=bind,from=alpine:3@{d},target=/x true\n"
        );
        let written = |line| written_with_digest(Some(&range_of(&df, line)), &graph);
        assert!(!written(1), "the Dockerfile frontend added the digest");
        assert!(written(2) && written(3) && written(5));
        assert!(
            !written(4),
            "an ARG hides what was written: the tag form is decided too"
        );
        assert!(!written_with_digest(None, &graph));
        // Another digest of the same tag is not this reference.
        let other = ImageRef::parse(&format!(
            "docker.io/library/alpine:3@sha256:{}",
            "b".repeat(64)
        ))
        .unwrap();
        assert!(!written_with_digest(Some(&range_of(&df, 2)), &other));
    }

    #[test]
    fn a_digest_was_added_by_the_frontend_only_when_the_line_names_the_tag_alone() {
        let d = format!("sha256:{}", "a".repeat(64));
        let graph = ImageRef::parse(&format!("docker.io/library/alpine:3@{d}")).unwrap();
        let df = format!(
            "FROM alpine:3\nFROM alpine:3@{d}\nCOPY --from=docker.io/library/alpine:3 /a /b\nFROM ${{BASE}}\nFROM alpine:${{V}}\nFROM alpine:4\nFROM alpine:3 AS a\nCOPY --from=alpine:3 --from=alpine:3@{d} /a /b\nFROM alpine\n"
        );
        let added = |line, r: &ImageRef| digest_added_by_frontend(Some(&range_of(&df, line)), r);
        assert!(added(1, &graph) && added(3, &graph) && added(7, &graph));
        assert!(!added(2, &graph), "the user wrote the digest");
        assert!(
            !added(4, &graph) && !added(5, &graph),
            "an ARG hides what was written"
        );
        assert!(!added(6, &graph), "another tag");
        assert!(!added(8, &graph), "written with the digest too");
        assert!(!digest_added_by_frontend(None, &graph));
        let latest = ImageRef::parse(&format!("docker.io/library/alpine:latest@{d}")).unwrap();
        assert!(added(9, &latest) && !added(9, &graph));
        assert!(
            !added(1, &graph.without_digest()),
            "no digest to have added"
        );
    }
}
