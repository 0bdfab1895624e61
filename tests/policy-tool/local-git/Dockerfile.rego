package docker

default allow := false

allow if input.local.name == "context"

allow if input.git.tagName == "v1"

deny_msg contains sprintf("no: %v", [object.keys(input)]) if not allow

decision := {"allow": allow, "deny_msg": deny_msg}
