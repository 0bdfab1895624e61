# Images only from the company registry and Docker Hub's official images; downloads only
# over https from the company's artifact server, with a checksum in the Dockerfile.
package docker

default allow := false

allow if input.local

allow if input.image.host == "registry.example.com"

allow if {
	input.image.host == "docker.io"
	not contains(input.image.repo, "/")
}

allow if {
	input.http.schema == "https"
	input.http.host == "artifacts.example.com"
}

allow if input.git.host == "github.com"

deny_msg contains msg if {
	input.image
	not allow
	msg := sprintf("registry %s is not allowed (%s)", [input.image.host, input.image.ref])
}

deny_msg contains msg if {
	input.http
	not allow
	msg := sprintf("downloads come from https://artifacts.example.com only, not %s", [input.http.url])
}

decision := {"allow": allow, "deny_msg": deny_msg}
