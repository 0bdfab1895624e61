//! Arguments and files of the `sigkit oci` subcommands; the documents themselves are made
//! and read by the sibling modules.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};
use oci_spec::image::{ImageIndex, ImageManifest, MediaType};

use super::dhi;
use super::edit::{self, ManifestEdit};
use super::{Document, descriptor_from_parts, descriptor_line, inspect, parse_exact};
use super::{referrer, referrers, sha256_digest, to_json};
use crate::legacy::{ANNOTATIONS_FILE, PAYLOAD_FILE};
use crate::pki;

pub const USAGE: &str = "\
usage:
  sigkit oci descriptor FILE [--media-type TYPE]
      Prints \"digest mediaType size\" of the manifest or index in FILE; TYPE (the
      Content-Type it was served with) stands in when the document names no mediaType.
  sigkit oci attestation-of INDEX PLATFORM
      Prints \"digest mediaType size\" of BuildKit's attestation manifest for the image
      of PLATFORM (os/arch[/variant]) in the index file INDEX.
  sigkit oci children FILE      the digests of the manifests an index lists, one a line
  sigkit oci blobs FILE         the config and layer digests of a manifest, one a line
  sigkit oci bundle-referrer --bundle FILE --subject DIGEST MEDIA_TYPE SIZE --out-dir DIR
      Writes DIR/manifest.json, the cosign v3 referrer of the subject carrying the
      Sigstore bundle FILE, and DIR/config.json, the empty blob it names as config.
  sigkit oci legacy-signature --sig-dir DIR --subject DIGEST MEDIA_TYPE SIZE --out-dir OUT
      From the payload.json and annotations.json `sign-legacy` wrote to DIR, writes
      OUT/manifest.json (cosign's signature image as a referrer of the subject) and
      OUT/config.json (cosign's signature-image config).
  sigkit oci empty-index --out FILE
      Writes an OCI image index with no manifests (an empty referrers tag).
  sigkit oci referrers-add --index FILE --manifest FILE --out FILE
      Writes the referrers tag index FILE with the referrer manifest listed (once).
  sigkit oci edit-manifest FILE --out FILE [edits]
      Writes the manifest FILE changed by: --set-annotation KEY=VALUE (repeatable),
      --drop-subject, --subject-size-delta N, --subject-media-type TYPE,
      --append-config-layer (a copy of the config's descriptor as a last layer).
  sigkit oci dhi-index INDEX --image DIGEST --title TITLE --out FILE
      Writes INDEX reduced to the image manifest DIGEST, shaped as a Docker Hardened
      Image's index (TITLE, e.g. dhi/app, and a build id on the entry).
  sigkit oci dhi-attestation ATTESTATION --out-dir DIR
      Writes DIR/manifest.json, the in-toto referrer of the image manifest that BuildKit's
      attestation manifest ATTESTATION is about (its subject), holding its SLSA layers, as
      a DHI's attestation is found, and DIR/config.json (the empty blob). Prints the image
      manifest's \"digest mediaType size\".
  sigkit oci repoint INDEX --from DIGEST --to MANIFEST --out FILE
      Writes the index INDEX with its entry for DIGEST pointing at the manifest file
      MANIFEST (its digest and size; media type, platform and annotations kept).
";

const MANIFEST_FILE: &str = "manifest.json";
const CONFIG_FILE: &str = "config.json";

pub fn run(args: &[String]) -> Result<()> {
    let Some((cmd, rest)) = args.split_first() else {
        bail!("oci: no subcommand\n{USAGE}");
    };
    let cmd = cmd.as_str();
    let run = match cmd {
        "descriptor" => descriptor,
        "attestation-of" => attestation_of,
        "children" => children,
        "blobs" => blobs,
        "bundle-referrer" => bundle_referrer,
        "legacy-signature" => legacy_signature,
        "empty-index" => empty_index,
        "referrers-add" => referrers_add,
        "edit-manifest" => edit_manifest,
        "repoint" => repoint,
        "dhi-index" => dhi_index,
        "dhi-attestation" => dhi_attestation,
        "-h" | "--help" | "help" => |_: &[String]| {
            print!("{USAGE}");
            Ok(())
        },
        _ => bail!("oci: unknown subcommand {cmd:?}\n{USAGE}"),
    };
    run(rest).with_context(|| format!("oci {cmd}"))
}

/// Positional arguments and `--flag value...` options, each flag with a fixed arity.
struct Parsed<'a> {
    positional: Vec<&'a str>,
    flags: Vec<(&'static str, Vec<&'a str>)>,
}

impl<'a> Parsed<'a> {
    fn new(args: &'a [String], spec: &[(&'static str, usize)], positional: usize) -> Result<Self> {
        let mut p = Parsed {
            positional: Vec::new(),
            flags: Vec::new(),
        };
        let mut it = args.iter().map(String::as_str);
        while let Some(arg) = it.next() {
            if !arg.starts_with("--") {
                p.positional.push(arg);
                continue;
            }
            let Some(&(flag, arity)) = spec.iter().find(|(f, _)| *f == arg) else {
                bail!("unknown argument {arg:?}\n{USAGE}");
            };
            let values: Vec<&str> = it.by_ref().take(arity).collect();
            if values.len() != arity {
                bail!("{flag} needs {arity} value(s)");
            }
            p.flags.push((flag, values));
        }
        if p.positional.len() != positional {
            bail!(
                "want {positional} argument(s), got {:?}\n{USAGE}",
                p.positional
            );
        }
        Ok(p)
    }

    fn all(&self, flag: &str) -> impl Iterator<Item = &[&'a str]> {
        self.flags
            .iter()
            .filter(move |(f, _)| *f == flag)
            .map(|(_, v)| v.as_slice())
    }

    fn get(&self, flag: &str) -> Option<&[&'a str]> {
        self.all(flag).last()
    }

    fn one(&self, flag: &str) -> Option<&'a str> {
        self.get(flag).map(|v| v[0])
    }

    fn required(&self, flag: &str) -> Result<&'a str> {
        self.one(flag)
            .with_context(|| format!("{flag} is required"))
    }

    fn has(&self, flag: &str) -> bool {
        self.get(flag).is_some()
    }

    fn subject(&self) -> Result<oci_spec::image::Descriptor> {
        match self.get("--subject") {
            Some(&[digest, media_type, size]) => {
                descriptor_from_parts(digest, media_type, size).context("--subject")
            }
            _ => bail!("--subject DIGEST MEDIA_TYPE SIZE is required"),
        }
    }
}

fn read(path: &str) -> Result<Vec<u8>> {
    fs::read(path).with_context(|| format!("reading {path}"))
}

fn write(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    let path = path.as_ref();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// Reads and parses FILE, naming it in any error.
fn load<T>(path: &str, parse: impl FnOnce(&[u8]) -> Result<T>) -> Result<T> {
    parse(&read(path)?).with_context(|| path.to_string())
}

fn descriptor(args: &[String]) -> Result<()> {
    let a = Parsed::new(args, &[("--media-type", 1)], 1)?;
    let d = load(a.positional[0], |b| {
        inspect::describe(b, a.one("--media-type"))
    })?;
    println!("{}", descriptor_line(&d));
    Ok(())
}

fn attestation_of(args: &[String]) -> Result<()> {
    let a = Parsed::new(args, &[], 2)?;
    let platform = inspect::Platform::parse(a.positional[1])?;
    let index: ImageIndex = load(a.positional[0], |b| {
        serde_json::from_slice(b).context("not an OCI image index")
    })?;
    let d = inspect::attestation_of(&index, &platform)
        .with_context(|| format!("{}: {}", a.positional[0], a.positional[1]))?;
    println!("{}", descriptor_line(d));
    Ok(())
}

fn children(args: &[String]) -> Result<()> {
    let a = Parsed::new(args, &[], 1)?;
    let doc = load(a.positional[0], Document::parse)?;
    inspect::children(&doc).iter().for_each(|d| println!("{d}"));
    Ok(())
}

fn blobs(args: &[String]) -> Result<()> {
    let a = Parsed::new(args, &[], 1)?;
    let doc = load(a.positional[0], Document::parse)?;
    inspect::blobs(&doc).iter().for_each(|d| println!("{d}"));
    Ok(())
}

fn write_referrer(out_dir: &str, r: &referrer::Referrer) -> Result<()> {
    let dir = Path::new(out_dir);
    write(dir.join(CONFIG_FILE), &r.config)?;
    write(dir.join(MANIFEST_FILE), &r.manifest)
}

fn bundle_referrer(args: &[String]) -> Result<()> {
    let a = Parsed::new(
        args,
        &[("--bundle", 1), ("--subject", 3), ("--out-dir", 1)],
        0,
    )?;
    let (bundle, subject, out) = (
        a.required("--bundle")?,
        a.subject()?,
        a.required("--out-dir")?,
    );
    let created = pki::rfc3339(pki::now_secs()?)?;
    let r = load(bundle, |b| referrer::bundle_referrer(b, subject, &created))?;
    write_referrer(out, &r)
}

fn legacy_signature(args: &[String]) -> Result<()> {
    let spec = [("--sig-dir", 1), ("--subject", 3), ("--out-dir", 1)];
    let a = Parsed::new(args, &spec, 0)?;
    let (dir, subject, out) = (
        a.required("--sig-dir")?,
        a.subject()?,
        a.required("--out-dir")?,
    );
    let payload = format!("{dir}/{PAYLOAD_FILE}");
    let annotations = format!("{dir}/{ANNOTATIONS_FILE}");
    let r = referrer::legacy_signature(&read(&payload)?, &read(&annotations)?, subject)
        .with_context(|| format!("{payload}, {annotations}"))?;
    write_referrer(out, &r)
}

fn empty_index(args: &[String]) -> Result<()> {
    let a = Parsed::new(args, &[("--out", 1)], 0)?;
    write(a.required("--out")?, &to_json(&referrers::empty()?)?)
}

fn referrers_add(args: &[String]) -> Result<()> {
    let spec = [("--index", 1), ("--manifest", 1), ("--out", 1)];
    let a = Parsed::new(args, &spec, 0)?;
    let index = load(a.required("--index")?, referrers::parse)?;
    let manifest = a.required("--manifest")?;
    let index = load(manifest, |b| referrers::add(index, b))?;
    write(a.required("--out")?, &to_json(&index)?)
}

fn manifest_edit(a: &Parsed) -> Result<ManifestEdit> {
    let set_annotations = a
        .all("--set-annotation")
        .map(|v| {
            let (k, val) = v[0]
                .split_once('=')
                .context("--set-annotation wants KEY=VALUE")?;
            Ok((k.to_string(), val.to_string()))
        })
        .collect::<Result<_>>()?;
    let subject_size_delta = match a.one("--subject-size-delta") {
        Some(n) => n
            .parse()
            .with_context(|| format!("--subject-size-delta: bad number {n:?}"))?,
        None => 0,
    };
    Ok(ManifestEdit {
        set_annotations,
        drop_subject: a.has("--drop-subject"),
        subject_size_delta,
        subject_media_type: a.one("--subject-media-type").map(MediaType::from),
        append_config_layer: a.has("--append-config-layer"),
    })
}

fn edit_manifest(args: &[String]) -> Result<()> {
    let spec = [
        ("--out", 1),
        ("--set-annotation", 1),
        ("--drop-subject", 0),
        ("--subject-size-delta", 1),
        ("--subject-media-type", 1),
        ("--append-config-layer", 0),
    ];
    let a = Parsed::new(args, &spec, 1)?;
    let edit = manifest_edit(&a)?;
    let m: ImageManifest = load(a.positional[0], |b| parse_exact(b, "image manifest"))?;
    let m = edit::apply(m, &edit).with_context(|| a.positional[0].to_string())?;
    write(a.required("--out")?, &to_json(&m)?)
}

fn repoint(args: &[String]) -> Result<()> {
    let a = Parsed::new(args, &[("--from", 1), ("--to", 1), ("--out", 1)], 1)?;
    let from = sha256_digest(a.required("--from")?)?;
    let index: ImageIndex = load(a.positional[0], |b| parse_exact(b, "image index"))?;
    let manifest = read(a.required("--to")?)?;
    let index =
        edit::repoint(index, &from, &manifest).with_context(|| a.positional[0].to_string())?;
    write(a.required("--out")?, &to_json(&index)?)
}

fn dhi_index(args: &[String]) -> Result<()> {
    let a = Parsed::new(args, &[("--image", 1), ("--title", 1), ("--out", 1)], 1)?;
    let image = sha256_digest(a.required("--image")?)?;
    let index: ImageIndex = load(a.positional[0], |b| parse_exact(b, "image index"))?;
    let index = dhi::index(index, &image, a.required("--title")?)
        .with_context(|| a.positional[0].to_string())?;
    write(a.required("--out")?, &to_json(&index)?)
}

fn dhi_attestation(args: &[String]) -> Result<()> {
    let a = Parsed::new(args, &[("--out-dir", 1)], 1)?;
    let m: ImageManifest = load(a.positional[0], |b| parse_exact(b, "image manifest"))?;
    let subject = m.subject().clone().with_context(|| {
        format!(
            "{}: the attestation manifest has no subject",
            a.positional[0]
        )
    })?;
    let r = dhi::attestation(&m, subject.clone()).with_context(|| a.positional[0].to_string())?;
    write_referrer(a.required("--out-dir")?, &r)?;
    println!("{}", descriptor_line(&subject));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::testdata::{ATTESTATION_DIGEST, BUILDKIT_ATTESTATION, BUILDKIT_INDEX};

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_take_their_values_and_positionals_are_counted() {
        let args = strings(&[
            "f",
            "--subject",
            "d",
            "t",
            "1",
            "--x",
            "--subject-size-delta",
            "-1",
        ]);
        let spec = [("--subject", 3), ("--x", 0), ("--subject-size-delta", 1)];
        let p = Parsed::new(&args, &spec, 1).unwrap();
        assert_eq!(p.positional, ["f"]);
        assert_eq!(p.get("--subject"), Some(&["d", "t", "1"][..]));
        assert!(p.has("--x"));
        assert_eq!(p.one("--subject-size-delta"), Some("-1"));
        assert!(
            Parsed::new(&args, &spec, 2).is_err(),
            "one positional, not two"
        );
        assert!(
            Parsed::new(&strings(&["--subject", "d"]), &spec, 0).is_err(),
            "too few values"
        );
        assert!(
            Parsed::new(&strings(&["--y"]), &spec, 0).is_err(),
            "unknown flag"
        );
    }

    /// A scratch directory for one test, removed when dropped.
    struct Scratch(std::path::PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("sigkit-{}-{name}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }
        fn path(&self, name: &str) -> String {
            self.0.join(name).display().to_string()
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn oci(args: &[&str]) -> Result<()> {
        run(&strings(args))
    }

    #[test]
    fn the_binding_rewrite_and_a_referrer_go_through_files() {
        let s = Scratch::new("files");
        fs::write(s.path("att.json"), BUILDKIT_ATTESTATION).unwrap();
        fs::write(s.path("index.json"), BUILDKIT_INDEX).unwrap();
        let (att, new) = (s.path("att.json"), s.path("att.new"));
        oci(&[
            "edit-manifest",
            &att,
            "--out",
            &new,
            "--subject-size-delta",
            "+1",
        ])
        .unwrap();
        let (index, index_new) = (s.path("index.json"), s.path("index.new"));
        oci(&[
            "repoint",
            &index,
            "--from",
            ATTESTATION_DIGEST,
            "--to",
            &new,
            "--out",
            &index_new,
        ])
        .unwrap();
        let edited: ImageManifest = serde_json::from_slice(&read(&new).unwrap()).unwrap();
        assert_eq!(edited.subject().as_ref().unwrap().size(), 481);
        let repointed: ImageIndex = serde_json::from_slice(&read(&index_new).unwrap()).unwrap();
        let d = inspect::attestation_of(
            &repointed,
            &inspect::Platform::parse("linux/amd64").unwrap(),
        )
        .unwrap();
        assert_eq!(
            d.digest(),
            &super::super::digest_of(&read(&new).unwrap()).unwrap()
        );

        let tag = s.path("referrers.json");
        oci(&["empty-index", "--out", &tag]).unwrap();
        for _ in 0..2 {
            oci(&[
                "referrers-add",
                "--index",
                &tag,
                "--manifest",
                &new,
                "--out",
                &tag,
            ])
            .unwrap();
        }
        let listed: ImageIndex = serde_json::from_slice(&read(&tag).unwrap()).unwrap();
        assert_eq!(listed.manifests().len(), 1, "added twice, listed once");
    }

    #[test]
    fn errors_name_the_file() {
        let s = Scratch::new("errors");
        let extra = BUILDKIT_ATTESTATION.replacen('{', "{\"extra\": true,", 1);
        fs::write(s.path("att.json"), extra).unwrap();
        let (att, out) = (s.path("att.json"), s.path("out.json"));
        let err = oci(&["edit-manifest", &att, "--out", &out, "--drop-subject"]).unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains(&att) && text.contains("/extra"), "{text}");
        assert!(!Path::new(&out).exists(), "nothing written");
        let err = oci(&["descriptor", &s.path("missing.json")]).unwrap_err();
        assert!(format!("{err:#}").contains("missing.json"), "{err:#}");
    }
}
