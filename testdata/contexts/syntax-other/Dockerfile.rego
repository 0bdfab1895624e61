package docker

default allow := false

allow if input.image.repo == "127.0.0.1:5000/verified-frontend"

allow if input.image.repo == "127.0.0.1:5000/dockerfile"

allow if input.local

decision := {"allow": allow, "deny_msg": ["not allowed"]}
