# Images must carry BuildKit provenance showing a release build on top of busybox.
package docker

default allow := false

allow if input.local

allow if input.image.repo == "127.0.0.1:5000/verified-frontend"

allow if {
	input.image.hasProvenance
	p := input.image.provenance
	p.predicateType == "https://slsa.dev/provenance/v1"
	p.buildType == "https://github.com/moby/buildkit/blob/master/docs/attestations/slsa-definitions.md"
	p.buildArgs.FLAVOR == "release"
	p.completeness.parameters
	some m in p.materials
	m.image.repo == "127.0.0.1:5000/busybox"
}

deny_msg contains msg if {
	not allow
	input.image
	msg := sprintf("%s has no acceptable provenance", [input.image.ref])
}

decision := {"allow": allow, "deny_msg": deny_msg}
