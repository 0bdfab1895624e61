//! Platforms a provenance material names (`?platform=linux%2Farm64`), read as containerd's
//! `platforms.Parse` reads them: lowercased, and architecture names normalized.

use crate::proto::pb;

/// `os/arch[/variant]`, normalized; `None` for what containerd refuses.
pub(super) fn parse(s: &str) -> Option<pb::Platform> {
    let s = s.to_ascii_lowercase();
    let parts: Vec<&str> = s.split('/').collect();
    let (os, arch, variant) = match parts[..] {
        [os, arch] => (os, arch, ""),
        [os, arch, variant] => (os, arch, variant),
        _ => return None,
    };
    let ok = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    if !ok(os) || !ok(arch) || !(variant.is_empty() || ok(variant)) {
        return None;
    }
    let (arch, variant) = normalize_arch(arch, variant);
    Some(pb::Platform {
        os: if os == "macos" { "darwin" } else { os }.to_string(),
        architecture: arch.to_string(),
        variant: variant.to_string(),
        ..Default::default()
    })
}

/// containerd's `normalizeArch`.
fn normalize_arch<'a>(arch: &'a str, variant: &'a str) -> (&'a str, &'a str) {
    match (arch, variant) {
        ("i386", _) => ("386", ""),
        ("x86_64" | "x86-64" | "amd64", "v1") => ("amd64", ""),
        ("x86_64" | "x86-64", v) => ("amd64", v),
        ("aarch64" | "arm64", "8" | "v8" | "") => ("arm64", ""),
        ("aarch64", v) => ("arm64", v),
        ("armhf", _) => ("arm", "v7"),
        ("armel", _) => ("arm", "v6"),
        ("arm", "" | "7") => ("arm", "v7"),
        ("arm", "5" | "6" | "8") => ("arm", variant_v(variant)),
        other => other,
    }
}

fn variant_v(v: &str) -> &'static str {
    match v {
        "5" => "v5",
        "6" => "v6",
        _ => "v8",
    }
}
