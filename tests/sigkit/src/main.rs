//! sigkit: mints a throwaway Sigstore trust root and signs image digests with it the way
//! docker/github-builder does (cosign v3, `--new-bundle-format`), or as cosign's legacy
//! simplesigning signatures, for end-to-end tests that need real, verifiable signatures and
//! deliberately broken ones.

mod dhi;
mod legacy;
mod merkle;
mod oci;
mod pki;
mod root;
mod sign;
mod tsa;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

const USAGE: &str = "\
usage:
  sigkit mint-root --out DIR [--force]
      Creates DIR/trusted_root.json and the CA, Rekor, CT log and TSA keys (PKCS#8 PEM)
      that later `sign` calls use. Refuses to replace an existing root without --force.

  sigkit sign --root DIR --digest sha256:HEX --out BUNDLE.json [options]
      Writes a Sigstore v0.3 bundle whose DSSE statement (predicateType
      https://sigstore.dev/cosign/sign/v1) has the digest as its subject.
      --subject-name NAME   the statement subject's name (default example/app)
      --predicate-type URI  the statement's predicate type (default cosign's sign/v1)
      --identity URI        certificate URI SAN (default the github-builder build.yml@refs/tags/v1)
      --issuer URL          OIDC issuer (default https://token.actions.githubusercontent.com)
      --claim KEY=VALUE     a Fulcio claim by camelCase name, repeatable; KEY= drops it
      --timestamp           add an RFC 3161 timestamp from the kit TSA
      --expired             certificate expired an hour before the log integrated the entry
      --tamper              flip one bit of the DSSE signature afterwards

  sigkit sign-legacy --root DIR --digest sha256:HEX --docker-reference NAME --out-dir DIR
                     [options]
      Writes DIR/payload.json, cosign's simplesigning payload naming the digest and NAME,
      and DIR/annotations.json, the signature layer's annotations: the signature over the
      payload, the Fulcio leaf and chain (PEM) and the Rekor v1 hashedrekord entry with its
      SET (dev.sigstore.cosign/bundle). No RFC 3161 timestamp.
      --identity, --issuer, --claim   as for sign
      --expired             as for sign
      --tamper              flip one bit of the signature annotation (the log keeps the original)

  sigkit mint-dhi-key --out DIR
      Writes DIR/dhi.key.pem and DIR/dhi.pub: a throwaway key standing in for Docker's
      Docker Hardened Images key.

  sigkit sign-dhi --root DIR --key KEY.pem --digest sha256:HEX --docker-reference NAME
                  --out-dir DIR [--no-log] [--tamper]
      As sign-legacy, signed as Docker signs a DHI attestation: with KEY directly (no
      certificate), the Rekor hashedrekord entry (the root's log) naming the public key;
      --no-log leaves the log entry out (policy-helpers then requires no timestamp).

  sigkit oci SUBCOMMAND ...
      Reads and writes the OCI documents the scripts push (scripts/sigkit.sh); see
      `sigkit oci help`.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sigkit: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("mint-root") => mint_root(&args[1..]),
        Some("sign") => sign(&args[1..]),
        Some("sign-legacy") => sign_legacy(&args[1..]),
        Some("mint-dhi-key") => mint_dhi_key(&args[1..]),
        Some("sign-dhi") => sign_dhi(&args[1..]),
        Some("oci") => oci::cli::run(&args[1..]),
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown subcommand {other:?}\n{USAGE}"),
        None => bail!("no subcommand\n{USAGE}"),
    }
}

/// Walks `--flag [value]` arguments; every subcommand takes only options.
struct Args<'a> {
    it: std::slice::Iter<'a, String>,
}

impl<'a> Args<'a> {
    fn new(args: &'a [String]) -> Self {
        Args { it: args.iter() }
    }
    fn next_flag(&mut self) -> Option<&'a str> {
        self.it.next().map(String::as_str)
    }
    fn value(&mut self, flag: &str) -> Result<&'a str> {
        self.it
            .next()
            .map(String::as_str)
            .with_context(|| format!("{flag} needs a value"))
    }
}

fn mint_root(args: &[String]) -> Result<()> {
    let (mut out, mut force) = (None, false);
    let mut a = Args::new(args);
    while let Some(flag) = a.next_flag() {
        match flag {
            "--out" => out = Some(PathBuf::from(a.value(flag)?)),
            "--force" => force = true,
            _ => bail!("mint-root: unknown argument {flag:?}\n{USAGE}"),
        }
    }
    let out = out.context("mint-root: --out DIR is required")?;
    root::mint_root(&out, force).context("mint-root")
}

fn sign(args: &[String]) -> Result<()> {
    let (mut root_dir, mut digest, mut out) = (None, None, None);
    let mut rest = Vec::new();
    let mut a = Args::new(args);
    while let Some(flag) = a.next_flag() {
        match flag {
            "--root" => root_dir = Some(PathBuf::from(a.value(flag)?)),
            "--digest" => digest = Some(a.value(flag)?),
            "--out" => out = Some(PathBuf::from(a.value(flag)?)),
            "--subject-name" | "--predicate-type" | "--identity" | "--issuer" | "--claim" => {
                rest.push((flag, Some(a.value(flag)?)))
            }
            "--timestamp" | "--expired" | "--tamper" => rest.push((flag, None)),
            _ => bail!("sign: unknown argument {flag:?}\n{USAGE}"),
        }
    }
    let mut opts = sign::SignOptions::new(
        root_dir.context("sign: --root DIR is required")?,
        digest.context("sign: --digest sha256:HEX is required")?,
        out.context("sign: --out BUNDLE.json is required")?,
    )?;
    for (flag, value) in rest {
        let value = value.unwrap_or_default();
        match flag {
            "--subject-name" => opts.subject_name = value.into(),
            "--predicate-type" => opts.predicate_type = value.into(),
            "--identity" => opts.identity = value.into(),
            "--issuer" => opts.issuer = value.into(),
            "--claim" => opts.set_claim(value)?,
            "--timestamp" => opts.timestamp = true,
            "--expired" => opts.expired = true,
            _ => opts.tamper = true,
        }
    }
    sign::sign(&opts).context("sign")
}

fn sign_legacy(args: &[String]) -> Result<()> {
    let (mut root_dir, mut digest, mut out, mut reference) = (None, None, None, None);
    let mut rest = Vec::new();
    let mut a = Args::new(args);
    while let Some(flag) = a.next_flag() {
        match flag {
            "--root" => root_dir = Some(PathBuf::from(a.value(flag)?)),
            "--digest" => digest = Some(a.value(flag)?),
            "--out-dir" => out = Some(PathBuf::from(a.value(flag)?)),
            "--docker-reference" => reference = Some(a.value(flag)?),
            "--identity" | "--issuer" | "--claim" => rest.push((flag, Some(a.value(flag)?))),
            "--expired" | "--tamper" => rest.push((flag, None)),
            _ => bail!("sign-legacy: unknown argument {flag:?}\n{USAGE}"),
        }
    }
    let mut opts = sign::SignOptions::new(
        root_dir.context("sign-legacy: --root DIR is required")?,
        digest.context("sign-legacy: --digest sha256:HEX is required")?,
        out.context("sign-legacy: --out-dir DIR is required")?,
    )?;
    for (flag, value) in rest {
        let value = value.unwrap_or_default();
        match flag {
            "--identity" => opts.identity = value.into(),
            "--issuer" => opts.issuer = value.into(),
            "--claim" => opts.set_claim(value)?,
            "--expired" => opts.expired = true,
            _ => opts.tamper = true,
        }
    }
    let opts = legacy::LegacyOptions {
        sign: opts,
        docker_reference: reference
            .context("sign-legacy: --docker-reference NAME is required")?
            .into(),
    };
    legacy::sign_legacy(&opts).context("sign-legacy")
}

fn mint_dhi_key(args: &[String]) -> Result<()> {
    let mut a = Args::new(args);
    let mut out = None;
    while let Some(flag) = a.next_flag() {
        match flag {
            "--out" => out = Some(PathBuf::from(a.value(flag)?)),
            _ => bail!("mint-dhi-key: unknown argument {flag:?}\n{USAGE}"),
        }
    }
    dhi::mint_key(&out.context("mint-dhi-key: --out DIR is required")?).context("mint-dhi-key")
}

fn sign_dhi(args: &[String]) -> Result<()> {
    let (mut root_dir, mut key, mut digest, mut reference, mut out) =
        (None, None, None, None, None);
    let (mut log, mut tamper) = (true, false);
    let mut a = Args::new(args);
    while let Some(flag) = a.next_flag() {
        match flag {
            "--root" => root_dir = Some(PathBuf::from(a.value(flag)?)),
            "--key" => key = Some(PathBuf::from(a.value(flag)?)),
            "--digest" => digest = Some(a.value(flag)?),
            "--docker-reference" => reference = Some(a.value(flag)?),
            "--out-dir" => out = Some(PathBuf::from(a.value(flag)?)),
            "--no-log" => log = false,
            "--tamper" => tamper = true,
            _ => bail!("sign-dhi: unknown argument {flag:?}\n{USAGE}"),
        }
    }
    let out = out.context("sign-dhi: --out-dir DIR is required")?;
    // The digest is checked as `sign` checks it.
    let checked = sign::SignOptions::new(
        root_dir.clone().unwrap_or_default(),
        digest.context("sign-dhi: --digest sha256:HEX is required")?,
        out.clone(),
    )?;
    let opts = dhi::DhiOptions {
        root: root_dir.context("sign-dhi: --root DIR is required")?,
        key: key.context("sign-dhi: --key KEY.pem is required")?,
        digest_hex: checked.digest_hex,
        docker_reference: reference
            .context("sign-dhi: --docker-reference NAME is required")?
            .into(),
        out_dir: out,
        log,
        tamper,
    };
    dhi::sign_dhi(&opts).context("sign-dhi")
}
