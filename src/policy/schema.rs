//! A JSON Schema (draft 2020-12) of the policy input document, from the same field map and
//! descriptions as docs/input-reference.md (`reference::collect`, `reference::FIELDS`), so
//! the two cannot disagree. `tests/reference.rs` writes it to docs/input-schema.json;
//! `policy schema` prints that file.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::reference::FIELDS;

/// The committed schema `policy schema` prints.
pub const COMMITTED: &str = include_str!("../../docs/input-schema.json");

/// The schema for `fields` (path → kind as `reference::collect` records it).
pub fn json_schema(fields: &BTreeMap<String, String>) -> Value {
    let described: BTreeMap<&str, &str> = FIELDS.iter().copied().collect();
    let mut root = object_node(None);
    for (path, kind) in fields {
        let node = node_at(&mut root, path);
        fill(node, kind, described.get(path.as_str()).copied());
    }
    let mut schema = Map::new();
    schema.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    schema.insert("title".into(), json!("verified-frontend policy input"));
    schema.insert(
        "description".into(),
        json!(
            "The `input` a Buildx-compatible build policy evaluates: `env` and exactly one of \
             `image`, `git`, `http`, `local`. Fields are absent when unknown or empty."
        ),
    );
    if let Value::Object(m) = root {
        schema.extend(m);
    }
    schema.insert(
        "oneOf".into(),
        json!(
            ["image", "git", "http", "local"]
                .iter()
                .map(|k| json!({"required": [k]}))
                .collect::<Vec<_>>()
        ),
    );
    Value::Object(schema)
}

fn object_node(description: Option<&str>) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!("object"));
    if let Some(d) = description {
        m.insert("description".into(), json!(d));
    }
    m.insert("properties".into(), json!({}));
    Value::Object(m)
}

/// The schema node for `path` (`a.b`, `a[].b` for the items of array `a`), created as
/// objects on the way down.
fn node_at<'a>(root: &'a mut Value, path: &str) -> &'a mut Value {
    let mut node = root;
    for segment in path.split('.') {
        let (name, items) = match segment.strip_suffix("[]") {
            Some(n) => (n, true),
            None => (segment, false),
        };
        node = property(node, name);
        if items {
            node = node
                .as_object_mut()
                .map(|m| m.entry("items").or_insert_with(|| object_node(None)))
                .expect("a schema node is an object");
        }
    }
    node
}

fn property<'a>(node: &'a mut Value, name: &str) -> &'a mut Value {
    let m = node.as_object_mut().expect("a schema node is an object");
    let props = m.entry("properties").or_insert_with(|| json!({}));
    props
        .as_object_mut()
        .expect("properties is an object")
        .entry(name.to_string())
        .or_insert_with(|| json!({}))
}

/// Sets the type (keeping any properties or items already below) and the description.
fn fill(node: &mut Value, kind: &str, description: Option<&str>) {
    let Some(m) = node.as_object_mut() else {
        return;
    };
    if let Some(d) = description {
        m.insert("description".into(), json!(d));
    }
    let scalar = |k: &str| match k {
        "boolean" | "number" | "string" | "object" | "array" | "null" => k.to_string(),
        _ => "string".into(),
    };
    if let Some(inner) = kind.strip_prefix("map of ") {
        m.insert("type".into(), json!("object"));
        m.remove("properties");
        m.insert(
            "additionalProperties".into(),
            json!({"type": scalar(inner)}),
        );
    } else if let Some(inner) = kind.strip_prefix("array of ") {
        m.insert("type".into(), json!("array"));
        m.remove("properties");
        let items = m.entry("items").or_insert_with(|| json!({}));
        if let Some(items) = items.as_object_mut() {
            items.entry("type").or_insert_with(|| json!(scalar(inner)));
        }
    } else if kind == "input object" {
        // A provenance material is itself an input document (`{env, image|git|http}`).
        m.insert("type".into(), json!("object"));
        m.remove("properties");
        m.insert("$ref".into(), json!("#"));
    } else {
        m.insert("type".into(), json!(scalar(kind)));
        if kind != "object" {
            m.remove("properties");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nests_fields_maps_and_arrays() {
        let fields: BTreeMap<String, String> = [
            ("env", "object"),
            ("env.args", "map of string"),
            ("image", "object"),
            ("image.tag", "string"),
            ("image.signatures", "array of object"),
            ("image.signatures[].kind", "string"),
            ("image.provenance.materials", "array of object"),
            ("image.provenance.materials[]", "input object"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let s = json_schema(&fields);
        let image = &s["properties"]["image"];
        assert_eq!(image["type"], "object");
        assert_eq!(image["properties"]["tag"]["type"], "string");
        assert_eq!(
            s["properties"]["env"]["properties"]["args"]["additionalProperties"]["type"],
            "string"
        );
        let sigs = &image["properties"]["signatures"];
        assert_eq!(sigs["type"], "array");
        assert_eq!(sigs["items"]["properties"]["kind"]["type"], "string");
        assert_eq!(
            image["properties"]["provenance"]["properties"]["materials"]["items"]["$ref"],
            "#"
        );
    }

    #[test]
    fn the_committed_schema_is_json() {
        let v: Value = serde_json::from_str(COMMITTED).expect("docs/input-schema.json is JSON");
        assert_eq!(v["title"], "verified-frontend policy input");
    }
}
