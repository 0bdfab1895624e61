# The quick start's policy, written as for Docker Buildx's build policies.
package docker

default allow := false

# The build context (and the Dockerfile read from it).
allow if input.local

# Base images: only the reviewed busybox repository of the local registry; the frontend
# image itself is a source too.
allow if input.image.repo == "127.0.0.1:5000/busybox"

allow if input.image.repo == "127.0.0.1:5000/verified-frontend"

# What this team publishes may be built on, and passes `verified-frontend verify --policy`.
allow if startswith(input.image.repo, "127.0.0.1:5000/examples/")

# Git: release tags of the hello repository only.
allow if {
	input.git.host == "127.0.0.1:9418"
	endswith(input.git.remote, "/hello.git")
	startswith(input.git.tagName, "v")
}

# Downloads: only from the local file server.
allow if input.http.host == "127.0.0.1:8777"

deny_msg contains msg if {
	input.image
	not allow
	msg := sprintf("%s is not a reviewed base image (allowed: 127.0.0.1:5000/busybox)", [input.image.ref])
}

decision := {"allow": allow, "deny_msg": deny_msg}
