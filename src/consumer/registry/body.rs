//! A response body read within bounds. Whoever serves the image decides how large and how
//! slow a response is, so the size is bounded while reading (refused from Content-Length
//! before any byte, else as soon as the stream passes the cap) and so is the pace: a
//! per-read timeout alone lets a body that drips a byte every few seconds hold `verify`
//! open forever, so each window of time must bring a minimum of bytes (curl's
//! `--speed-limit`/`--speed-time`).

use std::time::Duration;

use futures::StreamExt;
use tokio::time::Instant;

use super::super::document::ReadError;

/// How slow a registry may be: the response headers within `answer`, then at least
/// `min_bytes` in every `window` until the body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    pub answer: Duration,
    pub window: Duration,
    pub min_bytes: u64,
}

/// Headers within a minute; then at least 64 KiB a minute (about 1 KiB/s).
pub const PACE: Pace = Pace {
    answer: Duration::from_secs(60),
    window: Duration::from_secs(60),
    min_bytes: 64 << 10,
};

/// How many bytes a response may have, and what it means to send more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    /// A manifest, index or referrers list whose size nothing announced: the manifest bound.
    Manifest(u64),
    /// What a descriptor says: more is content other than the digest names.
    Descriptor(u64),
    /// A token or an error response.
    Small(u64),
}

impl Cap {
    pub fn bytes(self) -> u64 {
        match self {
            Cap::Manifest(n) | Cap::Descriptor(n) | Cap::Small(n) => n,
        }
    }

    /// The error for a response past the cap (`length`: its Content-Length, if it said).
    fn exceeded(self, what: &str, length: Option<u64>) -> ReadError {
        let is = match length {
            Some(n) => format!("is {n} bytes (Content-Length)"),
            None => "goes on".to_string(),
        };
        match self {
            Cap::Manifest(max) => ReadError::Unreadable(format!(
                "{what} {is}, more than the {max} bytes a manifest may have; not read further"
            )),
            Cap::Descriptor(size) => ReadError::Integrity(format!(
                "{what} {is}, more than the {size} bytes its descriptor says; not read further"
            )),
            Cap::Small(max) => ReadError::Unreadable(format!(
                "{what} {is}, more than the {max} bytes such a response may have; not read further"
            )),
        }
    }
}

/// The body of `resp`, no more than `cap`, at no less than `pace`.
pub async fn read(
    what: &str,
    resp: reqwest::Response,
    cap: Cap,
    pace: Pace,
) -> Result<Vec<u8>, ReadError> {
    let max = cap.bytes();
    if let Some(n) = resp.content_length().filter(|n| *n > max) {
        return Err(cap.exceeded(what, Some(n)));
    }
    let mut stream = resp.bytes_stream();
    let mut data = Vec::new();
    let mut window_end = Instant::now() + pace.window;
    let mut in_window = 0u64;
    loop {
        if Instant::now() >= window_end {
            if in_window < pace.min_bytes {
                return Err(stalled(what, in_window, pace));
            }
            window_end += pace.window;
            in_window = 0;
        }
        let chunk = match tokio::time::timeout_at(window_end, stream.next()).await {
            Err(_) => continue,
            Ok(None) => return Ok(data),
            Ok(Some(Err(e))) => {
                return Err(ReadError::Unreadable(format!(
                    "{what}: {}",
                    with_causes(&e)
                )));
            }
            Ok(Some(Ok(chunk))) => chunk,
        };
        if (data.len() + chunk.len()) as u64 > max {
            return Err(cap.exceeded(what, None));
        }
        data.extend_from_slice(&chunk);
        in_window += chunk.len() as u64;
    }
}

/// An error with its causes (reqwest's own message omits why a request failed).
pub fn with_causes(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cause = c.source();
    }
    s
}

fn stalled(what: &str, got: u64, pace: Pace) -> ReadError {
    ReadError::Unreadable(format!(
        "{what}: {got} bytes arrived in {:?}, fewer than the {} bytes every {:?} a response \
         must keep to; gave up on it",
        pace.window, pace.min_bytes, pace.window
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-response HTTP server: `head` (status line and headers), then `body` as the
    /// test writes it.
    async fn serve(
        head: &'static str,
        body: impl FnOnce(tokio::net::TcpStream) -> futures::future::BoxFuture<'static, ()>
        + Send
        + 'static,
    ) -> String {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", l.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            s.write_all(head.as_bytes()).await.unwrap();
            body(s).await;
        });
        url
    }

    async fn get(url: &str) -> reqwest::Response {
        reqwest::Client::new().get(url).send().await.unwrap()
    }

    #[tokio::test]
    async fn a_body_past_its_cap_is_refused_from_its_length_or_while_read() {
        let url = serve(
            "HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n",
            |_| Box::pin(async {}),
        )
        .await;
        let e = read("the index", get(&url).await, Cap::Manifest(1000), PACE)
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the index is 100000000 bytes (Content-Length), more than the 1000 bytes a \
             manifest may have; not read further"
        );
        // No length, and bytes as fast as they are read: cut at the cap.
        let url = serve("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", |mut s| {
            Box::pin(async move {
                let chunk = vec![b' '; 64 << 10];
                while s.write_all(&chunk).await.is_ok() {}
            })
        })
        .await;
        let e = read("a blob", get(&url).await, Cap::Descriptor(100_000), PACE)
            .await
            .unwrap_err();
        assert!(matches!(e, ReadError::Integrity(_)), "{e}");
        assert!(
            e.to_string()
                .contains("goes on, more than the 100000 bytes its descriptor says")
        );
    }

    #[tokio::test]
    async fn a_dripping_body_ends_after_one_window() {
        let url = serve(
            "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
            |mut s| {
                Box::pin(async move {
                    while s.write_all(b" ").await.is_ok() {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                })
            },
        )
        .await;
        let pace = Pace {
            answer: Duration::from_secs(1),
            window: Duration::from_millis(500),
            min_bytes: 100,
        };
        let started = Instant::now();
        let e = read("the manifest", get(&url).await, Cap::Manifest(4096), pace)
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2), "{e}");
        assert!(
            e.to_string()
                .contains("fewer than the 100 bytes every 500ms"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_body_within_bounds_is_read_whole() {
        let url = serve("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", |_| {
            Box::pin(async {})
        })
        .await;
        let data = read("x", get(&url).await, Cap::Descriptor(5), PACE)
            .await
            .unwrap();
        assert_eq!(data, b"hello");
    }
}
