//! Result definitions that BuildKit attributes to this frontend's request.
//!
//! BuildKit remembers which request produced each definition a build returns, under the
//! digest of its head op (the op the terminal names), so that a later build given that
//! definition as a frontend input names its producer in its provenance
//! (`request.inputs.<name>`). When two different requests produced the same head it names
//! none. A definition this frontend returns unchanged has the very head of the Dockerfile
//! frontend's result, produced by the `dockerfile.v0` sub-request, so its consumers would
//! lose their producer. The head is therefore re-encoded in an equivalent form: its empty
//! `constraints` field (no worker constraints) dropped, or added when absent. That changes
//! the head's digest and nothing BuildKit builds, caches or checks (cache keys come from the
//! op bodies, and worker constraints are not read).

use std::collections::HashMap;

use prost::Message;

use crate::error::{Error, Result};
use crate::graph::wire::{self, put_bytes};
use crate::graph::{digest_of, reassemble, rename_inputs};
use crate::proto::pb;

// Field numbers of pb.Definition and pb.Op (solver/pb/ops.proto).
const DEF_OPS: u32 = 1;
const OP_INPUTS: u32 = 1;
const OP_CONSTRAINTS: u32 = 11;

/// `raw` with its head op re-encoded (see the module comment). A definition without a
/// head, or whose head other ops use (which BuildKit's marshaller never writes), is
/// returned as it is: only the attribution is lost, never a pin.
pub fn distinct_head(raw: &[u8]) -> Result<Vec<u8>> {
    let bad = |e: String| Error::graph(format!("re-encoding the result's head op: {e}"));
    let fields = wire::fields(raw).map_err(bad)?;
    let ops: Vec<&[u8]> = fields
        .iter()
        .filter(|f| f.number == DEF_OPS)
        .map(|f| f.body(raw))
        .collect();
    let Some(head) = head(&ops).map_err(bad)? else {
        return Ok(raw.to_vec());
    };
    let new_head = toggle_constraints(ops[head]).map_err(bad)?;
    let renamed = HashMap::from([(digest_of(ops[head]), digest_of(&new_head))]);
    let last = ops.len() - 1;
    let new_ops = ops
        .iter()
        .enumerate()
        .map(|(i, op)| match i {
            i if i == head => Ok(new_head.clone()),
            i if i == last => rename_inputs(op, &renamed),
            _ => Ok(op.to_vec()),
        })
        .collect::<std::result::Result<Vec<_>, String>>()
        .map_err(bad)?;
    reassemble(raw, &new_ops, &renamed).map_err(bad)
}

/// The index of the op the terminal (the last op) names, when only the terminal uses it.
fn head(ops: &[&[u8]]) -> std::result::Result<Option<usize>, String> {
    let Some((terminal, rest)) = ops.split_last() else {
        return Ok(None);
    };
    let target = match &inputs(terminal)?[..] {
        [only] => only.digest.clone(),
        _ => return Ok(None),
    };
    let mut found = None;
    for (i, op) in rest.iter().enumerate() {
        if inputs(op)?.iter().any(|inp| inp.digest == target) {
            return Ok(None);
        }
        if digest_of(op) == target {
            found = Some(i);
        }
    }
    Ok(found)
}

fn inputs(op: &[u8]) -> std::result::Result<Vec<pb::Input>, String> {
    wire::fields(op)?
        .iter()
        .filter(|f| f.number == OP_INPUTS)
        .map(|f| pb::Input::decode(f.body(op)).map_err(|e| e.to_string()))
        .collect()
}

/// The op without its first empty `constraints` field, or with one appended when it has
/// none: a field set to an empty message, and a message field repeated, both decode to
/// what the op said before.
fn toggle_constraints(op: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let fields = wire::fields(op)?;
    let empty = fields
        .iter()
        .position(|f| f.number == OP_CONSTRAINTS && f.body(op).is_empty());
    let mut out = Vec::with_capacity(op.len() + 2);
    for (i, f) in fields.iter().enumerate() {
        if Some(i) != empty {
            out.extend_from_slice(f.raw(op));
        }
    }
    if empty.is_none() {
        put_bytes(&mut out, OP_CONSTRAINTS, &[]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{ParsedDefinition, testutil as t};

    fn head_digest(raw: &[u8]) -> String {
        let p = ParsedDefinition::new(raw).unwrap();
        p.graph.nodes.last().unwrap().inputs[0].digest.clone()
    }

    fn def_with_metadata() -> (Vec<u8>, String) {
        let src = t::source_op(
            "docker-image://docker.io/library/busybox:latest@sha256:aa",
            &[],
        );
        let run = t::exec_op(&[&src], &["echo"]);
        let mut def = t::definition(vec![src, run.clone(), t::terminal(&run)]);
        let run_digest = digest_of(&run);
        def.metadata.insert(
            run_digest.clone(),
            pb::OpMetadata {
                description: [("llb.customname".to_string(), "RUN echo".to_string())].into(),
                ..Default::default()
            },
        );
        def.source = Some(pb::Source {
            locations: [(
                run_digest.clone(),
                pb::Locations {
                    locations: vec![pb::Location::default()],
                },
            )]
            .into(),
            infos: vec![pb::SourceInfo {
                filename: "Dockerfile".into(),
                ..Default::default()
            }],
        });
        (def.encode_to_vec(), run_digest)
    }

    #[test]
    fn the_head_gets_another_digest_and_says_the_same() {
        let (raw, run) = def_with_metadata();
        let out = distinct_head(&raw).unwrap();
        let new_head = head_digest(&out);
        assert_ne!(new_head, run);
        let parsed = ParsedDefinition::new(&out).expect("still a valid definition");
        assert_eq!(parsed.graph.nodes.len(), 3);
        // The metadata follows the head; the op decodes to the same op.
        assert_eq!(
            parsed.def.metadata[&new_head].description["llb.customname"],
            "RUN echo"
        );
        assert!(!parsed.def.metadata.contains_key(&run));
        let locations = &parsed.def.source.as_ref().unwrap().locations;
        assert!(locations.contains_key(&new_head) && !locations.contains_key(&run));
        let before = pb::Op::decode(ParsedDefinition::new(&raw).unwrap().def.def[1].as_slice());
        let mut after = pb::Op::decode(parsed.def.def[1].as_slice()).unwrap();
        assert_eq!(
            after.constraints.take(),
            Some(pb::WorkerConstraints::default())
        );
        assert_eq!(before.unwrap(), after);
        // Deterministic, and its own inverse: the form LLB writes (empty constraints) is
        // re-encoded without them.
        assert_eq!(distinct_head(&raw).unwrap(), out);
        assert_eq!(distinct_head(&out).unwrap(), raw);
        // The source op, which is not the head, is untouched.
        assert_eq!(
            parsed.def.def[0],
            ParsedDefinition::new(&raw).unwrap().def.def[0]
        );
    }

    #[test]
    fn a_definition_without_a_head_is_left_alone() {
        assert_eq!(distinct_head(&[]).unwrap(), Vec::<u8>::new());
        let src = t::source_op(
            "docker-image://docker.io/library/busybox:latest@sha256:aa",
            &[],
        );
        let terminal = t::terminal(&src);
        // An op outside the chain that also uses the head: renaming it would break it.
        let other = t::exec_op(&[&src], &["x"]);
        let raw = t::definition(vec![src, other, terminal]).encode_to_vec();
        assert_eq!(distinct_head(&raw).unwrap(), raw);
    }
}
