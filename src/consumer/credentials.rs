//! Registry credentials as Docker clients find them: `$DOCKER_CONFIG/config.json` (default
//! `~/.docker/config.json`), per registry a credential helper (`credHelpers`), the default
//! store (`credsStore`), or an `auths` entry (base64 `user:password`, or `username` and
//! `password`). Docker Hub's key is `https://index.docker.io/v1/`. Nothing found means
//! anonymous, as `docker pull` does.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde::Deserialize;

/// Docker Hub's key in config files and credential helpers.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// What a credential helper (or a test's stand-in) answers for a registry key.
type Helper<'a> = &'a dyn Fn(&str, &str) -> Result<Option<Credentials>, String>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub secret: String,
}

#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
    #[serde(rename = "identitytoken")]
    identity_token: Option<String>,
}

/// A credential helper's answer (`docker-credential-<name> get`).
#[derive(Debug, Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

/// The Docker config file this process would read.
pub fn config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json"))
}

/// The credentials for `registry` (a host, `docker.io` for Docker Hub); `Ok(None)` when the
/// config has none. A config or helper that is there but broken is an error, not anonymous.
pub fn for_registry(registry: &str) -> Result<Option<Credentials>, String> {
    let Some(path) = config_path() else {
        return Ok(None);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    lookup(&path, &text, registry, &run_helper)
}

fn key_of(registry: &str) -> String {
    match registry {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB_KEY.into(),
        other => other.to_string(),
    }
}

/// Looks `registry` up in a config file's text; `helper(name, key)` asks a helper.
fn lookup(
    path: &Path,
    text: &str,
    registry: &str,
    helper: Helper<'_>,
) -> Result<Option<Credentials>, String> {
    let config: ConfigFile = serde_json::from_str(text)
        .map_err(|e| format!("{}: not a Docker config file: {e}", path.display()))?;
    let key = key_of(registry);
    if let Some(name) = config.cred_helpers.get(&key) {
        return helper(name, &key);
    }
    if let Some(name) = config.creds_store.as_deref().filter(|s| !s.is_empty())
        && let Some(c) = helper(name, &key)?
    {
        return Ok(Some(c));
    }
    let entry = config
        .auths
        .iter()
        .find(|(k, _)| normalize_auth_key(k) == normalize_auth_key(&key))
        .map(|(_, v)| v);
    match entry {
        Some(e) => from_entry(path, &key, e),
        None => Ok(None),
    }
}

/// `https://host/v1/` and `host` name the same registry in `auths`, as the Docker CLI reads it.
fn normalize_auth_key(k: &str) -> &str {
    if k == DOCKER_HUB_KEY {
        return k;
    }
    let k = k
        .strip_prefix("https://")
        .or_else(|| k.strip_prefix("http://"))
        .unwrap_or(k);
    k.split('/').next().unwrap_or(k)
}

fn from_entry(path: &Path, key: &str, e: &AuthEntry) -> Result<Option<Credentials>, String> {
    let bad = |why: &str| format!("{}: auths[{key:?}]: {why}", path.display());
    if let Some(token) = e.identity_token.as_deref().filter(|t| !t.is_empty()) {
        // An OAuth refresh token: the registry's token endpoint takes it as the password of
        // the user `<token>`.
        return Ok(Some(Credentials {
            username: "<token>".into(),
            secret: token.to_string(),
        }));
    }
    if let Some(auth) = e.auth.as_deref().filter(|a| !a.is_empty()) {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| bad("auth is not base64"))?;
        let text = String::from_utf8(raw).map_err(|_| bad("auth is not UTF-8"))?;
        let (user, secret) = text
            .split_once(':')
            .ok_or_else(|| bad("auth is not user:password"))?;
        return Ok(Some(Credentials {
            username: user.to_string(),
            secret: secret.to_string(),
        }));
    }
    match (&e.username, &e.password) {
        (Some(u), Some(p)) => Ok(Some(Credentials {
            username: u.clone(),
            secret: p.clone(),
        })),
        _ => Ok(None),
    }
}

/// Runs `docker-credential-<name> get` with the registry key on stdin.
fn run_helper(name: &str, key: &str) -> Result<Option<Credentials>, String> {
    run_program(&format!("docker-credential-{name}"), key)
}

fn run_program(program: &str, key: &str) -> Result<Option<Credentials>, String> {
    let mut child = Command::new(program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("credential helper {program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(key.as_bytes())
            .map_err(|e| format!("credential helper {program}: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("credential helper {program}: {e}"))?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stdout).trim().to_string();
        // The helpers' protocol: this message means "nothing stored", not a failure.
        if said.contains("credentials not found") {
            return Ok(None);
        }
        return Err(format!(
            "credential helper {program} failed for {key}: {said}"
        ));
    }
    let answer: HelperAnswer = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("credential helper {program}: unreadable answer: {e}"))?;
    Ok(Some(Credentials {
        username: answer.username,
        secret: answer.secret,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_helper(_: &str, _: &str) -> Result<Option<Credentials>, String> {
        panic!("no helper should run")
    }

    fn look(text: &str, registry: &str) -> Result<Option<Credentials>, String> {
        lookup(Path::new("config.json"), text, registry, &no_helper)
    }

    fn creds(u: &str, s: &str) -> Option<Credentials> {
        Some(Credentials {
            username: u.into(),
            secret: s.into(),
        })
    }

    #[test]
    fn auths_entries_are_read_by_host_and_for_docker_hub() {
        // "ann:pw" and "bob:s3:cret" (a password may hold a colon).
        let text = r#"{"auths": {
            "https://index.docker.io/v1/": {"auth": "YW5uOnB3"},
            "ghcr.io": {"auth": "Ym9iOnMzOmNyZXQ="},
            "https://registry.example.com/v2/": {"username": "c", "password": "d"}
        }}"#;
        assert_eq!(look(text, "docker.io").unwrap(), creds("ann", "pw"));
        assert_eq!(look(text, "ghcr.io").unwrap(), creds("bob", "s3:cret"));
        assert_eq!(look(text, "registry.example.com").unwrap(), creds("c", "d"));
        assert_eq!(look(text, "quay.io").unwrap(), None);
    }

    #[test]
    fn a_broken_entry_or_file_is_an_error_naming_it() {
        let e = look(r#"{"auths": {"ghcr.io": {"auth": "!!"}}}"#, "ghcr.io").unwrap_err();
        assert!(e.contains("auths[\"ghcr.io\"]: auth is not base64"), "{e}");
        let e = look("{not json", "ghcr.io").unwrap_err();
        assert!(e.contains("not a Docker config file"), "{e}");
    }

    #[test]
    fn a_helper_program_is_asked_by_the_protocol() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("docker-credential-test");
        std::fs::write(
            &script,
            "#!/bin/sh\nread key\n[ \"$1\" = get ] || exit 3\ncase \"$key\" in\n  ghcr.io) echo '{\"Username\":\"u\",\"Secret\":\"s\"}' ;;\n  *) echo 'credentials not found in native keychain'; exit 1 ;;\nesac\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let program = script.display().to_string();
        assert_eq!(run_program(&program, "ghcr.io").unwrap(), creds("u", "s"));
        assert_eq!(run_program(&program, "quay.io").unwrap(), None);
        let e = run_program("/nonexistent/docker-credential-x", "ghcr.io").unwrap_err();
        assert!(e.contains("docker-credential-x"), "{e}");
    }

    #[test]
    fn helpers_come_first_per_registry_then_the_store() {
        let text = r#"{"credHelpers": {"ghcr.io": "gh"}, "credsStore": "desktop",
            "auths": {"quay.io": {"auth": "YW5uOnB3"}}}"#;
        let helper = |name: &str, key: &str| -> Result<Option<Credentials>, String> {
            Ok(match (name, key) {
                ("gh", "ghcr.io") => creds("gh-user", "gh-token"),
                ("desktop", "https://index.docker.io/v1/") => creds("hub", "t"),
                _ => None,
            })
        };
        let path = Path::new("config.json");
        assert_eq!(
            lookup(path, text, "ghcr.io", &helper).unwrap(),
            creds("gh-user", "gh-token")
        );
        assert_eq!(
            lookup(path, text, "docker.io", &helper).unwrap(),
            creds("hub", "t")
        );
        // The store has nothing for quay.io: the auths entry answers.
        assert_eq!(
            lookup(path, text, "quay.io", &helper).unwrap(),
            creds("ann", "pw")
        );
    }
}
