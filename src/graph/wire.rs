//! Just enough of the protobuf wire format to edit marshalled ops without decoding them:
//! decoding with prost would drop any field a newer BuildKit added, and re-encoding would
//! change the bytes (and so the digests) of ops this frontend never meant to touch.

use prost::bytes::Buf;
use prost::encoding::{WireType, decode_key, decode_varint, encode_key, encode_varint};

/// One top-level field of a message: its number, wire type and byte ranges in the message.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub number: u32,
    pub wire_type: WireType,
    /// The whole field, key included.
    pub start: usize,
    pub end: usize,
    /// The payload of a length-delimited field (without key and length).
    pub body_start: usize,
}

impl Field {
    pub fn raw<'a>(&self, msg: &'a [u8]) -> &'a [u8] {
        &msg[self.start..self.end]
    }

    pub fn body<'a>(&self, msg: &'a [u8]) -> &'a [u8] {
        &msg[self.body_start..self.end]
    }
}

/// Splits a message into its top-level fields, or says why it is not a valid message.
pub fn fields(msg: &[u8]) -> Result<Vec<Field>, String> {
    let mut out = Vec::new();
    let mut buf = msg;
    while buf.has_remaining() {
        let start = msg.len() - buf.remaining();
        let (number, wire_type) = decode_key(&mut buf).map_err(|e| e.to_string())?;
        let body_start;
        match wire_type {
            WireType::Varint => {
                decode_varint(&mut buf).map_err(|e| e.to_string())?;
                body_start = msg.len() - buf.remaining();
            }
            WireType::SixtyFourBit | WireType::ThirtyTwoBit => {
                let n = if wire_type == WireType::SixtyFourBit {
                    8
                } else {
                    4
                };
                if buf.remaining() < n {
                    return Err("truncated fixed-width field".into());
                }
                body_start = msg.len() - buf.remaining();
                buf.advance(n);
            }
            WireType::LengthDelimited => {
                let len = decode_varint(&mut buf).map_err(|e| e.to_string())? as usize;
                if buf.remaining() < len {
                    return Err("truncated length-delimited field".into());
                }
                body_start = msg.len() - buf.remaining();
                buf.advance(len);
            }
            WireType::StartGroup | WireType::EndGroup => {
                return Err("groups are not used by BuildKit".into());
            }
        }
        let end = msg.len() - buf.remaining();
        out.push(Field {
            number,
            wire_type,
            start,
            end,
            body_start,
        });
    }
    Ok(out)
}

/// Appends a length-delimited field.
pub fn put_bytes(out: &mut Vec<u8>, number: u32, body: &[u8]) {
    encode_key(number, WireType::LengthDelimited, out);
    encode_varint(body.len() as u64, out);
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn splits_a_real_message() {
        let op = crate::proto::pb::Input {
            digest: "sha256:ab".into(),
            index: 3,
        };
        let bytes = op.encode_to_vec();
        let f = fields(&bytes).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].number, 1);
        assert_eq!(f[0].body(&bytes), b"sha256:ab");
        assert_eq!(f[1].number, 2);
    }

    #[test]
    fn rejects_truncated_input() {
        assert!(fields(&[0x0a, 0x05, b'a']).is_err());
        assert!(fields(&[0x08]).is_err());
    }
}
