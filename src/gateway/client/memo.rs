//! BuildKit's answers to source metadata questions, kept for the build: the same question
//! goes to the registry once, however many sources, forms, rounds or decisions ask it. A
//! resolution becomes a pin (the build enforces the digest or checksum it returned), so an
//! answer reused within the build names exactly the content that was decided. A refusal is
//! an answer too (an index probe that fails by design, a tag that does not exist): asked
//! again within the build it would be asked of the same content.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use prost::Message;
use tokio::sync::OnceCell;

pub struct Memo<T> {
    answers: Mutex<HashMap<Vec<u8>, Arc<OnceCell<T>>>>,
}

impl<T> Default for Memo<T> {
    fn default() -> Self {
        Memo {
            answers: Mutex::new(HashMap::new()),
        }
    }
}

impl<T: Clone> Memo<T> {
    /// The answer to `question`, asked by `ask` unless an earlier asker got one; concurrent
    /// askers of one question wait for the first. The flag says whether it was reused.
    pub async fn get_or_ask<Q, F, Fut>(&self, question: &Q, ask: F) -> (T, bool)
    where
        Q: Message,
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        let cell = {
            // A poisoned lock only means another asker panicked; the map is still whole.
            let mut answers = self.answers.lock().unwrap_or_else(PoisonError::into_inner);
            answers.entry(question.encode_to_vec()).or_default().clone()
        };
        let mut asked = false;
        let answer = cell
            .get_or_init(|| {
                asked = true;
                ask()
            })
            .await;
        (answer.clone(), !asked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::gw;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn question(id: &str) -> gw::ResolveSourceMetaRequest {
        gw::ResolveSourceMetaRequest {
            source: Some(crate::proto::pb::SourceOp {
                identifier: id.into(),
                attrs: Default::default(),
            }),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn one_question_is_asked_once_a_refusal_included() {
        let memo: Memo<Result<String, String>> = Memo::default();
        let asked = AtomicUsize::new(0);
        let ask = |answer: Result<&'static str, &'static str>| {
            let asked = &asked;
            move || async move {
                asked.fetch_add(1, Ordering::SeqCst);
                answer.map(str::to_string).map_err(str::to_string)
            }
        };
        let a = question("docker-image://r/a:1");
        let b = question("docker-image://r/b:1");
        let (x, y) = tokio::join!(
            memo.get_or_ask(&a, ask(Ok("one"))),
            memo.get_or_ask(&a, ask(Ok("two")))
        );
        let mut got = [x, y];
        got.sort_by_key(|(_, reused)| *reused);
        assert_eq!(got, [(Ok("one".into()), false), (Ok("one".into()), true)]);
        assert_eq!(asked.load(Ordering::SeqCst), 1);
        assert_eq!(
            memo.get_or_ask(&b, ask(Err("no match"))).await,
            (Err("no match".into()), false)
        );
        assert_eq!(
            memo.get_or_ask(&b, ask(Ok("other"))).await,
            (Err("no match".into()), true)
        );
        assert_eq!(asked.load(Ordering::SeqCst), 2);
    }
}
