package docker

default allow := true

allow := false if input.image.repo == "127.0.0.1:5000/dockerfile"

decision := {"allow": allow, "deny_msg": ["the Dockerfile frontend the syntax line names is not trusted"]}
