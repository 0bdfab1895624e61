//! Rewrites source ops in a definition and renames every op that depends on them, the way
//! BuildKit's own `recomputeDigests` does, while leaving all other bytes as they were.

use std::collections::{BTreeMap, HashMap};

use prost::encoding::{WireType, encode_key, encode_varint};

use super::wire::{self, put_bytes};
use super::{Graph, OP_INPUTS, OP_SOURCE, ParsedDefinition, digest_of};
use crate::error::{Error, Result};

/// New identity for one source op: its identifier and attributes to set (added or replaced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceUpdate {
    pub identifier: String,
    pub attrs: BTreeMap<String, String>,
    /// LLB caps the new attrs rely on, recorded in the op's metadata so the daemon checks
    /// them instead of silently ignoring an attribute it does not know.
    pub caps: Vec<String>,
}

/// Returns the rewritten definition (marshalled) and the old -> new digest of every op that
/// changed. The definition is edited at the wire level: op bytes are replaced, metadata and
/// source-location keys renamed, and every other byte is kept as BuildKit sent it.
pub fn rewrite(
    parsed: &ParsedDefinition<'_>,
    updates: &HashMap<String, SourceUpdate>,
) -> Result<(Vec<u8>, HashMap<String, String>)> {
    let ParsedDefinition { raw, def, graph } = parsed;
    let index: HashMap<&str, usize> = graph
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.digest.as_str(), i))
        .collect();
    for d in updates.keys() {
        if !index.contains_key(d.as_str()) {
            return Err(Error::graph(format!("no op {d} to rewrite")));
        }
    }

    // Ops are emitted inputs-first by BuildKit's marshaller, but nothing requires it: visit
    // in dependency order explicitly, so a renamed input is known before its dependents.
    let order = topo_order(graph, &index)?;
    let mut new_ops: Vec<Option<Vec<u8>>> = vec![None; def.def.len()];
    let mut renamed: HashMap<String, String> = HashMap::new();
    for i in order {
        let node = &graph.nodes[i];
        let old = &def.def[i];
        let mut bytes = match updates.get(&node.digest) {
            Some(u) => rewrite_source_op(old, u)
                .map_err(|e| Error::graph(format!("rewriting source op {}: {e}", node.digest)))?,
            None => old.clone(),
        };
        if node
            .inputs
            .iter()
            .any(|inp| renamed.contains_key(&inp.digest))
        {
            bytes = rename_inputs(&bytes, &renamed)
                .map_err(|e| Error::graph(format!("renaming inputs of op {}: {e}", node.digest)))?;
        }
        let digest = digest_of(&bytes);
        if digest != node.digest {
            renamed.insert(node.digest.clone(), digest);
        }
        new_ops[i] = Some(bytes);
    }
    let new_ops: Vec<Vec<u8>> = new_ops
        .into_iter()
        .map(|b| b.expect("every op visited"))
        .collect();
    let out = rewrite_definition(raw, &new_ops, &renamed, updates)
        .map_err(|e| Error::graph(format!("re-assembling the definition: {e}")))?;
    Ok((out, renamed))
}

// Field numbers of pb.Definition and pb.Source.
const DEF_OPS: u32 = 1;
const DEF_METADATA: u32 = 2;
const DEF_SOURCE: u32 = 3;
const SOURCE_LOCATIONS: u32 = 1;
const OPMETA_CAPS: u32 = 5;

/// `raw` with its ops replaced by `new_ops` (same order, same count) and the metadata and
/// source-map entries of the ops in `renamed` (old -> new digest) following them; every
/// other byte is kept.
pub fn reassemble(
    raw: &[u8],
    new_ops: &[Vec<u8>],
    renamed: &HashMap<String, String>,
) -> std::result::Result<Vec<u8>, String> {
    rewrite_definition(raw, new_ops, renamed, &HashMap::new())
}

fn rewrite_definition(
    raw: &[u8],
    new_ops: &[Vec<u8>],
    renamed: &HashMap<String, String>,
    updates: &HashMap<String, SourceUpdate>,
) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(raw.len() + 256);
    let mut ops = new_ops.iter();
    for f in wire::fields(raw)? {
        match f.number {
            DEF_OPS => {
                let op = ops.next().ok_or("more ops than decoded")?;
                put_kept(&mut out, DEF_OPS, op, &f, raw);
            }
            DEF_METADATA => {
                let entry = rename_map_entry(f.body(raw), renamed, |old_key, value| {
                    let mut value = value.to_vec();
                    for cap in updates
                        .get(old_key)
                        .map(|u| u.caps.as_slice())
                        .unwrap_or_default()
                    {
                        // Appending a map entry to a marshalled message adds it to the map.
                        let mut e = Vec::new();
                        put_bytes(&mut e, 1, cap.as_bytes());
                        encode_key(2, WireType::Varint, &mut e);
                        encode_varint(1, &mut e);
                        put_bytes(&mut value, OPMETA_CAPS, &e);
                    }
                    value
                })?;
                put_kept(&mut out, DEF_METADATA, &entry, &f, raw);
            }
            DEF_SOURCE => {
                let src = f.body(raw);
                let mut body = Vec::with_capacity(src.len());
                for sf in wire::fields(src)? {
                    if sf.number == SOURCE_LOCATIONS {
                        let entry = rename_map_entry(sf.body(src), renamed, |_, v| v.to_vec())?;
                        put_kept(&mut body, SOURCE_LOCATIONS, &entry, &sf, src);
                    } else {
                        body.extend_from_slice(sf.raw(src));
                    }
                }
                put_kept(&mut out, DEF_SOURCE, &body, &f, raw);
            }
            _ => out.extend_from_slice(f.raw(raw)),
        }
    }
    Ok(out)
}

/// Appends field `number` with `body`, or the field exactly as `msg` had it when its body
/// is unchanged: a length written in more bytes than needed stays so, and a definition with
/// nothing to rewrite comes back byte for byte.
fn put_kept(out: &mut Vec<u8>, number: u32, body: &[u8], f: &wire::Field, msg: &[u8]) {
    if body == f.body(msg) {
        out.extend_from_slice(f.raw(msg));
    } else {
        put_bytes(out, number, body);
    }
}

/// Renames the key of a `map<string, Message>` entry, keeping its value's bytes (even an
/// empty value, which prost would drop) and letting `edit_value` change them.
fn rename_map_entry(
    entry: &[u8],
    renamed: &HashMap<String, String>,
    edit_value: impl Fn(&str, &[u8]) -> Vec<u8>,
) -> std::result::Result<Vec<u8>, String> {
    let key = map_entry_key(entry)?;
    let mut out = Vec::with_capacity(entry.len());
    put_bytes(&mut out, 1, renamed.get(&key).unwrap_or(&key).as_bytes());
    let mut changed = renamed.contains_key(&key);
    let mut had_value = false;
    for f in wire::fields(entry)? {
        match f.number {
            1 => {}
            2 => {
                had_value = true;
                let value = edit_value(&key, f.body(entry));
                changed |= value != f.body(entry);
                put_bytes(&mut out, 2, &value);
            }
            _ => out.extend_from_slice(f.raw(entry)),
        }
    }
    if !had_value {
        let value = edit_value(&key, &[]);
        changed |= !value.is_empty();
        put_bytes(&mut out, 2, &value);
    }
    // An entry neither renamed nor edited keeps its bytes (its fields' order included).
    Ok(if changed { out } else { entry.to_vec() })
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
pub fn rename_inputs(
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
    use crate::proto::pb;
    use prost::Message;

    fn pin(id: &str, attrs: &[(&str, &str)]) -> SourceUpdate {
        SourceUpdate {
            identifier: id.into(),
            attrs: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            caps: vec!["source.image".into()],
        }
    }

    #[test]
    fn rewrites_source_and_renames_dependents_only() {
        let img = source_op(
            "docker-image://docker.io/library/busybox:latest",
            &[("image.recordtype", "")],
        );
        let other = source_op("local://context", &[]);
        let run = exec_op(&[&img], &["sh", "-c", "true"]);
        let copy = exec_op(&[&other], &["cp"]);
        let def = definition(vec![
            img.clone(),
            other.clone(),
            run.clone(),
            copy.clone(),
            terminal(&run),
        ]);
        let updates = HashMap::from([(
            digest_of(&img),
            pin(
                "docker-image://docker.io/library/busybox:latest@sha256:aa",
                &[("image.checksum", "x")],
            ),
        )]);
        let (out, renamed) = rewrite(
            &ParsedDefinition::new(&def.encode_to_vec()).unwrap(),
            &updates,
        )
        .unwrap();
        let out = super::super::decode(&out).unwrap();

        // untouched ops keep their bytes
        assert_eq!(out.def[1], other);
        assert_eq!(out.def[3], copy);
        // the source op, its dependent and the terminal changed
        assert_eq!(renamed.len(), 3);
        let g = Graph::parse(&out).unwrap();
        let OpKind::Source(s) = &g.nodes[0].kind else {
            panic!()
        };
        assert_eq!(
            s.identifier,
            "docker-image://docker.io/library/busybox:latest@sha256:aa"
        );
        assert_eq!(s.attrs["image.checksum"], "x");
        assert_eq!(s.attrs["image.recordtype"], "");
        assert_eq!(g.nodes[0].platform.as_ref().unwrap().os, "linux");
        assert_eq!(g.nodes[2].inputs[0].digest, g.nodes[0].digest);
        assert_eq!(g.nodes[4].inputs[0].digest, g.nodes[2].digest);
        // metadata follows the ops
        for b in &out.def {
            assert!(out.metadata.contains_key(&digest_of(b)));
        }
        assert!(out.metadata[&g.nodes[0].digest].caps["source.image"]);
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
        let updates = HashMap::from([(
            digest_of(&img),
            pin("docker-image://a/b:c@sha256:1", &[("m", "3")]),
        )]);
        let (out, _) = rewrite(
            &ParsedDefinition::new(&def.encode_to_vec()).unwrap(),
            &updates,
        )
        .unwrap();
        let out = super::super::decode(&out).unwrap();
        let expected = source_op(
            "docker-image://a/b:c@sha256:1",
            &[("z", "1"), ("a", "2"), ("m", "3")],
        );
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
    fn keeps_empty_map_values_that_prost_would_drop() {
        // BuildKit sends an empty Locations for ops without source ranges and rejects the
        // definition if it comes back as nil ("invalid nil source locations").
        let img = source_op("docker-image://a/b:c", &[]);
        let run = exec_op(&[&img], &["x"]);
        let mut def = definition(vec![img.clone(), run.clone(), terminal(&run)]);
        def.source = Some(pb::Source {
            locations: [(digest_of(&run), pb::Locations::default())].into(),
            infos: vec![],
        });
        let raw = def.encode_to_vec();
        // prost itself drops the empty value: that is the bug this guards against.
        assert!(!raw.windows(2).any(|w| w == [0x12, 0x00]));
        let mut go_raw = Vec::new();
        // What Go sends: the same definition, with the empty value written out.
        for f in wire::fields(&raw).unwrap() {
            if f.number == DEF_SOURCE {
                let mut entry = Vec::new();
                put_bytes(&mut entry, 1, digest_of(&run).as_bytes());
                put_bytes(&mut entry, 2, &[]);
                let mut src = Vec::new();
                put_bytes(&mut src, SOURCE_LOCATIONS, &entry);
                put_bytes(&mut go_raw, DEF_SOURCE, &src);
            } else {
                go_raw.extend_from_slice(f.raw(&raw));
            }
        }
        let updates = HashMap::from([(digest_of(&img), pin("docker-image://a/b:c@sha256:1", &[]))]);
        let (out, renamed) = rewrite(&ParsedDefinition::new(&go_raw).unwrap(), &updates).unwrap();
        let new_run = &renamed[&digest_of(&run)];
        let f = wire::fields(&out).unwrap();
        let src = f
            .iter()
            .find(|f| f.number == DEF_SOURCE)
            .unwrap()
            .body(&out);
        let entry = wire::fields(src).unwrap()[0].body(src).to_vec();
        let ef = wire::fields(&entry).unwrap();
        assert_eq!(ef[0].body(&entry), new_run.as_bytes());
        assert_eq!(ef[1].number, 2, "empty value kept");
        assert_eq!(ef[1].body(&entry), b"");
    }

    #[test]
    fn a_definition_with_nothing_to_rewrite_comes_back_byte_for_byte() {
        // Found by fuzzing: a metadata entry without a value, and lengths written in more
        // bytes than needed, were re-encoded although nothing changed.
        let img = source_op("docker-image://a/b:c", &[]);
        let run = exec_op(&[&img], &["x"]);
        let def = definition(vec![img.clone(), run.clone(), terminal(&run)]);
        let plain = def.encode_to_vec();
        let mut raw = Vec::new();
        for f in wire::fields(&plain).unwrap() {
            let body = f.body(&plain);
            match f.number {
                DEF_OPS => {
                    // the length in two bytes, the second one zero for a short op
                    encode_key(DEF_OPS, WireType::LengthDelimited, &mut raw);
                    raw.extend_from_slice(&[
                        0x80 | (body.len() as u8 & 0x7f),
                        (body.len() >> 7) as u8,
                    ]);
                    raw.extend_from_slice(body);
                }
                _ => raw.extend_from_slice(f.raw(&plain)),
            }
        }
        let mut valueless = Vec::new();
        put_bytes(&mut valueless, 1, digest_of(b"not an op").as_bytes());
        put_bytes(&mut raw, DEF_METADATA, &valueless);
        let parsed = ParsedDefinition::new(&raw).unwrap();
        let (out, renamed) = rewrite(&parsed, &HashMap::new()).unwrap();
        assert!(renamed.is_empty());
        assert_eq!(out, raw);
        // A rewrite still writes what it changes, and leaves the rest.
        let updates = HashMap::from([(digest_of(&img), pin("docker-image://a/b:c@sha256:1", &[]))]);
        let (out, _) = rewrite(&parsed, &updates).unwrap();
        assert!(out.ends_with(&{
            let mut tail = Vec::new();
            put_bytes(&mut tail, DEF_METADATA, &valueless);
            tail
        }));
    }

    #[test]
    fn unknown_digest_in_updates_is_an_error() {
        let img = source_op("docker-image://a/b:c", &[]);
        let def = definition(vec![img.clone(), terminal(&img)]);
        let updates = HashMap::from([("sha256:nope".to_string(), pin("x", &[]))]);
        assert!(
            rewrite(
                &ParsedDefinition::new(&def.encode_to_vec()).unwrap(),
                &updates
            )
            .is_err()
        );
    }
}
