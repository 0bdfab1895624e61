# The built-in policy of verified-frontend's single knob (`--opt verified=enforce|warn`).
# It is a Buildx-compatible policy like any other, with the same builtins, and it must
# allow every source beside the build's own Dockerfile.rego. Print it with
# `verified-frontend policy builtin`; docs/knob.md explains every rule.
#
# The frontend hands it two files, both optional here (a missing one counts as empty):
#   settings.json  the validated settings file beside the Dockerfile (Dockerfile.verified.json)
#   pins.json      what the Dockerfile itself pins: {"http": {url: checksum},
#                  "git": [{"remote": ..., "checksum": ...}]} (ADD --checksum lines), and
#                  "syntax": the repository its `# syntax=` line names, if any
package docker

default allow := false

settings := s if {
	s := load_json("settings.json")
} else := {}

pins := p if {
	p := load_json("pins.json")
} else := {}

decision := {"allow": allow, "deny_msg": deny_msg}

# ---- the build's own files --------------------------------------------------------------

# The build context and named local contexts are the client's own files.
allow if input.local

# ---- images -----------------------------------------------------------------------------

# Named by digest in the Dockerfile (or in --build-context / the syntax line): the build can
# only ever get those bytes. BuildKit resolves a tag first and decides `name:tag` before
# `name:tag@digest`, so a tag reaches this rule only after a signature rule allowed it.
allow if input.image.isCanonical

allow if image_signed

# docker/github-builder built it from the repository its name maps to, at this very tag.
image_signed if {
	some m in image_sources
	docker_github_builder_tag(input.image, m.repo, m.tag)
}

# A builder the settings trust (`builders`), with the same repository and tag binding.
image_signed if {
	input.image.hasProvenance
	some m in image_sources
	some sig in input.image.signatures
	trusted_builder_signature(sig, m.repo)
	sig.signer.sourceRepositoryRef == concat("", ["refs/tags/", m.tag])
}

# Docker's signature for a Docker Hardened Image (Buildx's signer kind).
image_signed if {
	some sig in input.image.signatures
	sig.kind == "docker-hardened-image"
}

# The GitHub repository and git tag an image must have been built from: {repo, tag}.
# The settings' `repositories` replace the default mapping for the repositories they name.
image_sources contains {"repo": repo, "tag": input.image.tag} if {
	some repo in settings.repositories[input.image.fullRepo]
}

image_sources contains m if {
	not settings.repositories[input.image.fullRepo]
	some m in default_sources
}

image_path := trim_prefix(input.image.fullRepo, concat("", [input.image.host, "/"]))

image_path_parts := split(image_path, "/")

# Docker's Dockerfile frontend images are released from moby/buildkit at dockerfile/<tag>.
default_sources contains {"repo": "moby/buildkit", "tag": concat("", ["dockerfile/", input.image.tag])} if {
	input.image.fullRepo in {"docker.io/docker/dockerfile", "docker.io/docker/dockerfile-upstream"}
}

# Docker Hub: <owner>/<name> is github.com/<owner>/<name>; official images (library/) have
# no GitHub repository.
default_sources contains {"repo": image_path, "tag": input.image.tag} if {
	input.image.host == "docker.io"
	not input.image.fullRepo in {"docker.io/docker/dockerfile", "docker.io/docker/dockerfile-upstream"}
	count(image_path_parts) == 2
	image_path_parts[0] != "library"
}

# GitHub's registry: ghcr.io/<owner>/<name>[/...] is github.com/<owner>/<name>.
default_sources contains {"repo": concat("/", [image_path_parts[0], image_path_parts[1]]), "tag": input.image.tag} if {
	input.image.host == "ghcr.io"
	count(image_path_parts) >= 2
}

# Any other registry: <host>/<owner>/<name> is github.com/<owner>/<name>; deeper paths are
# ambiguous and need the settings.
default_sources contains {"repo": image_path, "tag": input.image.tag} if {
	not input.image.host in {"docker.io", "ghcr.io"}
	count(image_path_parts) == 2
}

trusted_builder_signature(sig, repo) if {
	some b in settings.builders
	sig.type == "bundle-v0.3"
	sig.signer.certificateIssuer == "CN=sigstore-intermediate,O=sigstore.dev"
	sig.signer.issuer == "https://token.actions.githubusercontent.com"
	sig.signer.runnerEnvironment == "github-hosted"
	startswith(sig.signer.buildSignerURI, concat("", [b, "@"]))
	startswith(sig.signer.subjectAlternativeName, concat("", [b, "@"]))
	sig.signer.sourceRepositoryURI == concat("", ["https://github.com/", repo])
	count(sig.timestamps) > 0
}

image_written := concat("", [input.image.repo, ":", input.image.tag]) if {
	input.image.tag
} else := input.image.repo

image_pinned := concat("", [image_written, "@", input.image.checksum]) if {
	input.image.checksum
} else := concat("", [image_written, "@sha256:<digest>"])

image_hint := sprintf("or have docker/github-builder sign its release from %s", [concat(" or ", wanted)]) if {
	wanted := [w | some m in image_sources; w := sprintf("github.com/%s at tag %s", [m.repo, m.tag])]
	count(wanted) > 0
} else := sprintf("no GitHub repository maps to %s: name one under \"repositories\" in the settings file", [input.image.fullRepo])

# What the image carries. Without an attestation manifest in its index no signature is read
# at all (see docs/knob.md, Docker Hardened Images).
image_found := sprintf("its verified signatures: %s", [concat(", ", found)]) if {
	found := [f | some sig in input.image.signatures; f := sprintf("%s@%s (%s)", [object.get(sig, ["signer", "sourceRepositoryURI"], "-"), object.get(sig, ["signer", "sourceRepositoryRef"], "-"), sig.kind])]
	count(found) > 0
} else := "it carries no verified signature" if {
	input.image.hasProvenance
} else := "it carries no verified signature: it has no attestation manifest in an image index, so no signature was read (a Docker Hardened Image's signed attestation is a referrer of its image manifest, which the frontend cannot safely ask BuildKit v0.34.2 for: name it by digest)"

# The line the fix names: the `# syntax=` directive for the frontend image it names (the
# frontend tells it in pins.json; the input itself does not say), else FROM.
image_line := "# syntax=" if {
	pins.syntax == input.image.fullRepo
} else := "FROM "

deny_msg contains msg if {
	input.image
	not allow
	msg := concat("; ", [sprintf("fix: %s%s (name it by digest)", [image_line, image_pinned]), image_hint, image_found])
}

# ---- git ----------------------------------------------------------------------------------

# A full commit id cannot move.
allow if input.git.isCommitRef

# A ref the Dockerfile pins with ADD --checksum=<id> (BuildKit refuses another object).
allow if {
	some p in pins.git
	same_remote(p.remote)
	p.checksum != ""
	p.checksum in {object.get(input.git, "checksum", ""), object.get(input.git, "commitChecksum", "")}
}

same_remote(r) if trim_suffix(r, ".git") == trim_suffix(input.git.remote, ".git")

same_remote(r) if trim_suffix(r, ".git") == trim_suffix(input.git.fullURL, ".git")

git_ref := object.get(input.git, "tagName", object.get(input.git, "branch", object.get(input.git, "ref", "")))

git_written := concat("", [input.git.remote, "#", git_ref, ":", input.git.subDir]) if {
	input.git.subDir
} else := concat("", [input.git.remote, "#", git_ref])

# The fix names the object the ref names now (an annotated tag's own id: what BuildKit checks
# a git checksum against). It reads input.git.checksum itself, not through object.get, so
# that deciding the source fetches it (Buildx's partial evaluation asks for what the
# decision reads).
deny_msg contains msg if {
	input.git
	not allow
	msg := sprintf("fix: ADD --checksum=%s %s (pin the ref to the object it names now)", [input.git.checksum, git_written])
}

# ---- http ---------------------------------------------------------------------------------

# A download whose checksum the Dockerfile names (ADD --checksum=sha256:…).
allow if {
	input.http.checksum
	pins.http[input.http.url] == input.http.checksum
}

# A download with a Sigstore bundle the settings name, made by docker/github-builder.
allow if {
	some d in settings.downloads
	d.url == input.http.url
	docker_github_builder_bundle(input.http, d.bundle, d.repo)
}

deny_msg contains msg if {
	input.http
	not allow
	sum := object.get(input.http, "checksum", "sha256:<checksum>")
	msg := sprintf("fix: ADD --checksum=%s %s (the checksum of the content downloaded now)", [sum, input.http.url])
}

# ---- anything else ------------------------------------------------------------------------

deny_msg contains "the built-in policy knows no rule for this kind of source" if {
	not input.image
	not input.git
	not input.http
	not input.local
}
