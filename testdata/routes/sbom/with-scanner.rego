# busybox-only.rego plus the SBOM scanner image.
package docker

default allow := false

allow if input.local

allow if input.image.repo == "127.0.0.1:5000/busybox"

allow if input.image.repo == "127.0.0.1:5000/scanner"

allow if input.image.repo == "127.0.0.1:5000/verified-frontend"

deny_msg contains msg if {
	not allow
	msg := sprintf("%v is not allowed", [object.get(input, ["image", "ref"], "this source")])
}

decision := {"allow": allow, "deny_msg": deny_msg}
