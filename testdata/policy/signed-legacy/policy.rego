# Base images must be release builds of github.com/example/app, tag v1, signed with cosign's
# legacy format (simplesigning). Buildx's docker_github_builder_tag does not apply: Docker's
# rules keep the docker-github-builder kind for Sigstore v0.3 bundles, so the rule reads the
# signer's claims itself. The test signs the images with a throwaway Sigstore root
# (tests/sigkit) and passes it with trusted-root=.
package docker

default allow := false

allow if input.local

allow if input.image.repo == "127.0.0.1:5000/verified-frontend"

allow if {
	input.image.hasProvenance
	some sig in input.image.signatures
	sig.type == "simplesigning-v1"
	sig.signer.certificateIssuer == "CN=sigstore-intermediate,O=sigstore.dev"
	sig.signer.issuer == "https://token.actions.githubusercontent.com"
	sig.signer.sourceRepositoryURI == "https://github.com/example/app"
	sig.signer.sourceRepositoryRef == "refs/tags/v1"
	count(sig.timestamps) > 0
}

deny_msg contains msg if {
	input.image
	not allow
	msg := sprintf("%s is not a signed release of example/app v1", [input.image.ref])
}

decision := {"allow": allow, "deny_msg": deny_msg}
