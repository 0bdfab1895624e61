//! The HTTP client `verify` reads registries with: HTTPS except for loopback hosts, bounded
//! connects and reads, redirects followed a few times and never from HTTPS down to plain
//! HTTP elsewhere than loopback (reqwest drops the Authorization header on a redirect to
//! another host, so credentials stay with the registry they were given for).

use std::time::Duration;

use reqwest::redirect::{Attempt, Policy};

use super::super::document::{Read, ReadError};
use super::body::{self, Cap, Pace, with_causes};

/// Redirects one request may follow (a blob is commonly redirected once, to storage).
const MAX_REDIRECTS: usize = 5;
/// What is read of an error response, for its message.
const ERROR_BODY: u64 = 4 << 10;

pub fn is_loopback(host: &str) -> bool {
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `https`, or `http` for a loopback host.
pub fn scheme_for(host: &str) -> &'static str {
    if is_loopback(host) { "http" } else { "https" }
}

fn redirect(attempt: Attempt<'_>) -> reqwest::redirect::Action {
    let url = attempt.url();
    if attempt.previous().len() >= MAX_REDIRECTS {
        let msg = format!("more than {MAX_REDIRECTS} redirects (the last to {url})");
        return attempt.error(msg);
    }
    let host = url.host_str().unwrap_or_default();
    if url.scheme() != "https" && !is_loopback(host) {
        let msg = format!("a redirect to {url}: plain HTTP is only for loopback hosts");
        return attempt.error(msg);
    }
    attempt.follow()
}

pub fn client() -> Read<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(60))
        .redirect(Policy::custom(redirect))
        .build()
        .map_err(|e| ReadError::Unreadable(format!("HTTP client: {}", with_causes(&e))))
}

/// Sends `req`; its response headers must arrive within `pace.answer`.
pub async fn send(what: &str, req: reqwest::RequestBuilder, pace: Pace) -> Read<reqwest::Response> {
    match tokio::time::timeout(pace.answer, req.send()).await {
        Err(_) => Err(ReadError::Unreadable(format!(
            "{what}: no response within {:?}",
            pace.answer
        ))),
        Ok(Err(e)) => Err(ReadError::Unreadable(format!(
            "{what}: {}",
            with_causes(&e)
        ))),
        Ok(Ok(r)) => Ok(r),
    }
}

/// A response that is not a success, as one line: its status and the start of what it says.
pub async fn refused(what: &str, resp: reqwest::Response, pace: Pace) -> ReadError {
    let status = resp.status();
    let url = resp.url().clone();
    let said = body::read(what, resp, Cap::Small(ERROR_BODY), pace)
        .await
        .map(|b| {
            String::from_utf8_lossy(&b)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    let said: String = said.chars().take(200).collect();
    let said = if said.is_empty() {
        String::new()
    } else {
        format!(": {said}")
    };
    ReadError::Unreadable(format!("{what}: {url} answered {status}{said}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_get_plain_http() {
        for h in [
            "127.0.0.1:5000",
            "localhost",
            "localhost:5000",
            "[::1]:5000",
            "127.1.2.3",
        ] {
            assert!(is_loopback(h), "{h}");
            assert_eq!(scheme_for(h), "http");
        }
        for h in [
            "docker.io",
            "ghcr.io",
            "10.0.0.1:5000",
            "localhost.example.com",
        ] {
            assert!(!is_loopback(h), "{h}");
            assert_eq!(scheme_for(h), "https");
        }
    }
}
