# Base images must be release builds of github.com/example/app, tag v1, made and signed by
# Docker's GitHub builder: Buildx's own helper, unchanged. The test signs the images with
# a throwaway Sigstore root (tests/sigkit) and passes it with trusted-root=.
package docker

default allow := false

allow if input.local

allow if input.image.repo == "127.0.0.1:5000/verified-frontend"

allow if docker_github_builder_tag(input.image, "example/app", "v1")

deny_msg contains msg if {
	input.image
	not allow
	msg := sprintf("%s is not a signed release of example/app v1", [input.image.ref])
}

decision := {"allow": allow, "deny_msg": deny_msg}
