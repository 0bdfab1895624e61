# The build's policy, and the one `verified-frontend verify --policy` checks the result
# against: the base must be a signed release of example/app v1 (the rig signs signed:good
# with a throwaway Sigstore root, passed with trusted-root=), and an image these tests
# build from it is allowed to its consumers when its provenance names that base by digest.
package docker

default allow := false

allow if input.local

allow if input.image.repo == "127.0.0.1:5000/verified-frontend"

allow if docker_github_builder_tag(input.image, "example/app", "v1")

allow if {
	startswith(input.image.repo, "127.0.0.1:5000/verify-")
	input.image.labels.checked == "yes"
	some m in input.image.provenance.materials
	m.image.repo == "127.0.0.1:5000/signed"
	startswith(m.image.checksum, "sha256:")
}

deny_msg contains msg if {
	input.image
	not allow
	msg := sprintf("%s is neither a signed release of example/app v1 nor built from one", [input.image.ref])
}

decision := {"allow": allow, "deny_msg": deny_msg}
