# Helper functions every policy can call, in package docker, with the names and meaning of
# Docker Buildx's embedded helpers, so Buildx policies work unchanged.
package docker

# A signature made by Docker's GitHub builder (docker/github-builder reusable workflows)
# for a build of github.com/<repo>.
docker_github_builder_signature(sig, repo) if {
	sig.kind == "docker-github-builder"
	sig.type == "bundle-v0.3"
	sig.signer.certificateIssuer == "CN=sigstore-intermediate,O=sigstore.dev"
	sig.signer.issuer == "https://token.actions.githubusercontent.com"
	sig.signer.sourceRepositoryURI == concat("", ["https://github.com/", repo])
	sig.signer.runnerEnvironment == "github-hosted"
	count(sig.timestamps) > 0
}

# The image has provenance and a verified github-builder signature for repo.
docker_github_builder(image, repo) if {
	image.hasProvenance
	some sig in image.signatures
	docker_github_builder_signature(sig, repo)
}

# As docker_github_builder, built from the git tag <tag>. Stricter than Buildx in one way:
# the same signature must pass both checks (Buildx accepts them from two signatures; an
# image carries one, so policies decide the same).
docker_github_builder_tag(image, repo, tag) if {
	image.hasProvenance
	some sig in image.signatures
	docker_github_builder_signature(sig, repo)
	sig.signer.sourceRepositoryRef == concat("", ["refs/tags/", tag])
}

# A downloaded file whose Sigstore bundle <filename> was made by the github builder for repo.
docker_github_builder_bundle(http, filename, repo) if {
	sig := artifact_attestation(http, filename)
	docker_github_builder_signature(sig, repo)
}

# The attestation GitHub keeps for a release asset downloaded from github.com.
github_release_attestation(http) := sig if {
	http.schema == "https"
	lower(http.host) == "github.com"
	m := regex.find_all_string_submatch_n(`^/([^/]+)/([^/]+)/releases/download/[^/]+/.+$`, http.path, 1)[0]
	sig := github_attestation(http, concat("/", [m[1], m[2]]))
}
