# Only busybox (and the local context, and this frontend's own image) may be used: the SBOM
# scanner is a source like any other and is denied.
package docker

default allow := false

allow if input.local

allow if input.image.repo == "127.0.0.1:5000/busybox"

allow if input.image.repo == "127.0.0.1:5000/verified-frontend"

deny_msg contains msg if {
	not allow
	msg := sprintf("%v is not allowed", [object.get(input, ["image", "ref"], "this source")])
}

decision := {"allow": allow, "deny_msg": deny_msg}
