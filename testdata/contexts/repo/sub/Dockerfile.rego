package docker

# Only this policy allows tools:1; the repository's root policy does not.
default allow := false

allow if input.image.repo == "127.0.0.1:5000/verified-frontend"

allow if input.image.repo == "127.0.0.1:5000/tools"

allow if {
	input.git.remote == "git://127.0.0.1:9418/ctx.git"
	input.git.subDir == "sub"
}

decision := {"allow": allow, "deny_msg": ["not allowed by the sub directory's policy"]}
