# Tests of the built-in policy (verified.rego), run by `policy test` and by cargo
# (src/knob/tests.rs), with the pins of testdata/knob/unit/Dockerfile and the settings of
# testdata/knob/unit/Dockerfile.verified.json.
package docker

digest := "sha256:abababababababababababababababababababababababababababababababab"

builder_sig(repo, ref) := {
	"kind": "docker-github-builder",
	"type": "bundle-v0.3",
	"signer": {
		"certificateIssuer": "CN=sigstore-intermediate,O=sigstore.dev",
		"issuer": "https://token.actions.githubusercontent.com",
		"subjectAlternativeName": "https://github.com/docker/github-builder/.github/workflows/build.yml@refs/heads/main",
		"buildSignerURI": "https://github.com/docker/github-builder/.github/workflows/build.yml@refs/heads/main",
		"runnerEnvironment": "github-hosted",
		"sourceRepositoryURI": concat("", ["https://github.com/", repo]),
		"sourceRepositoryRef": ref,
	},
	"timestamps": [{"type": "Tlog", "uri": "https://rekor.example", "timestamp": "2026-01-01T00:00:00Z"}],
}

image(host, path, tag, sigs) := {
	"host": host,
	"fullRepo": concat("/", [host, path]),
	"repo": concat("/", [host, path]),
	"ref": concat("", [host, "/", path, ":", tag]),
	"tag": tag,
	"checksum": digest,
	"hasProvenance": true,
	"signatures": sigs,
	"platform": "linux/amd64",
}

# Docker Hub's `repo` is the familiar name (`alpine`, `acme/app`), other registries' host/path.
hub(path, tag, sigs) := object.union(image("docker.io", path, tag, sigs), {"repo": trim_prefix(path, "library/")})

allowed if decision.allow

denied_with(text) if {
	not decision.allow
	some m in decision.deny_msg
	contains(m, text)
}

# ---- images

case_digest_named_image_is_allowed := {"image": object.union(hub("library/alpine", "3.20", []), {"isCanonical": true})}

test_digest_named_image_is_allowed if {
	allowed with input as data.docker.case_digest_named_image_is_allowed
}

case_unpinned_official_image_is_denied_with_its_digest := {"image": hub("library/alpine", "3.20", [])}

test_unpinned_official_image_is_denied_with_its_digest if {
	denied_with("fix: FROM alpine:3.20@sha256:abababababababababababababababababababababababababababababababab (name it by digest)") with input as data.docker.case_unpinned_official_image_is_denied_with_its_digest
}

case_official_image_maps_to_no_repository := {"image": hub("library/alpine", "3.20", [])}

test_official_image_maps_to_no_repository if {
	denied_with("no GitHub repository maps to docker.io/library/alpine") with input as data.docker.case_official_image_maps_to_no_repository
}

case_hub_image_signed_for_its_repo_and_tag := {"image": hub("acme/app", "v1.0.0", [builder_sig("acme/app", "refs/tags/v1.0.0")])}

test_hub_image_signed_for_its_repo_and_tag if {
	allowed with input as data.docker.case_hub_image_signed_for_its_repo_and_tag
}

case_hub_image_signed_for_another_tag_is_denied := {"image": hub("acme/app", "v1.1.0", [builder_sig("acme/app", "refs/tags/v1.0.0")])}

test_hub_image_signed_for_another_tag_is_denied if {
	denied_with("github.com/acme/app at tag v1.1.0; its verified signatures: https://github.com/acme/app@refs/tags/v1.0.0 (docker-github-builder)") with input as data.docker.case_hub_image_signed_for_another_tag_is_denied
}

case_hub_image_signed_from_another_repo_is_denied := {"image": hub("acme/other", "v1.0.0", [builder_sig("acme/app", "refs/tags/v1.0.0")])}

test_hub_image_signed_from_another_repo_is_denied if {
	denied_with("fix: FROM acme/other:v1.0.0@sha256:") with input as data.docker.case_hub_image_signed_from_another_repo_is_denied
}

case_branch_build_is_not_a_release := {"image": hub("acme/app", "v1.0.0", [builder_sig("acme/app", "refs/heads/v1.0.0")])}

test_branch_build_is_not_a_release if {
	not allowed with input as data.docker.case_branch_build_is_not_a_release
}

case_unsigned_image_is_denied := {"image": hub("acme/app", "v1.0.0", [])}

test_unsigned_image_is_denied if {
	denied_with("; it carries no verified signature") with input as data.docker.case_unsigned_image_is_denied
}

case_without_provenance_the_builder_signature_does_not_count := {"image": object.union(hub("acme/app", "v1.0.0", [builder_sig("acme/app", "refs/tags/v1.0.0")]), {"hasProvenance": false})}

test_without_provenance_the_builder_signature_does_not_count if {
	not allowed with input as data.docker.case_without_provenance_the_builder_signature_does_not_count
}

case_self_signed_is_not_the_builder := {"image": hub("acme/app", "v1.0.0", [object.union(builder_sig("acme/app", "refs/tags/v1.0.0"), {"kind": "self-signed"})])}

test_self_signed_is_not_the_builder if {
	not allowed with input as data.docker.case_self_signed_is_not_the_builder
}

case_ghcr_maps_owner_and_name := {"image": image("ghcr.io", "acme/app/cli", "v2", [builder_sig("acme/app", "refs/tags/v2")])}

test_ghcr_maps_owner_and_name if {
	allowed with input as data.docker.case_ghcr_maps_owner_and_name
}

case_other_registry_maps_a_two_part_path := {"image": image("registry.example.com", "acme/app", "v3", [builder_sig("acme/app", "refs/tags/v3")])}

test_other_registry_maps_a_two_part_path if {
	allowed with input as data.docker.case_other_registry_maps_a_two_part_path
}

case_other_registry_deeper_path_needs_the_settings := {"image": image("registry.example.com", "x/acme/app", "v3", [builder_sig("acme/app", "refs/tags/v3")])}

test_other_registry_deeper_path_needs_the_settings if {
	not allowed with input as data.docker.case_other_registry_deeper_path_needs_the_settings
}

case_settings_map_a_repository := {"image": image("registry.example.com", "team/deep/app", "v4", [builder_sig("acme/deep-app", "refs/tags/v4")])}

test_settings_map_a_repository if {
	allowed with input as data.docker.case_settings_map_a_repository
}

case_settings_replace_the_default_mapping := {"image": image("registry.example.com", "team/deep/app", "v4", [builder_sig("team/deep", "refs/tags/v4")])}

test_settings_replace_the_default_mapping if {
	# team/deep/app is mapped to acme/deep-app only; its path says nothing.
	not allowed with input as data.docker.case_settings_replace_the_default_mapping
}

case_trusted_builder_from_the_settings := {"image": hub("acme/app", "v5", [object.union(builder_sig("acme/app", "refs/tags/v5"), {"kind": "self-signed", "signer": object.union(builder_sig("acme/app", "refs/tags/v5").signer, {"subjectAlternativeName": "https://github.com/acme/ci/.github/workflows/release.yml@refs/tags/v1", "buildSignerURI": "https://github.com/acme/ci/.github/workflows/release.yml@refs/tags/v1"})})])}

test_trusted_builder_from_the_settings if {
	allowed with input as data.docker.case_trusted_builder_from_the_settings
}

case_untrusted_workflow_is_denied := {"image": hub("acme/app", "v5", [object.union(builder_sig("acme/app", "refs/tags/v5"), {"kind": "self-signed", "signer": object.union(builder_sig("acme/app", "refs/tags/v5").signer, {"subjectAlternativeName": "https://github.com/acme/other-ci/.github/workflows/release.yml@refs/tags/v1", "buildSignerURI": "https://github.com/acme/other-ci/.github/workflows/release.yml@refs/tags/v1"})})])}

test_untrusted_workflow_is_denied if {
	not allowed with input as data.docker.case_untrusted_workflow_is_denied
}

case_dockerfile_frontend_images_are_released_from_buildkit := {"image": hub("docker/dockerfile", "1.21.0", [builder_sig("moby/buildkit", "refs/tags/dockerfile/1.21.0")])}

test_dockerfile_frontend_images_are_released_from_buildkit if {
	allowed with input as data.docker.case_dockerfile_frontend_images_are_released_from_buildkit
}

case_dockerfile_frontend_floating_tag_is_not_the_release := {"image": hub("docker/dockerfile", "1", [builder_sig("moby/buildkit", "refs/tags/dockerfile/1.21.0")])}

test_dockerfile_frontend_floating_tag_is_not_the_release if {
	not allowed with input as data.docker.case_dockerfile_frontend_floating_tag_is_not_the_release
}

case_hardened_image_signature := {"image": hub("acme/dhi-python", "3.13", [{"kind": "docker-hardened-image", "type": "bundle-v0.3", "dockerReference": "dhi.io/python"}])}

test_hardened_image_signature if {
	allowed with input as data.docker.case_hardened_image_signature
}

case_image_without_an_attestation_manifest_says_none_was_read := {"image": object.remove(hub("acme/dhi-python", "3.13", []), ["hasProvenance", "signatures"])}

test_image_without_an_attestation_manifest_says_none_was_read if {
	denied_with("it has no attestation manifest in an image index, so no signature was read (a Docker Hardened Image's") with input as data.docker.case_image_without_an_attestation_manifest_says_none_was_read
}

case_unknown_digest_still_says_how := {"image": object.remove(hub("library/alpine", "3.20", []), ["checksum"])}

test_unknown_digest_still_says_how if {
	denied_with("FROM alpine:3.20@sha256:<digest>") with input as data.docker.case_unknown_digest_still_says_how
}

# ---- git

git_src(remote, ref, extra) := object.union({"schema": "git", "host": "git.example.com", "remote": remote, "ref": ref}, extra)

case_git_commit_ref_is_allowed := {"git": git_src("git://git.example.com/lib.git", "2222222222222222222222222222222222222222", {"isCommitRef": true})}

test_git_commit_ref_is_allowed if {
	allowed with input as data.docker.case_git_commit_ref_is_allowed
}

case_git_tag_pinned_by_the_dockerfile_is_allowed := {"git": git_src("git://git.example.com/lib.git", "refs/tags/v1", {"tagName": "v1", "checksum": "2222222222222222222222222222222222222222", "commitChecksum": "2222222222222222222222222222222222222222"})}

test_git_tag_pinned_by_the_dockerfile_is_allowed if {
	allowed with input as data.docker.case_git_tag_pinned_by_the_dockerfile_is_allowed
}

case_git_pin_of_another_remote_does_not_count := {"git": git_src("git://git.example.com/other.git", "refs/tags/v1", {"tagName": "v1", "checksum": "2222222222222222222222222222222222222222", "commitChecksum": "2222222222222222222222222222222222222222"})}

test_git_pin_of_another_remote_does_not_count if {
	not allowed with input as data.docker.case_git_pin_of_another_remote_does_not_count
}

case_git_unpinned_tag_is_denied_with_the_commit := {"git": git_src("git://git.example.com/lib.git", "refs/tags/v2", {"tagName": "v2", "checksum": "3333333333333333333333333333333333333333", "commitChecksum": "3333333333333333333333333333333333333333"})}

test_git_unpinned_tag_is_denied_with_the_commit if {
	denied_with("fix: ADD --checksum=3333333333333333333333333333333333333333 git://git.example.com/lib.git#v2 (pin") with input as data.docker.case_git_unpinned_tag_is_denied_with_the_commit
}

# ---- http

case_http_with_the_dockerfile_checksum_is_allowed := {"http": {"url": "https://example.com/tool.tgz", "checksum": "sha256:1111111111111111111111111111111111111111111111111111111111111111"}}

test_http_with_the_dockerfile_checksum_is_allowed if {
	allowed with input as data.docker.case_http_with_the_dockerfile_checksum_is_allowed
}

case_http_with_other_content_is_denied := {"http": {"url": "https://example.com/tool.tgz", "checksum": "sha256:9999999999999999999999999999999999999999999999999999999999999999"}}

test_http_with_other_content_is_denied if {
	not allowed with input as data.docker.case_http_with_other_content_is_denied
}

case_http_unpinned_is_denied_with_its_checksum := {"http": {"url": "https://example.com/unpinned.txt", "checksum": "sha256:4444"}}

test_http_unpinned_is_denied_with_its_checksum if {
	denied_with("fix: ADD --checksum=sha256:4444 https://example.com/unpinned.txt (") with input as data.docker.case_http_unpinned_is_denied_with_its_checksum
}

# ---- the rest

case_local_context_is_allowed := {"local": {"name": "context"}}

test_local_context_is_allowed if {
	allowed with input as data.docker.case_local_context_is_allowed
}

case_unknown_kind_is_denied := {"env": {}}

test_unknown_kind_is_denied if {
	denied_with("knows no rule") with input as data.docker.case_unknown_kind_is_denied
}
