//! Bounds on one policy evaluation. A policy is code from the build context: a loop over
//! `numbers.range` or a comprehension that joins large sets must not hold the build (and the
//! frontend's one evaluation thread) forever. regorus checks a wall-clock budget
//! cooperatively in its evaluation loops; past it the evaluation fails, and a failed
//! evaluation refuses the source (fail closed), with a message naming the bound.
//!
//! Memory: a comprehension over `numbers.range(1, 1e9)` allocates gigabytes in one builtin
//! call, long before the clock is read again. regorus's `allocator-memory-limits` counts
//! every allocation of the process (its mimalloc is the global allocator) and checks the
//! count against a ceiling in its evaluation loops, builtins, parser and JSON reader; past
//! it the evaluation fails like a timed-out one. The ceiling is on the whole heap, not on one
//! evaluation: a frontend process serves one build, and its heap outside evaluation is the
//! resolved metadata (itself bounded, `resolve::budget`) and the build graph. What it does
//! not catch: allocations in code that never checks (a single allocation larger than what
//! the machine can map aborts the process, which fails the build, closed).

use std::num::NonZeroU32;
use std::time::Duration;

use regorus::Engine;
use regorus::utils::limits::ExecutionTimerConfig;

/// The time one decision (one source, one policy) may take. Buildx sets none; a decision
/// takes milliseconds, signature checks in builtins included, so this is generous.
pub const EVAL_TIME: Duration = Duration::from_secs(10);

/// The frontend's heap while a policy is parsed or evaluated. Four times the metadata a build
/// may accept (`resolve::budget::METADATA_PER_BUILD` is 256 MiB), so an honest policy over
/// the largest allowed inputs stays below it.
pub const EVAL_MEMORY: u64 = 1 << 30;

/// Interpreter steps between clock reads: a clock read costs tens of nanoseconds, a step
/// more, so the bound is kept to within a fraction of a millisecond.
const CHECK_EVERY: NonZeroU32 = NonZeroU32::new(64).unwrap();

/// Puts `limit` on every evaluation `engine` (and each clone of it) runs, and `EVAL_MEMORY`
/// on the process's heap whenever regorus runs.
pub fn bound(engine: &mut Engine, limit: Duration) {
    engine.set_execution_timer_config(ExecutionTimerConfig {
        limit,
        check_interval: CHECK_EVERY,
    });
    // Process-wide and idempotent: every policy of the build sets the same ceiling.
    regorus::set_global_memory_limit(Some(EVAL_MEMORY));
}

/// The message for an evaluation stopped by a bound, if `e` is one.
pub fn exceeded(e: &anyhow::Error) -> Option<String> {
    let stopped = e
        .chain()
        .find_map(|c| c.downcast_ref::<regorus::LimitError>());
    let text = e.to_string();
    let limit = match stopped {
        Some(regorus::LimitError::TimeLimitExceeded { limit, .. }) => *limit,
        Some(regorus::LimitError::MemoryLimitExceeded { limit, .. }) => {
            return Some(memory(*limit));
        }
        Some(other) => return Some(format!("the evaluation stopped at a bound: {other}")),
        // regorus may carry the error on as text only.
        None if text.contains("execution exceeded time limit") => EVAL_TIME,
        None if text.contains("execution exceeded memory limit") => {
            return Some(memory(EVAL_MEMORY));
        }
        None => return None,
    };
    Some(format!(
        "the evaluation took longer than {limit:?}, the bound on one policy decision; the \
         source is refused"
    ))
}

fn memory(limit: u64) -> String {
    format!(
        "the evaluation needed more than {} MiB of memory, the bound on the frontend's heap \
         while a policy runs; the source is refused",
        limit >> 20
    )
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    /// Decides at once unless `input.spin`: then it walks ten billion pairs.
    const SPINNING: &str = r#"package docker
default allow := false
allow if {
    input.spin
    some i in numbers.range(1, 100000)
    some j in numbers.range(1, 100000)
    i == j + 100001
}
decision := {"allow": allow}
"#;

    fn eval(engine: &mut Engine, input: &str) -> anyhow::Result<regorus::Value> {
        engine.set_input(regorus::Value::from_json_str(input)?);
        engine.eval_rule("data.docker.decision".into())
    }

    #[test]
    fn an_evaluation_past_its_time_bound_stops_and_says_which() {
        let mut engine = Engine::new();
        engine
            .add_policy("Dockerfile.rego".into(), SPINNING.into())
            .unwrap();
        bound(&mut engine, Duration::from_millis(300));
        let started = Instant::now();
        let e = eval(&mut engine, r#"{"spin": true}"#).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5), "{e}");
        assert_eq!(
            exceeded(&e).as_deref(),
            Some(
                "the evaluation took longer than 300ms, the bound on one policy decision; the \
                 source is refused"
            )
        );
        // The next evaluation has a fresh budget.
        let v = eval(&mut engine, "{}").unwrap();
        assert_eq!(v["allow"], regorus::Value::from(false));
        assert_eq!(exceeded(&anyhow::anyhow!("divide by zero")), None);
    }

    /// The allocation itself is made in `tests/eval_memory.rs`, a process of its own: the
    /// heap bound is the process's, so gigabytes reserved here would stop every evaluation
    /// the other unit tests run beside it.
    #[test]
    fn a_stop_at_the_memory_bound_is_named() {
        let text =
            anyhow::anyhow!("execution exceeded memory limit (usage=2 bytes, limit=1 bytes)");
        assert_eq!(exceeded(&text), Some(memory(EVAL_MEMORY)));
        assert!(memory(EVAL_MEMORY).starts_with("the evaluation needed more than 1024 MiB"));
    }

    #[test]
    fn every_compiled_policy_is_bounded_and_fails_closed() {
        let src = crate::policy::PolicySource {
            name: "Dockerfile.rego".into(),
            modules: vec![("Dockerfile.rego".into(), SPINNING.into())],
            ..Default::default()
        };
        let mut set = crate::policy::PolicySet::compile(vec![src]).unwrap();
        let started = Instant::now();
        let e = set
            .evaluate(&serde_json::json!({"spin": true}))
            .unwrap_err()
            .to_string();
        let took = started.elapsed();
        assert!(e.contains("Dockerfile.rego"), "{e}");
        assert!(
            e.contains("took longer than 10s, the bound on one policy decision"),
            "{e}"
        );
        assert!(took >= EVAL_TIME && took < EVAL_TIME * 2, "{took:?}");
    }
}
