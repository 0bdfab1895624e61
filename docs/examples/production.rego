# Anything goes for development builds; a build with --build-arg ENV=production takes only
# signed images with provenance, and downloads with a detached signature by the vendor.
package docker

default allow := false

production if input.env.args.ENV == "production"

allow if input.local

allow if {
	not production
	not input.http
}

allow if {
	production
	input.image.hasProvenance
	some sig in input.image.signatures
	sig.signer.issuer == "https://token.actions.githubusercontent.com"
	startswith(sig.signer.sourceRepositoryURI, "https://github.com/example/")
	sig.signer.runnerEnvironment == "github-hosted"
}

allow if {
	input.http
	verify_http_pgp_signature(input.http, "vendor.tar.gz.asc", "vendor-key.asc")
}

deny_msg contains msg if {
	production
	input.image
	not allow
	msg := sprintf("production builds need a signed image with provenance from github.com/example: %s", [input.image.ref])
}

decision := {"allow": allow, "deny_msg": deny_msg}
