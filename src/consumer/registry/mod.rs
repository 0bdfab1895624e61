//! One repository of a registry, read over the OCI distribution API: manifests, blobs and
//! referrers, each response bounded in size and pace while it is read (`body`), over HTTPS
//! except for loopback hosts (`http`), authenticated on a 401 as Docker clients do
//! (`auth`, with the credentials Docker's config file gives, `credentials`). What is read
//! is not checked here: the store checks every byte against its digest.

mod auth;
mod body;
mod http;

use std::sync::Mutex;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, WWW_AUTHENTICATE};

use super::credentials::{self, Credentials};
use super::document::{MANIFEST_TYPES, Read, ReadError};
use auth::{Asker, Challenge};
pub use body::{Cap, PACE, Pace};

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

pub struct Registry {
    client: reqwest::Client,
    /// `scheme://host`, where the API is.
    base: String,
    /// The registry as the reference names it: the key credentials are found by.
    name: String,
    repo: String,
    pace: Pace,
    /// What answered the last challenge (a token or Basic credentials), sent from then on.
    authorization: Mutex<Option<String>>,
    /// The credentials for `name` and where they were looked for, found on the first 401.
    creds: tokio::sync::OnceCell<(Option<Credentials>, String)>,
}

impl Registry {
    pub fn new(reference: &oci_client::Reference, pace: Pace) -> Read<Registry> {
        let host = reference.resolve_registry();
        Ok(Registry {
            client: http::client()?,
            base: format!("{}://{host}", http::scheme_for(host)),
            name: reference.registry().to_string(),
            repo: reference.repository().to_string(),
            pace,
            authorization: Mutex::new(None),
            creds: tokio::sync::OnceCell::new(),
        })
    }

    /// The manifest or index `reference` (a tag or digest) names; `None` if there is none.
    pub async fn manifest(&self, what: &str, reference: &str, cap: Cap) -> Read<Option<Vec<u8>>> {
        let accept = MANIFEST_TYPES.join(", ");
        self.get(what, &format!("manifests/{reference}"), &accept, cap)
            .await
    }

    pub async fn blob(&self, what: &str, digest: &str, cap: Cap) -> Read<Vec<u8>> {
        self.get(what, &format!("blobs/{digest}"), "*/*", cap)
            .await?
            .ok_or_else(|| ReadError::Unreadable(format!("{what} {digest}: not in the registry")))
    }

    /// The referrers index of `subject`: the OCI 1.1 API, or where a registry lacks it (a
    /// 404), the referrers tag schema's `sha256-<hex>` index; `None` if neither has one.
    pub async fn referrers(&self, what: &str, subject: &str, cap: Cap) -> Read<Option<Vec<u8>>> {
        let api = self
            .get(what, &format!("referrers/{subject}"), OCI_INDEX, cap)
            .await?;
        match api {
            Some(data) => Ok(Some(data)),
            None => {
                self.manifest(what, &subject.replacen(':', "-", 1), cap)
                    .await
            }
        }
    }

    /// `GET /v2/<repo>/<path>`; a 404 is `None`.
    async fn get(&self, what: &str, path: &str, accept: &str, cap: Cap) -> Read<Option<Vec<u8>>> {
        let url = format!("{}/v2/{}/{path}", self.base, self.repo);
        let mut resp = self.send(what, &url, accept).await?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            self.login(what, &resp).await?;
            resp = self.send(what, &url, accept).await?;
            if resp.status() == StatusCode::UNAUTHORIZED {
                let e = http::refused(what, resp, self.pace).await;
                return Err(ReadError::Unreadable(format!("{e} (after authenticating)")));
            }
        }
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => body::read(what, resp, cap, self.pace).await.map(Some),
            _ => Err(http::refused(what, resp, self.pace).await),
        }
    }

    async fn send(&self, what: &str, url: &str, accept: &str) -> Read<reqwest::Response> {
        let mut req = self.client.get(url).header(ACCEPT, accept);
        let authorization = self.authorization.lock().ok().and_then(|a| a.clone());
        if let Some(a) = authorization {
            req = req.header(AUTHORIZATION, a);
        }
        http::send(what, req, self.pace).await
    }

    /// Answers the 401 `resp` carries; what answered it is sent from then on.
    async fn login(&self, what: &str, resp: &reqwest::Response) -> Read<()> {
        let header = resp
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                ReadError::Unreadable(format!(
                    "{what}: {} answered 401 without a WWW-Authenticate challenge",
                    resp.url()
                ))
            })?;
        let challenge =
            Challenge::parse(header).map_err(|e| ReadError::Unreadable(format!("{what}: {e}")))?;
        let (creds, source) = self.credentials().await?;
        let who = Asker {
            creds: creds.as_ref(),
            source,
            repo: &self.repo,
        };
        let value = auth::answer(what, &self.client, &challenge, &who, self.pace).await?;
        if let Ok(mut a) = self.authorization.lock() {
            *a = Some(value);
        }
        Ok(())
    }

    /// Docker's credentials for the registry, looked up once. A helper is a program that may
    /// hang: it runs off the async thread, so the overall deadline still ends the verify.
    async fn credentials(&self) -> Read<&(Option<Credentials>, String)> {
        self.creds
            .get_or_try_init(|| async {
                let source = credentials::config_path().map_or_else(
                    || "the Docker config (neither DOCKER_CONFIG nor HOME is set)".to_string(),
                    |p| p.display().to_string(),
                );
                let name = self.name.clone();
                let found = tokio::task::spawn_blocking(move || credentials::for_registry(&name))
                    .await
                    .map_err(|e| ReadError::Unreadable(format!("credentials: {e}")))?
                    .map_err(|e| {
                        ReadError::Unreadable(format!("credentials for {}: {e}", self.name))
                    })?;
                Ok((found, source))
            })
            .await
    }
}
