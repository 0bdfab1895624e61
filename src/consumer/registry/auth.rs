//! Registry authentication as Docker clients do it: a 401's `WWW-Authenticate` challenge is
//! answered with Basic credentials, or with a token from the challenge's realm (asked with
//! the credentials, if there are any, else anonymously; an identity token is exchanged as an
//! OAuth2 refresh token, as the Docker CLI does).

use base64::Engine as _;
use serde::Deserialize;

use super::super::credentials::Credentials;
use super::super::document::{Read, ReadError};
use super::body::{self, Cap, Pace};
use super::http;

/// A token response is small; anything larger is not one.
const MAX_TOKEN_RESPONSE: u64 = 256 << 10;
/// The user name Docker's config gives an identity token (`auths[…].identitytoken`).
const IDENTITY_TOKEN_USER: &str = "<token>";

/// What the registry asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

impl Challenge {
    /// The challenge a `WWW-Authenticate` header makes (Bearer preferred, as Docker does).
    pub fn parse(header: &str) -> Result<Challenge, String> {
        let parsed = http_auth::parse_challenges(header)
            .map_err(|e| format!("unreadable WWW-Authenticate {header:?}: {e}"))?;
        if let Some(c) = parsed
            .iter()
            .find(|c| c.scheme.eq_ignore_ascii_case("bearer"))
        {
            let param = |key: &str| {
                c.params
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| v.to_unescaped())
            };
            let realm = param("realm")
                .ok_or_else(|| format!("a Bearer challenge without a realm: {header:?}"))?;
            return Ok(Challenge::Bearer {
                realm,
                service: param("service"),
            });
        }
        if parsed
            .iter()
            .any(|c| c.scheme.eq_ignore_ascii_case("basic"))
        {
            return Ok(Challenge::Basic);
        }
        Err(format!(
            "no Basic or Bearer challenge in WWW-Authenticate {header:?}"
        ))
    }
}

/// Who asks: the credentials found for the registry, and where they were looked for.
pub struct Asker<'a> {
    pub creds: Option<&'a Credentials>,
    pub source: &'a str,
    pub repo: &'a str,
}

/// The `Authorization` header value that answers `challenge`.
pub async fn answer(
    what: &str,
    client: &reqwest::Client,
    challenge: &Challenge,
    who: &Asker<'_>,
    pace: Pace,
) -> Read<String> {
    match (challenge, who.creds) {
        (Challenge::Basic, Some(c)) => Ok(basic(c)),
        (Challenge::Basic, None) => Err(ReadError::Unreadable(format!(
            "{what}: the registry asks for a user name and password, and {} has none for it",
            who.source
        ))),
        (Challenge::Bearer { realm, service }, _) => {
            let token = token(what, client, realm, service.as_deref(), who, pace).await?;
            Ok(format!("Bearer {token}"))
        }
    }
}

fn basic(c: &Credentials) -> String {
    let pair = format!("{}:{}", c.username, c.secret);
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

#[derive(Deserialize)]
struct TokenResponse {
    token: Option<String>,
    access_token: Option<String>,
}

/// A pull token for `who.repo` from the realm.
async fn token(
    what: &str,
    client: &reqwest::Client,
    realm: &str,
    service: Option<&str>,
    who: &Asker<'_>,
    pace: Pace,
) -> Read<String> {
    let bad = |why: String| ReadError::Unreadable(format!("{what}: token service {realm}: {why}"));
    let mut url = reqwest::Url::parse(realm).map_err(|e| bad(e.to_string()))?;
    let host = url.host_str().unwrap_or_default();
    if url.scheme() != "https" && !(url.scheme() == "http" && http::is_loopback(host)) {
        return Err(bad(
            "not HTTPS (plain HTTP is only for loopback hosts)".into()
        ));
    }
    let scope = format!("repository:{}:pull", who.repo);
    let req = match who.creds {
        Some(c) if c.username == IDENTITY_TOKEN_USER => {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "refresh_token")
                .append_pair("client_id", "verified-frontend")
                .append_pair("scope", &scope)
                .append_pair("refresh_token", &c.secret);
            if let Some(s) = service {
                form.append_pair("service", s);
            }
            client
                .post(url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(form.finish())
        }
        creds => {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            q.append_pair("scope", &scope);
            drop(q);
            let req = client.get(url);
            match creds {
                Some(c) => req.basic_auth(&c.username, Some(&c.secret)),
                None => req,
            }
        }
    };
    let at = format!("{what}: token service");
    let resp = http::send(&at, req, pace).await?;
    if !resp.status().is_success() {
        let e = http::refused(&at, resp, pace).await;
        let asked = match who.creds {
            Some(_) => format!("with the credentials from {}", who.source),
            None => format!("anonymously ({} has no credentials for it)", who.source),
        };
        return Err(ReadError::Unreadable(format!("{e}; asked {asked}")));
    }
    let data = body::read(&at, resp, Cap::Small(MAX_TOKEN_RESPONSE), pace).await?;
    let t: TokenResponse =
        serde_json::from_slice(&data).map_err(|e| bad(format!("not a token response: {e}")))?;
    t.token
        .or(t.access_token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| bad("the response has no token".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_read_as_registries_send_them() {
        let c = Challenge::parse(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#,
        )
        .unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into())
            }
        );
        assert_eq!(
            Challenge::parse(r#"Basic realm="Registry Realm""#).unwrap(),
            Challenge::Basic
        );
        let e = Challenge::parse(r#"Bearer service="x""#).unwrap_err();
        assert!(e.contains("without a realm"), "{e}");
        let e = Challenge::parse(r#"Negotiate realm="x""#).unwrap_err();
        assert!(e.contains("no Basic or Bearer"), "{e}");
    }

    #[test]
    fn basic_credentials_are_encoded_as_http_basic() {
        let c = Credentials {
            username: "bob".into(),
            secret: "s3:cret".into(),
        };
        assert_eq!(basic(&c), "Basic Ym9iOnMzOmNyZXQ=");
    }
}
