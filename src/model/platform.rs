use crate::proto::pb;

/// `os/arch[/variant]`, as Buildx and BuildKit write platforms.
pub fn platform_string(p: &pb::Platform) -> String {
    let mut s = format!("{}/{}", p.os, p.architecture);
    if !p.variant.is_empty() {
        s.push('/');
        s.push_str(&p.variant);
    }
    s
}
