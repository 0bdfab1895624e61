//! The build graph as the Dockerfile frontend sends it (src/graph): any bytes are parsed or
//! refused with an error; an accepted definition rewritten with no update comes back byte
//! for byte, and rewritten with every source op pinned it parses again, with every op that
//! did not depend on a pinned one unchanged.
#![no_main]

use std::collections::{BTreeMap, HashMap};

use libfuzzer_sys::fuzz_target;
use verified_frontend::graph::{self, OpKind, ParsedDefinition, SourceUpdate};

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = ParsedDefinition::new(data) else {
        return;
    };
    let _ = graph::source_lines(&parsed.def);
    let _ = graph::source_ranges(&parsed.def);
    let _ = parsed.graph.has_networked_exec();
    let lines = graph::source_lines(&parsed.def);
    for n in &parsed.graph.nodes {
        let _ = parsed.graph.location(&n.digest, &lines);
    }

    if let Ok((same, renamed)) = graph::rewrite(&parsed, &HashMap::new()) {
        assert!(
            renamed.is_empty(),
            "nothing to rewrite, yet {renamed:?} renamed"
        );
        assert_eq!(
            same, data,
            "a rewrite with no update changed the definition"
        );
    }

    let updates: HashMap<String, SourceUpdate> = parsed
        .graph
        .sources()
        .map(|(n, s)| {
            let update = SourceUpdate {
                identifier: format!("{}@sha256:{}", s.identifier, "0".repeat(64)),
                attrs: BTreeMap::from([("fuzz.pinned".to_string(), "1".to_string())]),
                caps: vec!["source.fuzz".into()],
            };
            (n.digest.clone(), update)
        })
        .collect();
    let Ok((out, renamed)) = graph::rewrite(&parsed, &updates) else {
        return;
    };
    let again = ParsedDefinition::new(&out)
        .unwrap_or_else(|e| panic!("the rewritten definition does not parse: {e}"));
    assert_eq!(again.def.def.len(), parsed.def.def.len());
    for (i, (old, new)) in parsed
        .graph
        .nodes
        .iter()
        .zip(&again.graph.nodes)
        .enumerate()
    {
        match renamed.get(&old.digest) {
            Some(d) => assert_eq!(&new.digest, d, "op #{i} renamed to another digest"),
            None => assert_eq!(parsed.def.def[i], again.def.def[i], "op #{i} changed"),
        }
        if let Some(u) = updates.get(&old.digest) {
            let OpKind::Source(s) = &new.kind else {
                panic!("op #{i} is no longer a source op");
            };
            assert_eq!(s.identifier, u.identifier);
            assert_eq!(s.attrs.get("fuzz.pinned").map(String::as_str), Some("1"));
        }
    }
});
