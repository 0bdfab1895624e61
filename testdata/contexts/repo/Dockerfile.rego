package docker

default allow := false

allow if input.image.repo == "127.0.0.1:5000/verified-frontend"

# The build context: this repository, on its main branch only.
allow if {
	input.git.remote == "git://127.0.0.1:9418/ctx.git"
	input.git.ref == "refs/heads/main"
}

deny_msg contains msg if {
	not allow
	msg := sprintf("%v is not allowed by the context's own policy", [object.get(input, ["git", "ref"], "this source")])
}

decision := {"allow": allow, "deny_msg": deny_msg}
