//! Rewrites source ops in a definition and renames every op that depends on them, the way
//! BuildKit's own `recomputeDigests` does, while leaving all other bytes as they were.

use std::collections::{BTreeMap, HashMap};

use prost::encoding::{WireType, encode_key, encode_varint};

use super::wire::{self, put_bytes};
use super::{Graph, OP_INPUTS, OP_SOURCE, digest_of};
use crate::error::{Error, Result};
use crate::proto::pb;

/// New identity for one source op: its identifier and attributes to set (added or replaced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceUpdate {
    pub identifier: String,
    pub attrs: BTreeMap<String, String>,
}

/// Returns the rewritten definition and the old -> new digest of every op that changed.
pub fn rewrite(
    def: &pb::Definition,
    updates: &HashMap<String, SourceUpdate>,
) -> Result<(pb::Definition, HashMap<String, String>)> {
    let graph = Graph::parse(def)?;
    let index: HashMap<&str, usize> = graph
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.digest.as_str(), i))
        .collect();

    // Ops are emitted inputs-first by BuildKit's marshaller, but nothing requires it: visit
    // in dependency order explicitly, so a renamed input is known before its dependents.
    let order = topo_order(&graph, &index)?;
    let mut new_bytes: Vec<Option<Vec<u8>>> = vec![None; def.def.len()];
    let mut renamed: HashMap<String, String> = HashMap::new();
    for i in order {
        let node = &graph.nodes[i];
        let old = &def.def[i];
        let mut bytes = match updates.get(&node.digest) {
            Some(u) => rewrite_source_op(old, u)
                .map_err(|e| Error::graph(format!("rewriting source op {}: {e}", node.digest)))?,
            None => old.clone(),
        };
        if node.inputs.iter().any(|inp| renamed.contains_key(&inp.digest)) {
            bytes = rename_inputs(&bytes, &renamed)
                .map_err(|e| Error::graph(format!("renaming inputs of op {}: {e}", node.digest)))?;
        }
        let digest = digest_of(&bytes);
        if digest != node.digest {
            renamed.insert(node.digest.clone(), digest);
        }
        new_bytes[i] = Some(bytes);
    }
    for d in updates.keys() {
        if !index.contains_key(d.as_str()) {
            return Err(Error::graph(format!("no op {d} to rewrite")));
        }
    }

    let rename = |k: &String| renamed.get(k).cloned().unwrap_or_else(|| k.clone());
    let out = pb::Definition {
        def: new_bytes.into_iter().map(|b| b.expect("every op visited")).collect(),
        metadata: def
            .metadata
            .iter()
            .map(|(k, v)| (rename(k), v.clone()))
            .collect(),
        source: def.source.as_ref().map(|s| pb::Source {
            locations: s
                .locations
                .iter()
                .map(|(k, v)| (rename(k), v.clone()))
                .collect(),
            infos: s.infos.clone(),
        }),
    };
    Ok((out, renamed))
}

fn topo_order(graph: &Graph, index: &HashMap<&str, usize>) -> Result<Vec<usize>> {
    // 0 = unvisited, 1 = on the stack, 2 = done
    let mut state = vec![0u8; graph.nodes.len()];
    let mut order = Vec::with_capacity(graph.nodes.len());
    for root in 0..graph.nodes.len() {
        if state[root] != 0 {
            continue;
        }
        let mut stack = vec![(root, 0usize)];
        state[root] = 1;
        while let Some((n, next)) = stack.pop() {
            let inputs = &graph.nodes[n].inputs;
            if next < inputs.len() {
                stack.push((n, next + 1));
                let m = index[inputs[next].digest.as_str()];
                match state[m] {
                    0 => {
                        state[m] = 1;
                        stack.push((m, 0));
                    }
                    1 => {
                        return Err(Error::graph(format!(
                            "cycle through op {}",
                            graph.nodes[m].digest
                        )));
                    }
                    _ => {}
                }
            } else {
                state[n] = 2;
                order.push(n);
            }
        }
    }
    Ok(order)
}

/// Replaces identifier and attrs of the SourceOp inside a marshalled Op. Fields of the Op
/// and the SourceOp that are not touched are copied byte for byte, unknown ones included.
fn rewrite_source_op(op: &[u8], update: &SourceUpdate) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(op.len() + 128);
    let mut seen = false;
    for f in wire::fields(op)? {
        if f.number != OP_SOURCE {
            out.extend_from_slice(f.raw(op));
            continue;
        }
        seen = true;
        let src = f.body(op);
        let mut attrs: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let mut rest = Vec::new();
        for sf in wire::fields(src)? {
            match sf.number {
                1 => {}
                2 => {
                    let key = map_entry_key(sf.body(src))?;
                    attrs.insert(key, sf.raw(src).to_vec());
                }
                _ => rest.extend_from_slice(sf.raw(src)),
            }
        }
        for (k, v) in &update.attrs {
            // Go writes both key and value of a map entry even when empty; do the same so
            // our bytes are the ones BuildKit's deterministic marshaller would produce.
            let mut entry = Vec::new();
            put_bytes(&mut entry, 1, k.as_bytes());
            put_bytes(&mut entry, 2, v.as_bytes());
            let mut field = Vec::new();
            put_bytes(&mut field, 2, &entry);
            attrs.insert(k.clone(), field);
        }
        let mut body = Vec::new();
        put_bytes(&mut body, 1, update.identifier.as_bytes());
        for field in attrs.values() {
            body.extend_from_slice(field);
        }
        body.extend_from_slice(&rest);
        put_bytes(&mut out, OP_SOURCE, &body);
    }
    if !seen {
        return Err("not a source op".into());
    }
    Ok(out)
}

fn map_entry_key(entry: &[u8]) -> std::result::Result<String, String> {
    for f in wire::fields(entry)? {
        if f.number == 1 {
            return String::from_utf8(f.body(entry).to_vec()).map_err(|e| e.to_string());
        }
    }
    Ok(String::new())
}

/// Points an op's inputs at renamed ops, leaving every other byte alone.
fn rename_inputs(
    op: &[u8],
    renamed: &HashMap<String, String>,
) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(op.len());
    for f in wire::fields(op)? {
        if f.number != OP_INPUTS {
            out.extend_from_slice(f.raw(op));
            continue;
        }
        let inp = f.body(op);
        let mut body = Vec::with_capacity(inp.len());
        for inf in wire::fields(inp)? {
            let old = std::str::from_utf8(inf.body(inp)).ok();
            match (inf.number, old.and_then(|d| renamed.get(d))) {
                (1, Some(new)) => {
                    encode_key(1, WireType::LengthDelimited, &mut body);
                    encode_varint(new.len() as u64, &mut body);
                    body.extend_from_slice(new.as_bytes());
                }
                _ => body.extend_from_slice(inf.raw(inp)),
            }
        }
        put_bytes(&mut out, OP_INPUTS, &body);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{Graph, OpKind};
    use super::*;
    use prost::Message;

    fn pin(id: &str, attrs: &[(&str, &str)]) -> SourceUpdate {
        SourceUpdate {
            identifier: id.into(),
            attrs: attrs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    #[test]
    fn rewrites_source_and_renames_dependents_only() {
        let img = source_op("docker-image://docker.io/library/busybox:latest", &[("image.recordtype", "")]);
        let other = source_op("local://context", &[]);
        let run = exec_op(&[&img], &["sh", "-c", "true"]);
        let copy = exec_op(&[&other], &["cp"]);
        let def = definition(vec![img.clone(), other.clone(), run.clone(), copy.clone(), terminal(&run)]);
        let updates = HashMap::from([(
            digest_of(&img),
            pin("docker-image://docker.io/library/busybox:latest@sha256:aa", &[("image.checksum", "x")]),
        )]);
        let (out, renamed) = rewrite(&def, &updates).unwrap();

        // untouched ops keep their bytes
        assert_eq!(out.def[1], other);
        assert_eq!(out.def[3], copy);
        // the source op, its dependent and the terminal changed
        assert_eq!(renamed.len(), 3);
        let g = Graph::parse(&out).unwrap();
        let OpKind::Source(s) = &g.nodes[0].kind else { panic!() };
        assert_eq!(s.identifier, "docker-image://docker.io/library/busybox:latest@sha256:aa");
        assert_eq!(s.attrs["image.checksum"], "x");
        assert_eq!(s.attrs["image.recordtype"], "");
        assert_eq!(g.nodes[0].platform.as_ref().unwrap().os, "linux");
        assert_eq!(g.nodes[2].inputs[0].digest, g.nodes[0].digest);
        assert_eq!(g.nodes[4].inputs[0].digest, g.nodes[2].digest);
        // metadata follows the ops
        for b in &out.def {
            assert!(out.metadata.contains_key(&digest_of(b)));
        }
        // the exec op is otherwise unchanged
        let before = pb::Op::decode(&run[..]).unwrap();
        let after = pb::Op::decode(&out.def[2][..]).unwrap();
        assert_eq!(before.op, after.op);
    }

    #[test]
    fn rewritten_source_equals_go_deterministic_encoding() {
        // prost with btree maps encodes like Go's deterministic marshaller as long as no map
        // value is empty; the rewrite must agree with it.
        let img = source_op("docker-image://a/b:c", &[("z", "1"), ("a", "2")]);
        let run = exec_op(&[&img], &["x"]);
        let def = definition(vec![img.clone(), run.clone(), terminal(&run)]);
        let updates = HashMap::from([(digest_of(&img), pin("docker-image://a/b:c@sha256:1", &[("m", "3")]))]);
        let (out, _) = rewrite(&def, &updates).unwrap();
        let expected = source_op("docker-image://a/b:c@sha256:1", &[("z", "1"), ("a", "2"), ("m", "3")]);
        assert_eq!(out.def[0], expected);
    }

    #[test]
    fn keeps_unknown_fields_of_untouched_and_rewritten_ops() {
        let mut img = source_op("docker-image://a/b:c", &[]);
        // field 12 of Op: something a newer BuildKit might add next to platform/constraints
        let mut extra = Vec::new();
        encode_key(12, WireType::Varint, &mut extra);
        encode_varint(7, &mut extra);
        img.extend_from_slice(&extra);
        let run = exec_op(&[&img], &["x"]);
        let def = definition(vec![img.clone(), run.clone(), terminal(&run)]);
        // Parsing refuses unknown op fields outright, which is the fail-closed choice...
        assert!(Graph::parse(&def).is_err());
        // ...and the rewriter never strips them silently either.
        let out = rewrite_source_op(&img, &pin("docker-image://a/b:c@sha256:1", &[])).unwrap();
        assert!(out.ends_with(&extra));
    }

    #[test]
    fn unknown_digest_in_updates_is_an_error() {
        let img = source_op("docker-image://a/b:c", &[]);
        let def = definition(vec![img.clone(), terminal(&img)]);
        let updates = HashMap::from([("sha256:nope".to_string(), pin("x", &[]))]);
        assert!(rewrite(&def, &updates).is_err());
    }
}
