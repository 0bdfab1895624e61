//! The bytes of a `Return` with a result. prost leaves a map entry's value out when it is
//! the default message, and an empty result ref (`FROM scratch` plus metadata, per platform)
//! is exactly that: Go then decodes the entry's value as a nil `*Ref`, and buildkitd
//! dereferences it in `Return` and crashes. Go's own gateway client sends `&pb.Ref{}` for
//! a nil ref, a present, empty value; the map fields of `Result` are written here the same
//! way, every entry with its key and its value.

use prost::Message;
use prost::bytes::{Buf, BufMut};
use prost::encoding::{DecodeContext, WireType, bytes, message, string};

use crate::proto::gw;

/// `Result` field numbers (gateway.proto).
const RESULT_REFS: u32 = 4;
const RESULT_ATTESTATIONS: u32 = 12;
/// `ReturnRequest.result`.
const RETURN_RESULT: u32 = 1;

/// A message already encoded, handed to tonic's prost codec as it is.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Encoded(pub Vec<u8>);

impl Message for Encoded {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.0);
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        prost::encoding::skip_field(wire_type, tag, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        self.0.len()
    }

    fn clear(&mut self) {
        self.0.clear();
    }
}

/// `ReturnRequest{result}` with every map entry of the result carrying its value.
pub fn return_request(result: gw::Result) -> Encoded {
    let mut out = Vec::new();
    bytes::encode(RETURN_RESULT, &result_bytes(result), &mut out);
    Encoded(out)
}

fn result_bytes(mut result: gw::Result) -> Vec<u8> {
    let attestations = std::mem::take(&mut result.attestations);
    let refs = match result.result.take() {
        Some(gw::result::Result::Refs(m)) => Some(m.refs),
        other => {
            result.result = other;
            None
        }
    };
    // Fields may come in any order and a map is a repeated field, so the hand-written ones
    // follow what prost wrote.
    let mut out = result.encode_to_vec();
    if let Some(refs) = refs {
        let mut map = Vec::new();
        for (k, v) in &refs {
            bytes::encode(1, &entry(k, v), &mut map);
        }
        bytes::encode(RESULT_REFS, &map, &mut out);
    }
    for (k, v) in &attestations {
        bytes::encode(RESULT_ATTESTATIONS, &entry(k, v), &mut out);
    }
    out
}

/// A map entry with both fields present, whatever their values.
fn entry(key: &String, value: &impl Message) -> Vec<u8> {
    let mut e = Vec::new();
    string::encode(1, key, &mut e);
    message::encode(2, value, &mut e);
    e
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn refs(pairs: &[(&str, &str)]) -> gw::Result {
        gw::Result {
            result: Some(gw::result::Result::Refs(gw::RefMap {
                refs: pairs
                    .iter()
                    .map(|(k, id)| {
                        (
                            k.to_string(),
                            gw::Ref {
                                id: id.to_string(),
                                def: vec![],
                            },
                        )
                    })
                    .collect(),
            })),
            metadata: BTreeMap::from([("k".to_string(), b"v".to_vec())]),
            attestations: BTreeMap::from([(
                "linux/amd64".to_string(),
                gw::Attestations::default(),
            )]),
        }
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn empty_values_stay_present_as_gos_client_sends_them() {
        let r = refs(&[("linux/amd64", ""), ("linux/arm64", "abc")]);
        let got = return_request(r.clone()).0;
        // The entry Go writes for a nil ref: key "linux/amd64", then an empty value (0x12 0x00).
        let entry = b"\x0a\x0blinux/amd64\x12\x00";
        let in_refs = [b"\x0a\x0f".as_slice(), entry].concat();
        let in_attestations = [b"\x62\x0f".as_slice(), entry].concat();
        assert!(
            contains(&got, &in_refs),
            "empty ref value missing: {got:x?}"
        );
        assert!(contains(&got, &in_attestations), "{got:x?}");
        // prost alone leaves the value out: the daemon's nil dereference.
        let plain = gw::ReturnRequest {
            result: Some(r.clone()),
            error: None,
        }
        .encode_to_vec();
        assert!(!contains(&plain, &in_refs), "{plain:x?}");
        // To a decoder it is still the same message.
        let back = gw::ReturnRequest::decode(got.as_slice()).unwrap();
        assert_eq!(back.result, Some(r));
    }

    #[test]
    fn other_results_encode_as_prost_does() {
        let r = gw::Result {
            result: Some(gw::result::Result::Ref(gw::Ref::default())),
            metadata: BTreeMap::from([("a".to_string(), b"b".to_vec())]),
            attestations: BTreeMap::new(),
        };
        let plain = gw::ReturnRequest {
            result: Some(r.clone()),
            error: None,
        }
        .encode_to_vec();
        assert_eq!(return_request(r).0, plain);
    }
}
