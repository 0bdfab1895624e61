"""The benchmark's build contexts: per workload and size, a Dockerfile with N sources of one
kind after `FROM perf/busybox:base`, and the policy (Dockerfile.rego) every policy column
evaluates. The sources are the tags bench/perf/fixtures.sh made."""

import os
import shutil

REGISTRY = "127.0.0.1:5000"
GIT = "git://127.0.0.1:9418/perf.git"
# bench/perf/serve.py, serving the rig's http directory (perf.sh starts it).
HTTP = f"http://127.0.0.1:{os.environ.get('BENCH_HTTP_PORT', '8779')}/perf"

# Every policy allows the frontend images (Buildx decides the gateway image it runs,
# verified-frontend its own image) and perf/busybox by repository and tag: the base image of
# every workload, and the sources of the `image` one.
COMMON = f"""
allow if input.local
allow if input.image.repo in {{"{REGISTRY}/dockerfile", "{REGISTRY}/verified-frontend"}}

allow if {{
	input.image.repo == "{REGISTRY}/perf/busybox"
	regex.match(`^(base|s[0-9]+)$`, input.image.tag)
}}
"""

POLICY_HEAD = "package docker\n\ndefault allow := false\n"
POLICY_TAIL = '\ndecision := {"allow": allow}\n'

# What a policy reads decides what metadata has to be fetched, so each workload reads what
# the table reads: an image's repository and tag, a git ref, a URL, signatures.
RULES = {
    # The base image's rule (above) is the one the sources use.
    "image": "",
    "git": f"""
allow if {{
	input.git.remote == "{GIT}"
	startswith(input.git.tagName, "t")
}}
""",
    "http": f"""
allow if startswith(input.http.url, "{HTTP}/")
""",
    # The frontend verifies the signatures against the rig's Sigstore root (trusted-root).
    # Buildx verifies them against the public-good root it embeds, which did not sign these,
    # so it reads the chain, fails to verify, and leaves `signatures` out: that case is
    # allowed too, so every column builds after doing the same reads.
    "signed": f"""
allow if {{
	input.image.repo == "{REGISTRY}/signed"
	input.image.hasProvenance
	signed_or_unverifiable
}}

signed_or_unverifiable if docker_github_builder_tag(input.image, "example/app", "v1")

signed_or_unverifiable if not input.image.signatures
""",
}

# Sources per stage; see dockerfile_lines.
CHUNK = 100

# Sizes the issue asks for per workload; BENCH_N narrows them.
SIZES = {
    "image": [1, 20, 100, 500],
    "git": [20, 100],
    "http": [20, 100],
    "signed": [1, 20, 100],
}

DESCRIPTIONS = {
    "image": "`COPY --from=perf/busybox:s<i>` (distinct tags of one image); the policy reads `input.image.repo` and `input.image.tag`",
    "git": "`ADD git://…/perf.git#t<i>` (distinct tags of one commit); the policy reads `input.git.remote` and `input.git.tagName`",
    "http": "`ADD http://…/perf/f<i>.txt` (distinct files); the policy reads `input.http.url`",
    "signed": "`COPY --from=signed:perf-s<i>` (tags of the signed release image); the policy reads `input.image.hasProvenance` and `input.image.signatures` (`docker_github_builder_tag`)",
}


def source_line(workload, i):
    if workload == "image":
        return f"COPY --from={REGISTRY}/perf/busybox:s{i} /etc/passwd /s/{i}"
    if workload == "signed":
        return f"COPY --from={REGISTRY}/signed:perf-s{i} /etc/passwd /s/{i}"
    if workload == "git":
        return f"ADD {GIT}#t{i} /g/{i}"
    if workload == "http":
        return f"ADD {HTTP}/f{i}.txt /h/{i}"
    raise ValueError(f"unknown workload {workload!r}")


def dockerfile_lines(workload, n):
    """`FROM base` plus the N sources; past CHUNK sources they go into stages of CHUNK that
    the last stage copies from, because every COPY is a layer and BuildKit's overlay mount
    of 500 layers fails ("mount options is too long")."""
    base = f"FROM {REGISTRY}/perf/busybox:base"
    sources = [source_line(workload, i) for i in range(1, n + 1)]
    if n <= CHUNK:
        return [base] + sources
    lines, parts = [], []
    for start in range(0, n, CHUNK):
        parts.append(f"part{len(parts) + 1}")
        lines += [f"{base} AS {parts[-1]}"] + sources[start:start + CHUNK]
    return lines + [base] + [f"COPY --from={p} /s /{p}" for p in parts]


def write_context(root, workload, n, sigstore_root):
    """Writes the context for `workload` at size `n` under `root` and returns its path."""
    ctx = os.path.join(root, f"{workload}-{n}")
    shutil.rmtree(ctx, ignore_errors=True)
    os.makedirs(ctx)
    lines = dockerfile_lines(workload, n)
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(ctx, "Dockerfile.rego"), "w") as f:
        f.write(POLICY_HEAD + COMMON + RULES[workload] + POLICY_TAIL)
    if workload == "signed":
        shutil.copy(os.path.join(sigstore_root, "trusted_root.json"), ctx)
    return ctx
