# Buildx's test vector (tests/policy_build.go, policyCapsProxyFile) with the rig's HTTP server.
package docker

default allow = true

default deny_msg := []

default caps := {}

caps := {"exec.proxy": true} if input.env.capsRequest

allow := false if input.http.url == "http://127.0.0.1:8777/file"

deny_msg := ["exec proxy http source denied by policy"] if input.http.url == "http://127.0.0.1:8777/file"

decision := {"allow": allow, "deny_msg": deny_msg, "caps": caps}
