//! The `timeVerified` of the statements, taken from the build's inputs and never from the
//! wall clock: the statements are files of an LLB definition, so a clock in them would make
//! every build a new cache record and no `SOURCE_DATE_EPOCH` build reproducible.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::Value;

/// Metadata keys the Dockerfile frontend sets (optionally suffixed `/<platform id>`).
const EPOCH_KEY: &str = "source.date.epoch";
const CONFIG_KEY: &str = "containerimage.config";

/// Where a platform's time came from, as the report names it.
pub const FROM_EPOCH: &str = "source-date-epoch";
pub const FROM_HISTORY: &str = "image-history";
pub const FROM_NONE: &str = "none";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// RFC 3339.
    pub time: String,
    /// `FROM_EPOCH`, `FROM_HISTORY` or `FROM_NONE`.
    pub from: &'static str,
}

/// The time of each platform: its `SOURCE_DATE_EPOCH` when the build has one, else the
/// newest time its image config carries (the base image's history: the same inputs give the
/// same time, and the statements say no earlier than their inputs), else the Unix epoch.
#[derive(Debug, Clone)]
pub struct VerifiedTime {
    metadata: BTreeMap<String, Vec<u8>>,
}

impl VerifiedTime {
    /// From the Dockerfile frontend's result metadata.
    pub fn from_metadata(metadata: &BTreeMap<String, Vec<u8>>) -> Self {
        let metadata = metadata
            .iter()
            .filter(|(k, _)| k.starts_with(EPOCH_KEY) || k.starts_with(CONFIG_KEY))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        VerifiedTime { metadata }
    }

    /// A build whose time is `SOURCE_DATE_EPOCH=secs`.
    pub fn epoch(secs: i64) -> Self {
        Self::from_metadata(&BTreeMap::from([(
            EPOCH_KEY.to_string(),
            secs.to_string().into_bytes(),
        )]))
    }

    pub fn at(&self, platform: &str) -> Stamp {
        let own = |key: &str| self.metadata.get(&format!("{key}/{platform}"));
        let shared = |key: &str| self.metadata.get(key);
        if let Some(t) = own(EPOCH_KEY).or(shared(EPOCH_KEY)).and_then(|v| epoch(v)) {
            return Stamp {
                time: t.to_string(),
                from: FROM_EPOCH,
            };
        }
        match own(CONFIG_KEY)
            .or(shared(CONFIG_KEY))
            .and_then(|v| newest(v))
        {
            Some(t) => Stamp {
                time: t.to_string(),
                from: FROM_HISTORY,
            },
            None => Stamp {
                time: Timestamp::UNIX_EPOCH.to_string(),
                from: FROM_NONE,
            },
        }
    }
}

/// Seconds since the epoch, as the Dockerfile frontend writes `SOURCE_DATE_EPOCH`.
fn epoch(v: &[u8]) -> Option<Timestamp> {
    let secs: i64 = std::str::from_utf8(v).ok()?.trim().parse().ok()?;
    Timestamp::from_second(secs).ok()
}

/// The newest `created` of an image config and its history. Read as loose JSON: a scratch
/// image's config has `"diff_ids": null`, which `oci_spec`'s strict type refuses, and only
/// two optional fields matter here.
fn newest(config: &[u8]) -> Option<Timestamp> {
    let v: Value = serde_json::from_slice(config).ok()?;
    let history = v["history"].as_array().into_iter().flatten();
    std::iter::once(&v["created"])
        .chain(history.map(|h| &h["created"]))
        .filter_map(|c| c.as_str()?.parse::<Timestamp>().ok())
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn source_date_epoch_wins_per_platform_then_shared() {
        let t = VerifiedTime::from_metadata(&meta(&[
            ("source.date.epoch", "1700000000"),
            ("source.date.epoch/linux/arm64", "86400"),
            (
                "containerimage.config",
                r#"{"history":[{"created":"2030-01-01T00:00:00Z"}]}"#,
            ),
        ]));
        assert_eq!(
            t.at("linux/amd64"),
            Stamp {
                time: "2023-11-14T22:13:20Z".into(),
                from: FROM_EPOCH
            }
        );
        assert_eq!(t.at("linux/arm64").time, "1970-01-02T00:00:00Z");
    }

    #[test]
    fn without_an_epoch_the_newest_config_time_and_never_the_clock() {
        let t = VerifiedTime::from_metadata(&meta(&[
            (
                "containerimage.config/linux/amd64",
                r#"{"rootfs":{"type":"layers","diff_ids":null},"history":[
                    {"created":"2024-01-02T03:04:05.5Z"},{"created":null},
                    {"created":"2023-05-06T07:08:09Z"}]}"#,
            ),
            ("containerimage.config/linux/arm64", r#"{"history":null}"#),
            ("source.date.epoch/linux/s390x", "not a number"),
        ]));
        assert_eq!(
            t.at("linux/amd64"),
            Stamp {
                time: "2024-01-02T03:04:05.5Z".into(),
                from: FROM_HISTORY
            }
        );
        let none = Stamp {
            time: "1970-01-01T00:00:00Z".into(),
            from: FROM_NONE,
        };
        assert_eq!(t.at("linux/arm64"), none);
        assert_eq!(t.at("linux/s390x"), none, "a bad epoch is no epoch");
        assert_eq!(t.at("linux/amd64"), t.clone().at("linux/amd64"));
    }
}
