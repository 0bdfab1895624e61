# Base images: alpine only at the reviewed digest (the tag is rewritten to it), and the
# team's own images only when Docker's GitHub builder built and signed them from a release
# tag of github.com/example/app.
package docker

default allow := false

allow if input.local

# The frontend image is a source too.
allow if input.image.repo == "registry.example.com/verified-frontend"

allow if {
	input.image.repo == "alpine"
	input.image.tag == "3.20"
	pin_image(input.image, "sha256:1e42bbe2508154c9126d48c2b8a75420c3544343bf86fd041fb7527e017a4b4a")
}

allow if {
	input.image.host == "registry.example.com"
	some tag in ["v1", "v2"]
	docker_github_builder_tag(input.image, "example/app", tag)
}

deny_msg contains msg if {
	input.image
	not allow
	msg := sprintf("%s is neither the reviewed alpine nor a signed release of example/app", [input.image.ref])
}

decision := {"allow": allow, "deny_msg": deny_msg}
