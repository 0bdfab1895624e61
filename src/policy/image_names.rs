//! The names of an image as Buildx gives them to a policy, for the image being decided
//! (`input.image`) and for the images its provenance names (`provenance.materials`).

use serde_json::{Map, Value, json};

use crate::sources::ImageRef;
use crate::sources::image_ref::familiar_name;

/// `ref`, `host`, `repo`, `fullRepo` of a reference, as Buildx names them: its name by
/// Docker's normalization (`reference.Domain`, `FamiliarName`, `Name`), its tag and digest as
/// written.
pub fn image_names(r: &ImageRef) -> Result<Map<String, Value>, String> {
    let (host, path) = r.domain_and_path()?;
    let full_repo = format!("{host}/{path}");
    let mut m = Map::new();
    m.insert(
        "ref".into(),
        json!(
            ImageRef {
                name: full_repo.clone(),
                ..r.clone()
            }
            .to_string()
        ),
    );
    m.insert("host".into(), json!(host));
    m.insert("repo".into(), json!(familiar_name(&host, &path)));
    m.insert("fullRepo".into(), json!(full_repo));
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &str) -> Value {
        Value::Object(image_names(&ImageRef::parse(s).unwrap()).unwrap())
    }

    /// Buildx's names come from `ParseNormalizedNamed`, whatever form the name was in.
    #[test]
    fn names_are_dockers_normalized_ones() {
        assert_eq!(
            names("docker.io/busybox:1"),
            json!({"ref": "docker.io/library/busybox:1", "host": "docker.io",
                   "repo": "busybox", "fullRepo": "docker.io/library/busybox"})
        );
        assert_eq!(
            names("index.docker.io/org/app")["fullRepo"],
            "docker.io/org/app"
        );
        assert_eq!(
            names("localhost:5000/a/b:2"),
            json!({"ref": "localhost:5000/a/b:2", "host": "localhost:5000",
                   "repo": "localhost:5000/a/b", "fullRepo": "localhost:5000/a/b"})
        );
        // A name built by hand is held to the same grammar.
        let bad = ImageRef {
            name: "a//b".into(),
            tag: None,
            digest: None,
        };
        assert!(image_names(&bad).is_err());
    }
}
