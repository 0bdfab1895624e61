# Verifies the verified-frontend image itself: a build may run it (as `# syntax=`, the
# BUILDKIT_SYNTAX build-arg or --frontend gateway.v0) only if Docker's GitHub builder
# (docker/github-builder) built and signed it from github.com/verified-frontend/verified-frontend
# at the very release tag being pulled. Every other source is left to the build's own
# Dockerfile.rego: pass this file as a second policy (`--opt policy=frontend-release.rego`
# with buildctl, `--policy filename=frontend-release.rego` with Buildx), and both must allow.
package docker

default allow := false

frontend_repo := "verified-frontend/verified-frontend"

is_frontend if endswith(input.image.repo, "/verified-frontend")

allow if not is_frontend

# A release tag (vMAJOR.MINOR.PATCH), signed by the builder for that same tag.
allow if {
	is_frontend
	regex.match(`^v[0-9]+\.[0-9]+\.[0-9]+$`, input.image.tag)
	docker_github_builder_tag(input.image, frontend_repo, input.image.tag)
}

deny_msg contains msg if {
	is_frontend
	not allow
	msg := sprintf("%s is not a release of github.com/%s signed by docker/github-builder for its tag", [input.image.ref, frontend_repo])
}

decision := {"allow": allow, "deny_msg": deny_msg}
