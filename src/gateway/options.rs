//! Frontend options as BuildKit hands them over: `BUILDKIT_FRONTEND_OPT_<n>=<key>=<value>`.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::model::Mode as PolicyMode;

const OPT_PREFIX: &str = "BUILDKIT_FRONTEND_OPT_";

/// Options this frontend consumes itself; everything else is forwarded untouched to the
/// Dockerfile frontend so a verified build sees exactly the options a plain build would.
pub const OPT_DOCKERFILE_FRONTEND: &str = "dockerfile-frontend";
/// Extra policy files in the build context (comma-separated); each must allow every source.
pub const OPT_POLICY: &str = "policy";
/// `enforce` (default), `warn`, `report-only` or `off`.
pub const OPT_POLICY_MODE: &str = "policy-mode";
/// `true`: a build that decides sources must find a policy (Buildx's `strict` idea).
pub const OPT_POLICY_STRICT: &str = "policy-strict";
/// A Sigstore `trusted_root.json` in the build context; replaces the embedded roots.
pub const OPT_TRUSTED_ROOT: &str = "trusted-root";
/// The named context `trusted-root` is read from, instead of the build context.
pub const OPT_TRUSTED_ROOT_CONTEXT: &str = "trusted-root-context";
/// The single knob: `enforce` or `warn` adds the built-in policy (`knob`); `off` does not.
pub const OPT_VERIFIED: &str = "verified";

/// `docker build` can pass only build args, so each option also has a build-arg form.
fn build_arg_form(key: &str) -> String {
    format!(
        "build-arg:VERIFIED_FRONTEND_{}",
        key.to_ascii_uppercase().replace('-', "_")
    )
}

const OWN_OPTIONS: [&str; 7] = [
    OPT_DOCKERFILE_FRONTEND,
    OPT_POLICY,
    OPT_POLICY_MODE,
    OPT_POLICY_STRICT,
    OPT_TRUSTED_ROOT,
    OPT_TRUSTED_ROOT_CONTEXT,
    OPT_VERIFIED,
];

/// Keys the Dockerfile frontend reads that this frontend also sets.
pub const OPT_CMDLINE: &str = "cmdline";
pub const OPT_SOURCE: &str = "source";

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Every option received, in key order (BuildKit numbers them in Go map order).
    pub all: BTreeMap<String, String>,
    /// Image of another Dockerfile frontend to call instead of the daemon's built-in one.
    pub dockerfile_frontend: Option<String>,
    /// Policy files named by the `policy` option, in order.
    pub policies: Vec<String>,
    pub policy_mode: PolicyMode,
    /// `policy-strict`: no policy found fails the build (in `enforce` and `warn` mode).
    pub policy_strict: bool,
    /// `trusted-root`: path of a trusted root in the build context.
    pub trusted_root: Option<String>,
    /// `trusted-root-context`: the named context holding it instead.
    pub trusted_root_context: Option<String>,
    /// `verified`: the built-in policy decides too, in this mode (the build's policy mode).
    pub verified: Option<PolicyMode>,
}

impl Options {
    pub fn from_env() -> Result<Self> {
        Self::parse(std::env::vars())
    }

    pub fn parse(vars: impl IntoIterator<Item = (String, String)>) -> Result<Self> {
        let all = received(vars)?;
        let own = |key: &str| {
            all.get(key)
                .or_else(|| all.get(&build_arg_form(key)))
                .map(String::as_str)
        };
        let dockerfile_frontend = dockerfile_frontend(own(OPT_DOCKERFILE_FRONTEND))?;
        let policies = policy_files(own(OPT_POLICY))?;
        let (trusted_root, trusted_root_context) =
            trusted_root(own(OPT_TRUSTED_ROOT), own(OPT_TRUSTED_ROOT_CONTEXT))?;
        let (policy_mode, policy_strict) =
            policy_mode(own(OPT_POLICY_MODE), own(OPT_POLICY_STRICT))?;
        let (verified, policy_mode) =
            verified(own(OPT_VERIFIED), own(OPT_POLICY_MODE), policy_mode)?;
        Ok(Options {
            all,
            dockerfile_frontend,
            policies,
            policy_mode,
            policy_strict,
            trusted_root,
            trusted_root_context,
            verified,
        })
    }

    /// Options for the Dockerfile frontend. `cmdline` must be present: it is the Dockerfile
    /// frontend's guard against following the `# syntax=` line back to this frontend. When
    /// we were started directly (`--frontend gateway.v0 --opt source=...`) nobody set it, so
    /// set it to our own image reference, as `forwardGateway` would.
    pub fn forwarded(&self) -> BTreeMap<String, String> {
        let mut out: BTreeMap<String, String> = self
            .all
            .iter()
            .filter(|(k, _)| {
                !OWN_OPTIONS
                    .iter()
                    .any(|o| k.as_str() == *o || **k == build_arg_form(o))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !out.contains_key(OPT_CMDLINE) {
            let cmdline = self
                .all
                .get(OPT_SOURCE)
                .cloned()
                .unwrap_or_else(|| "verified-frontend".to_string());
            out.insert(OPT_CMDLINE.to_string(), cmdline);
        }
        if let Some(image) = &self.dockerfile_frontend {
            out.insert(OPT_SOURCE.to_string(), image.clone());
        }
        out
    }
}

/// Every option received, by key. The value is "key=value"; keys cannot contain '='
/// (BuildKit splits at the first one).
fn received(vars: impl IntoIterator<Item = (String, String)>) -> Result<BTreeMap<String, String>> {
    let mut all = BTreeMap::new();
    for (name, value) in vars {
        if !name.starts_with(OPT_PREFIX) {
            continue;
        }
        let Some((key, val)) = value.split_once('=') else {
            return Err(Error::option(
                name,
                format!("expected key=value, got {value:?}"),
            ));
        };
        all.insert(key.to_string(), val.to_string());
    }
    Ok(all)
}

fn dockerfile_frontend(value: Option<&str>) -> Result<Option<String>> {
    match value {
        Some(v) if v.trim().is_empty() => Err(Error::option(
            OPT_DOCKERFILE_FRONTEND,
            "empty image reference",
        )),
        Some(v) => Ok(Some(v.trim().to_string())),
        None => Ok(None),
    }
}

/// A path the option names in the build context: relative, and not leaving it.
fn inside(opt: &str, p: &str) -> Result<()> {
    if p.is_empty() || p.starts_with('/') || p.split('/').any(|c| c == "..") {
        Err(Error::option(
            opt,
            format!("{p:?} must be a path inside the build context"),
        ))
    } else {
        Ok(())
    }
}

/// The `policy` option: comma-separated paths in the build context, in order.
fn policy_files(value: Option<&str>) -> Result<Vec<String>> {
    let policies: Vec<String> = value
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    for p in &policies {
        inside(OPT_POLICY, p)?;
    }
    Ok(policies)
}

/// `trusted-root` (a path in the build context) and `trusted-root-context` (the named
/// context it is read from instead), which means nothing without it.
fn trusted_root(
    root: Option<&str>,
    context: Option<&str>,
) -> Result<(Option<String>, Option<String>)> {
    let trusted_root = root.map(|v| v.trim().to_string());
    if let Some(p) = &trusted_root {
        inside(OPT_TRUSTED_ROOT, p)?;
    }
    let trusted_root_context = context.map(|v| v.trim().to_string());
    match (&trusted_root_context, &trusted_root) {
        (Some(c), _) if c.is_empty() => Err(Error::option(
            OPT_TRUSTED_ROOT_CONTEXT,
            "empty context name",
        )),
        (Some(_), None) => Err(Error::option(
            OPT_TRUSTED_ROOT_CONTEXT,
            "names where trusted-root is read from; set trusted-root too",
        )),
        _ => Ok((trusted_root, trusted_root_context)),
    }
}

/// `policy-mode` and `policy-strict`, which contradict `off`.
fn policy_mode(mode: Option<&str>, strict: Option<&str>) -> Result<(PolicyMode, bool)> {
    let policy_mode = match mode {
        Some(m) => PolicyMode::parse(m.trim())?,
        None => PolicyMode::default(),
    };
    let policy_strict = match strict {
        Some(v) => parse_bool(OPT_POLICY_STRICT, v.trim())?,
        None => false,
    };
    if policy_strict && policy_mode == PolicyMode::Off {
        // As Buildx refuses `disabled` with other policy flags: the two contradict.
        return Err(Error::option(
            OPT_POLICY_STRICT,
            "requires a policy, so it cannot be combined with policy-mode=off",
        ));
    }
    Ok((policy_mode, policy_strict))
}

/// `verified=enforce|warn|off`. It sets the build's policy mode, so `policy-mode`, when
/// given too, must say the same (one mode decides every policy of a build).
fn verified(
    value: Option<&str>,
    mode_given: Option<&str>,
    mode: PolicyMode,
) -> Result<(Option<PolicyMode>, PolicyMode)> {
    let knob = match value.map(str::trim) {
        None | Some("off") => return Ok((None, mode)),
        Some("enforce") => PolicyMode::Enforce,
        Some("warn") => PolicyMode::Warn,
        Some(other) => {
            return Err(Error::option(
                OPT_VERIFIED,
                format!("{other:?} is not one of enforce, warn, off"),
            ));
        }
    };
    if mode_given.is_some() && mode != knob {
        return Err(Error::option(
            OPT_VERIFIED,
            format!(
                "verified={} sets the policy mode, but policy-mode={} says otherwise; give one of them",
                knob.as_str(),
                mode.as_str()
            ),
        ));
    }
    Ok((Some(knob), knob))
}

/// A boolean option, spelled as Go's `strconv.ParseBool` accepts it (what Buildx's
/// `strict=` takes).
fn parse_bool(key: &str, v: &str) -> Result<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        other => Err(Error::option(
            key,
            format!("{other:?} is not a boolean (true or false)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[&str]) -> Vec<(String, String)> {
        pairs
            .iter()
            .enumerate()
            .map(|(i, p)| (format!("{OPT_PREFIX}{i}"), p.to_string()))
            .chain([("PATH".to_string(), "/bin".to_string())])
            .collect()
    }

    #[test]
    fn parses_and_splits_at_first_equals() {
        let o = Options::parse(env(&["build-arg:A=b=c", "filename=Dockerfile"])).unwrap();
        assert_eq!(o.all["build-arg:A"], "b=c");
        assert_eq!(o.all["filename"], "Dockerfile");
        assert_eq!(o.all.len(), 2);
    }

    #[test]
    fn keeps_cmdline_of_syntax_forwarding() {
        let o = Options::parse(env(&["cmdline=reg/vf:1 --x", "source=reg/vf:1"])).unwrap();
        assert_eq!(o.forwarded()["cmdline"], "reg/vf:1 --x");
    }

    #[test]
    fn sets_cmdline_when_called_directly_to_break_the_loop() {
        let o = Options::parse(env(&["source=reg/vf:1"])).unwrap();
        assert_eq!(o.forwarded()["cmdline"], "reg/vf:1");
    }

    #[test]
    fn own_option_is_consumed_not_forwarded() {
        let o = Options::parse(env(&["dockerfile-frontend=reg/df:1", "source=reg/vf"])).unwrap();
        assert_eq!(o.dockerfile_frontend.as_deref(), Some("reg/df:1"));
        let f = o.forwarded();
        assert!(!f.contains_key("dockerfile-frontend"));
        assert_eq!(f["source"], "reg/df:1");
    }

    #[test]
    fn policy_options_and_their_build_arg_forms() {
        let o = Options::parse(env(&["policy=a.rego, sub/b.rego", "policy-mode=warn"])).unwrap();
        assert_eq!(o.policies, ["a.rego", "sub/b.rego"]);
        assert_eq!(o.policy_mode, PolicyMode::Warn);
        let o = Options::parse(env(&[
            "policy-mode=report-only",
            "trusted-root=keys/root.json",
        ]))
        .unwrap();
        assert_eq!(o.policy_mode, PolicyMode::ReportOnly);
        assert_eq!(o.trusted_root.as_deref(), Some("keys/root.json"));
        let o = Options::parse(env(&[
            "build-arg:VERIFIED_FRONTEND_POLICY=x.rego",
            "build-arg:VERIFIED_FRONTEND_POLICY_MODE=off",
            "build-arg:OTHER=1",
        ]))
        .unwrap();
        assert_eq!(o.policies, ["x.rego"]);
        assert_eq!(o.policy_mode, PolicyMode::Off);
        let f = o.forwarded();
        assert!(f.contains_key("build-arg:OTHER"));
        assert!(!f.keys().any(|k| k.contains("VERIFIED_FRONTEND")), "{f:?}");
        assert_eq!(
            Options::parse(env(&[])).unwrap().policy_mode,
            PolicyMode::Enforce
        );
    }

    #[test]
    fn bad_policy_options_are_clear_errors() {
        let err = Options::parse(env(&["policy-mode=strict"]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("policy-mode") && err.contains("enforce, warn, report-only, off"),
            "{err}"
        );
        for (opt, bad) in [
            ("trusted-root=/etc/root.json", "trusted-root"),
            ("trusted-root=../root.json", "trusted-root"),
            ("trusted-root=", "trusted-root"),
            ("trusted-root-context=roots", "set trusted-root too"),
        ] {
            let err = Options::parse(env(&[opt])).unwrap_err().to_string();
            assert!(
                err.contains(bad)
                    && (err.contains("inside the build context")
                        || err.contains("set trusted-root too")),
                "{opt}: {err}"
            );
        }
        let err = Options::parse(env(&["policy=../etc/x.rego"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("inside the build context"), "{err}");
    }

    #[test]
    fn malformed_option_is_a_clear_error() {
        let err = Options::parse(env(&["novalue"])).unwrap_err().to_string();
        assert!(err.contains("expected key=value"), "{err}");
        let err = Options::parse(env(&["dockerfile-frontend= "]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("dockerfile-frontend"), "{err}");
    }

    #[test]
    fn policy_strict_and_its_build_arg_form() {
        assert!(!Options::parse(env(&[])).unwrap().policy_strict);
        for (opt, want) in [
            ("policy-strict=true", true),
            ("policy-strict=1", true),
            ("policy-strict=True", true),
            ("policy-strict=false", false),
            ("policy-strict=0", false),
            ("build-arg:VERIFIED_FRONTEND_POLICY_STRICT=true", true),
            ("build-arg:VERIFIED_FRONTEND_POLICY_STRICT=0", false),
        ] {
            let o = Options::parse(env(&[opt, "build-arg:OTHER=1"])).unwrap();
            assert_eq!(o.policy_strict, want, "{opt}");
            let f = o.forwarded();
            assert!(
                !f.keys()
                    .any(|k| k.contains("STRICT") || k.contains("strict")),
                "consumed, not forwarded: {f:?}"
            );
            assert!(f.contains_key("build-arg:OTHER"));
        }
        let o = Options::parse(env(&["policy-strict=true", "policy-mode=report-only"])).unwrap();
        assert!(o.policy_strict);
    }

    #[test]
    fn bad_policy_strict_is_a_clear_error() {
        for bad in [
            "policy-strict=yes",
            "policy-strict=",
            "build-arg:VERIFIED_FRONTEND_POLICY_STRICT=on",
        ] {
            let err = Options::parse(env(&[bad])).unwrap_err().to_string();
            assert!(
                err.starts_with("frontend option policy-strict: ") && err.contains("not a boolean"),
                "{bad}: {err}"
            );
        }
        let err = Options::parse(env(&["policy-strict=true", "policy-mode=off"]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("policy-strict") && err.contains("policy-mode=off"),
            "{err}"
        );
        assert!(
            Options::parse(env(&["policy-strict=false", "policy-mode=off"])).is_ok(),
            "false asks for nothing"
        );
    }

    #[test]
    fn verified_turns_on_the_knob_and_sets_the_mode() {
        for (opts, want) in [
            (vec!["verified=enforce"], Some(PolicyMode::Enforce)),
            (vec!["verified=warn"], Some(PolicyMode::Warn)),
            (
                vec!["build-arg:VERIFIED_FRONTEND_VERIFIED=warn"],
                Some(PolicyMode::Warn),
            ),
            (
                vec!["verified=warn", "policy-mode=warn"],
                Some(PolicyMode::Warn),
            ),
            (vec!["verified=off", "policy-mode=report-only"], None),
            (vec![], None),
        ] {
            let o = Options::parse(env(&opts)).unwrap();
            assert_eq!(o.verified, want, "{opts:?}");
            if let Some(m) = want {
                assert_eq!(o.policy_mode, m, "{opts:?}");
            }
            assert!(
                !o.forwarded()
                    .keys()
                    .any(|k| k.contains("VERIFIED_FRONTEND") || k == "verified"),
                "consumed, not forwarded"
            );
        }
        for (opts, want) in [
            (vec!["verified=yes"], "not one of enforce, warn, off"),
            (
                vec!["verified=warn", "policy-mode=enforce"],
                "policy-mode=enforce says otherwise",
            ),
            (
                vec!["verified=enforce", "policy-mode=off"],
                "policy-mode=off says otherwise",
            ),
        ] {
            let e = Options::parse(env(&opts)).unwrap_err().to_string();
            assert!(
                e.starts_with("frontend option verified: ") && e.contains(want),
                "{e}"
            );
        }
    }
}
