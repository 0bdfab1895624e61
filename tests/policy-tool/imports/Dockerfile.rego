package docker

import data.lib.names

default allow := false

allow if names.allowed[input.local.name]

decision := {"allow": allow}
