"""Derives the fuzz targets' seed corpora from testdata/ and fuzz/seeds/ (see seed.sh).

Chains and layouts are written in the targets' template format (fuzz/src/lib.rs): segments
split by lines `%%`, a header then blobs, and every digest, hex or size of another blob
replaced by `%dN`, `%hN` or `%sN`, so a mutated blob still matches the digests naming it.
"""

import hashlib
import json
import pathlib
import re
import sys

SEP = b"\n%%\n"


def sha(b):
    return hashlib.sha256(b).hexdigest()


def template(header, blobs):
    """Blobs with every reference to another blob made a token; the header too."""
    hexes = [sha(b) for b in blobs]

    def tokens(b, me):
        for j, h in enumerate(hexes):
            if j == me:
                continue
            b = b.replace(b"sha256:" + h.encode(), b"%%d%d" % j)
            b = b.replace(h.encode(), b"%%h%d" % j)
            size = (
                rb'("digest"\s*:\s*"%%d%d"\s*,\s*"size"\s*:\s*)%d\b' % (j, len(blobs[j]))
            )
            b = re.sub(size, rb"\g<1>%%s%d" % j, b)
        return b

    out = [tokens(header, -1)] + [tokens(b, i) for i, b in enumerate(blobs)]
    return SEP.join(out)


class Out:
    def __init__(self, root):
        self.root = root
        self.count = {}

    def put(self, target, name, data):
        d = self.root / target
        d.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(data)
        self.count[target] = self.count.get(target, 0) + 1


# --- protobuf, as much as an LLB definition needs -------------------------------------


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, body):
    if isinstance(body, str):
        body = body.encode()
    return varint(num << 3 | 2) + varint(len(body)) + body


def vfield(num, n):
    return varint(num << 3) + varint(n)


def entry(k, v):
    return field(1, k) + field(2, v)


def platform():
    return field(10, field(1, "amd64") + field(2, "linux"))


def source(ident, attrs=()):
    body = field(1, ident) + b"".join(field(2, entry(k, v)) for k, v in sorted(attrs))
    return field(3, body) + platform()


def digest_of(op):
    return "sha256:" + sha(op)


def inputs(*ops):
    return b"".join(field(1, field(1, digest_of(o)) + vfield(2, 0)) for o in ops)


def exec_op(ins, args, network=0):
    meta = field(1, b"".join(field(1, a) for a in args))
    mounts = b"".join(
        field(2, vfield(1, i) + field(3, "/" if i == 0 else "/m%d" % i)) for i in range(len(ins))
    )
    body = meta + mounts + (vfield(3, network) if network else b"")
    return inputs(*ins) + field(2, body) + platform()


def file_op(ins):
    # FileAction: input 0, no secondary input (-1), output 0, mkdir /x
    mkdir = field(6, field(1, "/x") + vfield(2, 0o755))
    action = vfield(1, 0) + vfield(2, -1 & 0xFFFFFFFFFFFFFFFF) + vfield(3, 0)
    return inputs(*ins) + field(4, field(2, action + mkdir)) + platform()


def merge_op(ins):
    return inputs(*ins) + field(6, b"".join(field(1, vfield(1, i)) for i in range(len(ins))))


def terminal(op):
    return inputs(op)


def definition(ops, caps=(), locations=True):
    out = b"".join(field(1, o) for o in ops)
    for o in ops:
        md = field(2, entry("llb.customname", "step"))
        md += b"".join(field(5, field(1, c) + vfield(2, 1)) for c in caps)
        out += field(2, entry(digest_of(o), md))
    if locations:
        infos = field(2, field(1, "Dockerfile") + field(2, b"FROM x\nRUN y\n") + field(4, "Dockerfile"))
        locs = b""
        for i, o in enumerate(ops[:-1]):
            pos = lambda line: field(1, vfield(1, line))
            rng = field(1, pos(i + 1)) + field(2, pos(i + 1))
            loc = field(1, vfield(1, 0) + field(2, rng)) if i % 2 == 0 else b""
            locs += field(1, entry(digest_of(o), loc))
        out += field(3, locs + infos)
    return out


def definitions(out):
    img = source("docker-image://docker.io/library/busybox:latest", [("image.recordtype", "internal")])
    pinned = source("docker-image://127.0.0.1:5000/tools:1@sha256:" + "ab" * 32)
    git = source(
        "git://127.0.0.1:9418/hello.git#v1",
        [("git.fullurl", "git://127.0.0.1:9418/hello.git"), ("git.keepgitdir", "false")],
    )
    http = source("http://127.0.0.1:8777/hello.txt", [("http.filename", "hello.txt")])
    local = source("local://context", [("local.sharedkeyhint", "context"), ("local.unique", "x")])
    layout = source("oci-layout://store/img:1@sha256:" + "cd" * 32)
    blob = source("docker-image+blob://127.0.0.1:5000/tools@sha256:" + "ef" * 32)
    run = exec_op([img, git], ["sh", "-c", "true"])
    run_none = exec_op([img], ["true"], network=2)
    f = file_op([run])
    merged = merge_op([f, local])
    shapes = {
        "image": [img, terminal(img)],
        "run": [img, git, run, terminal(run)],
        "all-sources": [img, pinned, git, http, local, layout, blob, run, run_none, f, merged, terminal(merged)],
        "network-none": [img, run_none, terminal(run_none)],
        "file-merge": [img, git, local, run, f, merged, terminal(merged)],
    }
    for name, ops in shapes.items():
        out.put("definition", name, definition(ops, caps=["source.image"]))
        out.put("definition", name + "-bare", definition(ops, locations=False))


# --- chains, layouts ------------------------------------------------------------------


def read(p):
    return pathlib.Path(p).read_bytes()


def chains(out, td, seeds):
    sc = td / "signed-chain"
    image = read(sc / "image-digest").strip().decode()
    index, att, prov = read(sc / "index.json"), read(sc / "attestation.json"), read(sc / "provenance.json")
    sig, bundle = read(sc / "signature-manifest.json"), read(sc / "bundle.json")
    # root att image sig: blob 0 index, 1 attestation, 3 signature manifest
    bundle_chain = template(b"0 1 " + image.encode() + b" 3", [index, att, prov, sig, bundle])
    out.put("chain", "signed-bundle", bundle_chain)
    out.put("provenance", "signed-bundle", bundle_chain)
    out.put("chain", "unsigned", template(b"0 1 " + image.encode(), [index, att, prov]))

    legacy = td / "signed-chain-legacy"
    for prefix in ["", "other-digest-"]:
        payload = read(legacy / (prefix + "payload.json"))
        annotations = json.loads(read(legacy / (prefix + "annotations.json")))
        m = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
                "size": 2,
            },
            "layers": [
                {
                    "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                    "digest": "sha256:" + sha(payload),
                    "size": len(payload),
                    "annotations": annotations,
                }
            ],
            "subject": {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": "sha256:" + sha(att),
                "size": len(att),
            },
        }
        sigm = json.dumps(m).encode()
        t = template(b"0 1 " + image.encode() + b" 4", [index, att, prov, payload, sigm])
        out.put("chain", "legacy-" + (prefix or "own-"), t)

    vs = seeds / "verify-signed"
    names = ["index", "image", "att", "config", "report", "vsa", "prov", "sig", "bundle"]
    b = {n: read(vs / (n + ".json")) for n in names}
    t = template(b"0 2 1 7", [b[n] for n in ["index", "image", "att", "report", "vsa", "prov", "config", "sig", "bundle"]])
    out.put("chain", "verify-signed", t)
    out.put("provenance", "verify-signed", t)
    return b


def layouts(out, td, b):
    root = b["index"]
    top = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": "sha256:" + sha(root),
                "size": len(root),
                "annotations": {
                    "org.opencontainers.image.ref.name": "1",
                    "io.containerd.image.name": "127.0.0.1:5000/verify-signed:1",
                },
            }
        ],
    }
    blobs = [json.dumps(top).encode()] + [
        b[n] for n in ["index", "image", "att", "config", "report", "vsa", "prov", "sig", "bundle"]
    ]
    for header in [b"", b":1", b"@1", b":1 strict"]:
        name = "verify-signed" + header.decode().replace(":", "-tag-").replace("@", "-digest-").replace(" ", "-")
        out.put("layout", name, template(header, blobs))
    # The signature manifest listed in index.json with its subject, as some tools write it.
    sig = b["sig"]
    top["manifests"].append(
        {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": "sha256:" + sha(sig),
            "size": len(sig),
            "subject": json.loads(sig)["subject"],
        }
    )
    blobs[0] = json.dumps(top).encode()
    out.put("layout", "verify-signed-listed-referrer", template(b":1", blobs))


def provenance(out, td):
    for p in sorted((td / "provenance").glob("*.json")):
        st = read(p)
        subject = json.loads(st)["subject"][0]["digest"]["sha256"]
        att = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": "sha256:" + sha(b"{}"), "size": 2},
            "layers": [
                {
                    "mediaType": "application/vnd.in-toto+json",
                    "digest": "sha256:" + sha(st),
                    "size": len(st),
                    "annotations": {"in-toto.io/predicate-type": json.loads(st)["predicateType"]},
                }
            ],
        }
        attb = json.dumps(att).encode()
        out.put("provenance", p.stem, template(b"x 0 sha256:" + subject.encode(), [attb, st]))


def git_objects(out, td):
    g = td / "git-signatures"
    for obj in ["commit-pgp", "commit-ssh", "commit-unsigned", "tag-pgp", "tag-ssh"]:
        key = "pgp-signer.asc" if "pgp" in obj else "ssh-signer.pub"
        out.put("git_object", obj, read(g / obj) + SEP + read(g / key))
        if obj.startswith("commit"):
            out.put("policy_input", "git-" + obj, git_input(read(g / obj), None))
        else:
            out.put("policy_input", "git-" + obj, git_input(read(g / "commit-pgp"), read(g / obj)))


def git_input(commit, tag):
    src = b"git://127.0.0.1:9418/hello.git#v1\ngit.fullurl=git://127.0.0.1:9418/hello.git\nopt:build-arg:A=1"
    facts = b"git\nreference=refs/tags/v1"
    return SEP.join([src, facts, commit] + ([tag] if tag else []))


def image_refs(out, td):
    refs = set()
    for p in td.rglob("*Dockerfile*"):
        for line in p.read_text(errors="replace").splitlines():
            m = re.match(r"\s*FROM\s+(?:--platform=\S+\s+)?(\S+)", line, re.I)
            if m and "$" not in m.group(1):
                refs.add(m.group(1))
    refs |= {
        "alpine",
        "docker.io/library/alpine:3.20@sha256:" + "0" * 64,
        "[::1]:5000/a/b:c",
        "localhost:5000/x@sha512:" + "a" * 128,
        "Host.example:443/Path",
        "oci-layout://out/img:v1",
        "oci-layout:///tmp/x@sha256:" + "a" * 64,
    }
    for i, r in enumerate(sorted(refs)):
        out.put("image_ref", "ref-%03d" % i, r.encode())


def policies(out, td):
    dirs = sorted({p.parent for p in td.rglob("*.rego")})
    for d in dirs:
        regos = sorted(d.glob("*.rego"))
        for main in regos:
            others = [p for p in sorted(d.rglob("*")) if p.is_file() and p != main and p.stat().st_size < 20000]
            segs = [read(main)] + [str(p.relative_to(d)).encode() + b"\n" + read(p) for p in others[:8]]
            name = str(d.relative_to(td)).replace("/", "-") + "-" + main.stem
            out.put("policy_load", name, SEP.join(segs))


def inputs_seeds(out, td, b):
    img = b"docker-image://127.0.0.1:5000/verify-signed:1@sha256:" + sha(b["index"]).encode()
    src = img + b"\nplatform=linux/amd64\nopt:filename=Dockerfile\nopt:target=app"
    facts = b"image\ndigest=sha256:" + sha(b["index"]).encode()
    chain = template(b"0 2 1 7", [b[n] for n in ["index", "image", "att", "report", "vsa", "prov", "config", "sig", "bundle"]])
    out.put("policy_input", "image", SEP.join([src, facts, b["config"], chain]))
    out.put("policy_input", "image-tag-moved", SEP.join([src, facts + b"\ntag_digest=sha256:" + b"1" * 64, b["config"]]))
    out.put("policy_input", "http", b"https://example.com/a/b.tar.gz?x=1&x=2\nhttp.authheadersecret=s\n%%\nhttp\nchecksum=sha256:" + b"2" * 64)
    out.put("policy_input", "local", b"local://context\n%%\nlocal\nname=context")
    out.put("policy_input", "blob", b"docker-image+blob://r.example/x@sha256:" + b"3" * 64 + b"\nplatform=linux/arm64/v8\n%%\nblob\ndigest=sha256:" + b"3" * 64)


def main():
    fuzz = pathlib.Path(sys.argv[1])
    td = fuzz.parent / "testdata"
    out = Out(fuzz / "corpus")
    definitions(out)
    b = chains(out, td, fuzz / "seeds")
    layouts(out, td, b)
    provenance(out, td)
    git_objects(out, td)
    image_refs(out, td)
    policies(out, td)
    inputs_seeds(out, td, b)
    for t, n in sorted(out.count.items()):
        print("%-13s %3d seeds" % (t, n))


main()
