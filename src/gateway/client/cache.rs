//! The cache imports of a build (`--import-cache`, `--cache-from`), read from the frontend
//! options exactly as the Dockerfile frontend reads them (dockerui's `cache-imports` JSON,
//! then the deprecated `cache-from` list of registry references), so every solve of this
//! frontend can use the remote cache the Dockerfile frontend's own solve would.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::proto::gw;

const OPT_CACHE_IMPORTS: &str = "cache-imports";
const OPT_CACHE_FROM: &str = "cache-from";

/// One entry as BuildKit's client marshals `controlapi.CacheOptionsEntry` (Go's JSON
/// decoder also takes the lower-case names).
#[derive(Deserialize)]
struct Entry {
    #[serde(rename = "Type", alias = "type", default)]
    typ: String,
    #[serde(rename = "Attrs", alias = "attrs", default)]
    attrs: Option<HashMap<String, String>>,
}

pub fn from_options(opts: &BTreeMap<String, String>) -> Result<Vec<gw::CacheOptionsEntry>> {
    let mut out = Vec::new();
    if let Some(json) = opts.get(OPT_CACHE_IMPORTS).filter(|v| !v.is_empty()) {
        let entries: Option<Vec<Entry>> = serde_json::from_str(json).map_err(|e| {
            Error::option(
                OPT_CACHE_IMPORTS,
                format!("not a JSON list of cache imports ({e}): {json:?}"),
            )
        })?;
        out.extend(
            entries
                .into_iter()
                .flatten()
                .map(|e| gw::CacheOptionsEntry {
                    r#type: e.typ,
                    attrs: e.attrs.unwrap_or_default().into_iter().collect(),
                }),
        );
    }
    if let Some(list) = opts.get(OPT_CACHE_FROM).filter(|v| !v.is_empty()) {
        out.extend(list.split(',').map(|r| gw::CacheOptionsEntry {
            r#type: "registry".into(),
            attrs: BTreeMap::from([("ref".to_string(), r.to_string())]),
        }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn imports_and_the_old_cache_from_list_in_dockeruis_order() {
        let got = from_options(&opts(&[
            (
                "cache-imports",
                r#"[{"Type":"registry","Attrs":{"ref":"r/c:1","mode":"max"}},{"type":"local","attrs":{"src":"/c"}},{"Type":"gha"}]"#,
            ),
            ("cache-from", "r/a:1,r/b:2"),
        ]))
        .unwrap();
        let view: Vec<(&str, Vec<(&str, &str)>)> = got
            .iter()
            .map(|e| {
                let attrs = e
                    .attrs
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                (e.r#type.as_str(), attrs)
            })
            .collect();
        assert_eq!(
            view,
            [
                ("registry", vec![("mode", "max"), ("ref", "r/c:1")]),
                ("local", vec![("src", "/c")]),
                ("gha", vec![]),
                ("registry", vec![("ref", "r/a:1")]),
                ("registry", vec![("ref", "r/b:2")]),
            ]
        );
        assert!(
            from_options(&opts(&[("cache-imports", "null")]))
                .unwrap()
                .is_empty()
        );
        assert!(from_options(&opts(&[])).unwrap().is_empty());
    }

    #[test]
    fn malformed_imports_name_the_option() {
        let err = from_options(&opts(&[("cache-imports", "{not json")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("frontend option cache-imports: not a JSON list of cache imports"),
            "{err}"
        );
    }
}
