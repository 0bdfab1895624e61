//! Every LLBBridge call the frontend makes, timed where it is made, so a slow build shows
//! which round trips it waited on (issue #16). Recording is one lock and a push per call;
//! the summary is computed once, for the report.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;

/// The calls, by what they ask BuildKit. The sub-solve, the lazy solves of pinned graphs and
/// solves the client watches cost very differently, so each is its own kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ping,
    Inputs,
    /// A `Solve` running another frontend (the Dockerfile frontend).
    SolveFrontend,
    /// A `Solve` of a definition, left lazy.
    Solve,
    /// A `Solve` of a definition with `evaluate`.
    SolveEvaluate,
    ReadFile,
    ResolveSourceMeta,
    ResolveImageConfig,
    Warn,
    Return,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Ping => "Ping",
            Kind::Inputs => "Inputs",
            Kind::SolveFrontend => "Solve(frontend)",
            Kind::Solve => "Solve",
            Kind::SolveEvaluate => "Solve(evaluate)",
            Kind::ReadFile => "ReadFile",
            Kind::ResolveSourceMeta => "ResolveSourceMeta",
            Kind::ResolveImageConfig => "ResolveImageConfig",
            Kind::Warn => "Warn",
            Kind::Return => "Return",
        }
    }
}

struct Call {
    kind: Kind,
    /// The source identifier the call resolves, if it is about one source.
    source: Option<String>,
    start: Duration,
    took: Duration,
}

/// The calls made so far, relative to when the gateway connection was opened.
pub struct Recorder {
    epoch: Instant,
    calls: Mutex<Vec<Call>>,
    /// Per kind, the requests answered by an earlier call's answer instead of a call.
    reused: Mutex<BTreeMap<&'static str, usize>>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            epoch: Instant::now(),
            calls: Mutex::new(Vec::new()),
            reused: Mutex::new(BTreeMap::new()),
        }
    }
}

impl Recorder {
    /// Awaits `call` and records how long it took, whether it succeeded or not.
    pub async fn time<T>(
        &self,
        kind: Kind,
        source: Option<String>,
        call: impl Future<Output = T>,
    ) -> T {
        let started = Instant::now();
        let out = call.await;
        let took = started.elapsed();
        let record = Call {
            kind,
            source,
            start: started.duration_since(self.epoch),
            took,
        };
        // A poisoned lock only means another call panicked while pushing; its list is
        // still whole.
        match self.calls.lock() {
            Ok(mut calls) => calls.push(record),
            Err(poisoned) => poisoned.into_inner().push(record),
        }
        out
    }

    /// A request of `kind` answered without a call.
    pub fn reused(&self, kind: Kind) {
        let mut reused = self.reused.lock().unwrap_or_else(PoisonError::into_inner);
        *reused.entry(kind.name()).or_default() += 1;
    }

    pub fn summary(&self) -> CallSummary {
        let calls = match self.calls.lock() {
            Ok(calls) => calls,
            Err(poisoned) => poisoned.into_inner(),
        };
        let reused = self.reused.lock().unwrap_or_else(PoisonError::into_inner);
        let mut summary = summarize(&calls, self.epoch.elapsed());
        for (kind, n) in reused.iter() {
            summary.kinds.entry(kind).or_default().reused = *n;
        }
        summary
    }
}

/// Per-call-kind and per-source totals, as the report's `timings.calls`. Calls overlap when
/// the frontend issues them concurrently, so `total_ms` (summed) may exceed `busy_ms`
/// (the wall time during which at least one was in flight).
#[derive(Debug, Default, Clone, Serialize)]
pub struct CallSummary {
    /// Since the gateway connection was opened, until this summary.
    pub elapsed_ms: f64,
    /// Wall time with at least one call in flight.
    pub busy_ms: f64,
    pub kinds: BTreeMap<&'static str, KindStats>,
    /// Calls about one source, by its identifier as sent (a pinned `name:tag@digest` is its
    /// own key).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub sources: BTreeMap<String, SourceStats>,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct KindStats {
    pub count: usize,
    pub total_ms: f64,
    pub median_ms: f64,
    pub max_ms: f64,
    /// Wall time with at least one call of this kind in flight.
    pub busy_ms: f64,
    /// Requests answered by an earlier call's answer (not counted in `count`).
    #[serde(skip_serializing_if = "is_zero")]
    pub reused: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct SourceStats {
    pub count: usize,
    pub total_ms: f64,
}

fn summarize(calls: &[Call], elapsed: Duration) -> CallSummary {
    let mut by_kind: BTreeMap<&'static str, Vec<&Call>> = BTreeMap::new();
    let mut sources: BTreeMap<String, SourceStats> = BTreeMap::new();
    for c in calls {
        by_kind.entry(c.kind.name()).or_default().push(c);
        if let Some(s) = &c.source {
            let stats = sources.entry(s.clone()).or_default();
            stats.count += 1;
            stats.total_ms = round(stats.total_ms + ms(c.took));
        }
    }
    let kinds = by_kind
        .into_iter()
        .map(|(name, calls)| (name, kind_stats(&calls)))
        .collect();
    let all: Vec<&Call> = calls.iter().collect();
    CallSummary {
        elapsed_ms: ms(elapsed),
        busy_ms: ms(busy(&all)),
        kinds,
        sources,
    }
}

fn kind_stats(calls: &[&Call]) -> KindStats {
    let mut took: Vec<Duration> = calls.iter().map(|c| c.took).collect();
    took.sort();
    let n = took.len();
    let median = match n {
        0 => Duration::ZERO,
        _ if n % 2 == 1 => took[n / 2],
        _ => (took[n / 2 - 1] + took[n / 2]) / 2,
    };
    KindStats {
        count: n,
        total_ms: ms(took.iter().sum()),
        median_ms: ms(median),
        max_ms: ms(took.last().copied().unwrap_or_default()),
        busy_ms: ms(busy(calls)),
        reused: 0,
    }
}

/// The length of the union of the calls' intervals.
fn busy(calls: &[&Call]) -> Duration {
    let mut spans: Vec<(Duration, Duration)> =
        calls.iter().map(|c| (c.start, c.start + c.took)).collect();
    spans.sort();
    let mut total = Duration::ZERO;
    let mut current: Option<(Duration, Duration)> = None;
    for (start, end) in spans {
        current = match current {
            Some((s, e)) if start <= e => Some((s, e.max(end))),
            Some((s, e)) => {
                total += e - s;
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    if let Some((s, e)) = current {
        total += e - s;
    }
    total
}

fn ms(d: Duration) -> f64 {
    round(d.as_secs_f64() * 1e3)
}

/// Microsecond precision, as the report's other timings.
fn round(ms: f64) -> f64 {
    (ms * 1e3).round() / 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(kind: Kind, source: Option<&str>, start_ms: u64, took_ms: u64) -> Call {
        Call {
            kind,
            source: source.map(String::from),
            start: Duration::from_millis(start_ms),
            took: Duration::from_millis(took_ms),
        }
    }

    #[test]
    fn kinds_and_sources_are_counted_and_overlap_is_not_double_counted() {
        let calls = [
            call(Kind::ResolveSourceMeta, Some("docker-image://a"), 0, 10),
            call(Kind::ResolveSourceMeta, Some("docker-image://b"), 5, 20),
            call(Kind::ResolveSourceMeta, Some("docker-image://a"), 40, 4),
            call(Kind::Warn, None, 30, 2),
        ];
        let s = summarize(&calls, Duration::from_millis(100));
        let meta = &s.kinds["ResolveSourceMeta"];
        assert_eq!(
            (meta.count, meta.total_ms, meta.median_ms, meta.max_ms),
            (3, 34.0, 10.0, 20.0)
        );
        // 0..25 overlapping, then 40..44.
        assert_eq!(meta.busy_ms, 29.0);
        assert_eq!(s.kinds["Warn"].count, 1);
        assert_eq!(s.busy_ms, 31.0);
        assert_eq!(s.elapsed_ms, 100.0);
        let a = &s.sources["docker-image://a"];
        assert_eq!((a.count, a.total_ms), (2, 14.0));
        assert_eq!(s.sources.len(), 2, "calls without a source have no entry");
    }

    #[test]
    fn an_even_count_has_the_middle_pair_as_median() {
        let calls = [
            call(Kind::ReadFile, None, 0, 1),
            call(Kind::ReadFile, None, 0, 3),
        ];
        assert_eq!(
            summarize(&calls, Duration::ZERO).kinds["ReadFile"].median_ms,
            2.0
        );
    }

    #[tokio::test]
    async fn the_recorder_times_what_it_awaits() {
        let r = Recorder::default();
        let v = r
            .time(Kind::Solve, None, async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                7
            })
            .await;
        assert_eq!(v, 7);
        let s = r.summary();
        let solve = &s.kinds["Solve"];
        assert_eq!(solve.count, 1);
        assert!(solve.total_ms >= 20.0, "{solve:?}");
        assert!(s.elapsed_ms >= solve.total_ms);
        r.reused(Kind::ResolveSourceMeta);
        r.reused(Kind::ResolveSourceMeta);
        let meta = &r.summary().kinds["ResolveSourceMeta"];
        assert_eq!((meta.count, meta.reused), (0, 2));
    }
}
