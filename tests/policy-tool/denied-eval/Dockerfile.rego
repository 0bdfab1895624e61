package docker

default allow := false

allow if input.local.name == "dockerfile"

deny_msg contains sprintf("local %s is not allowed", [input.local.name]) if not allow

decision := {"allow": allow, "deny_msg": deny_msg}
