# Allows the local context, the frontend, and two repositories of the local registry. Each
# Dockerfile here tries to bring in something else by another route.
package docker

default allow := false

allowed_repos := {
	"127.0.0.1:5000/verified-frontend",
	"127.0.0.1:5000/busybox",
	"127.0.0.1:5000/onbuild",
}

allow if input.local

allow if input.image.repo in allowed_repos

deny_msg contains msg if {
	not allow
	msg := "only the local context and allowed images may be used"
}

decision := {"allow": allow, "deny_msg": deny_msg}
