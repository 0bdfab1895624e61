# Only images from the local registry's busybox repository (and the frontend itself), and
# the local context.
package docker

default allow := false

allow if input.local

allow if input.image.repo == "127.0.0.1:5000/verified-frontend"

allow if input.image.repo == "127.0.0.1:5000/busybox"

deny_msg contains msg if {
	not allow
	input.image
	msg := sprintf("image %s is not from an allowed repository", [input.image.repo])
}

decision := {"allow": allow, "deny_msg": deny_msg}
