//! A bound on the metadata one build accepts from the gateway: image configs, attestation
//! chains (manifests, statements, signature bundles), git objects and the rest of every
//! source metadata answer. Each answer is capped by gRPC's 16 MiB, but a graph of many
//! sources, or a registry that answers every question with the largest chain it can, would
//! otherwise grow the frontend's heap without end; the policy evaluation that reads it all
//! is bounded in memory too (`policy::limits::EVAL_MEMORY`), so the total must stay well
//! below that. Past the bound the source whose answer crossed it is refused (fail closed),
//! with a message naming the bound.
//!
//! A frontend process serves one build, so the build's tally is the process's
//! (`charge`). An answer is counted once per distinct question, as the gateway's memo
//! holds it once however many sources, rounds or decisions ask it again.

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

use prost::Message;

use crate::error::{Error, Result};

/// The metadata bytes (protobuf-encoded answers) one build may accept. A signed image's
/// chain is tens of KiB, so this admits thousands of such sources.
pub const METADATA_PER_BUILD: u64 = 256 << 20;

/// The running tally of one build's metadata.
pub struct Budget {
    limit: u64,
    state: Mutex<Tally>,
}

#[derive(Default)]
struct Tally {
    used: u64,
    /// Questions already charged (type, then encoding), so a memoized answer is not
    /// counted again.
    asked: BTreeSet<(&'static str, Vec<u8>)>,
}

impl Budget {
    pub const fn new(limit: u64) -> Self {
        Budget {
            limit,
            state: Mutex::new(Tally {
                used: 0,
                asked: BTreeSet::new(),
            }),
        }
    }

    /// Counts `answer` (to `question`, about `source`) against the bound and hands it back,
    /// or refuses the source when the build's metadata would pass the bound.
    pub fn charge<Q: Message, A: Message>(
        &self,
        source: &str,
        question: &Q,
        answer: A,
    ) -> Result<A> {
        let size = answer.encoded_len() as u64;
        // A poisoned lock only means a charge panicked; the tally is still whole.
        let mut tally = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (std::any::type_name::<Q>(), question.encode_to_vec());
        if tally.asked.contains(&key) {
            return Ok(answer);
        }
        let used = tally.used.saturating_add(size);
        if used > self.limit {
            return Err(Error::pin(source, self.exceeded(used)));
        }
        tally.used = used;
        tally.asked.insert(key);
        Ok(answer)
    }

    fn exceeded(&self, used: u64) -> String {
        format!(
            "the build's metadata from the daemon (image configs, attestation chains, git \
             objects) would reach {used} bytes, past {} MiB, the bound on metadata per build; \
             the source is refused",
            self.limit >> 20
        )
    }
}

/// This process's build.
static BUILD: Budget = Budget::new(METADATA_PER_BUILD);

/// `Budget::charge` on this build's budget.
pub fn charge<Q: Message, A: Message>(source: &str, question: &Q, answer: A) -> Result<A> {
    BUILD.charge(source, question, answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::gw;

    fn question(id: &str) -> gw::ResolveSourceMetaRequest {
        gw::ResolveSourceMetaRequest {
            source: Some(crate::proto::pb::SourceOp {
                identifier: id.into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn answer(config_bytes: usize) -> gw::ResolveSourceMetaResponse {
        gw::ResolveSourceMetaResponse {
            image: Some(gw::ResolveSourceImageResponse {
                digest: format!("sha256:{}", "a".repeat(64)),
                config: vec![b'x'; config_bytes],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn answers_are_accepted_up_to_the_bound_and_the_one_past_it_is_refused() {
        let budget = Budget::new(1 << 20);
        let small = answer(400 << 10);
        let size = small.encoded_len() as u64;
        let got = budget
            .charge("docker-image://a", &question("a"), small.clone())
            .unwrap();
        assert_eq!(got, small);
        budget
            .charge("docker-image://b", &question("b"), small.clone())
            .unwrap();
        let e = budget
            .charge("docker-image://c", &question("c"), small.clone())
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            format!(
                "cannot pin source docker-image://c: the build's metadata from the daemon \
                 (image configs, attestation chains, git objects) would reach {} bytes, past 1 \
                 MiB, the bound on metadata per build; the source is refused",
                3 * size
            )
        );
        // A refused answer is not counted: a smaller one still fits.
        budget
            .charge("docker-image://d", &question("d"), answer(100 << 10))
            .unwrap();
    }

    #[test]
    fn the_same_question_is_counted_once() {
        let budget = Budget::new(1 << 20);
        for _ in 0..10 {
            budget
                .charge("git://x", &question("x"), answer(600 << 10))
                .unwrap();
        }
        assert!(
            budget
                .charge("git://y", &question("y"), answer(600 << 10))
                .is_err()
        );
    }

    #[test]
    fn one_answer_larger_than_the_bound_is_refused() {
        let budget = Budget::new(1 << 20);
        let e = budget
            .charge("docker-image://big", &question("big"), answer(2 << 20))
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("past 1 MiB, the bound on metadata per build"),
            "{e}"
        );
        assert!(matches!(e, Error::Pin { source_id, .. } if source_id == "docker-image://big"));
    }
}
