# The release policy of this repository's own Dockerfile (Buildx and verified-frontend read
# it automatically): base images only by a digest written in the build, the frontend that
# runs the build only as a signed release (docs/examples/frontend-release.rego, the same
# rule), and the repository's own files.
package docker

default allow := false

allow if input.local

# The toolchain image, named by digest (the RUST_IMAGE build-arg carries the reviewed one).
allow if {
	input.image.repo == "docker.io/library/rust"
	input.image.isCanonical
}

allow if {
	endswith(input.image.repo, "/verified-frontend")
	regex.match(`^v[0-9]+\.[0-9]+\.[0-9]+$`, input.image.tag)
	docker_github_builder_tag(input.image, "verified-frontend/verified-frontend", input.image.tag)
}

deny_msg contains msg if {
	input.image
	not allow
	msg := sprintf("%s: the release build takes rust by digest and verified-frontend as a signed release only", [input.image.ref])
}

decision := {"allow": allow, "deny_msg": deny_msg}
