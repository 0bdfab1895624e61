//! Bounds on one policy evaluation. A policy is code from the build context: a loop over
//! `numbers.range` or a comprehension that joins large sets must not hold the build (and the
//! frontend's one evaluation thread) forever. regorus checks a wall-clock budget
//! cooperatively in its evaluation loops; past it the evaluation fails, and a failed
//! evaluation refuses the source (fail closed), with a message naming the bound.
//!
//! Memory is not bounded here: regorus's memory limit needs its mimalloc allocator
//! (`allocator-memory-limits`) as the process's global allocator; the time bound limits how
//! long an evaluation can keep allocating, and buildkitd's cgroup bounds the rest.

use std::num::NonZeroU32;
use std::time::Duration;

use regorus::Engine;
use regorus::utils::limits::ExecutionTimerConfig;

/// The time one decision (one source, one policy) may take. Buildx sets none; a decision
/// takes milliseconds, signature checks in builtins included, so this is generous.
pub const EVAL_TIME: Duration = Duration::from_secs(10);

/// Interpreter steps between clock reads: a clock read costs tens of nanoseconds, a step
/// more, so the bound is kept to within a fraction of a millisecond.
const CHECK_EVERY: NonZeroU32 = NonZeroU32::new(64).unwrap();

/// Puts `limit` on every evaluation `engine` (and each clone of it) runs.
pub fn bound(engine: &mut Engine, limit: Duration) {
    engine.set_execution_timer_config(ExecutionTimerConfig {
        limit,
        check_interval: CHECK_EVERY,
    });
}

/// The message for an evaluation stopped by a bound, if `e` is one.
pub fn exceeded(e: &anyhow::Error) -> Option<String> {
    let stopped = e
        .chain()
        .find_map(|c| c.downcast_ref::<regorus::LimitError>());
    let limit = match stopped {
        Some(regorus::LimitError::TimeLimitExceeded { limit, .. }) => *limit,
        Some(other) => return Some(format!("the evaluation stopped at a bound: {other}")),
        // regorus may carry the error on as text only.
        None if e.to_string().contains("execution exceeded time limit") => EVAL_TIME,
        None => return None,
    };
    Some(format!(
        "the evaluation took longer than {limit:?}, the bound on one policy decision; the \
         source is refused"
    ))
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
