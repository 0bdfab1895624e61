# A cap no BuildKit knows: Buildx fails the build rather than ignore it.
package docker

default allow := true

caps := {"nope": true}

decision := {"allow": allow, "caps": caps}
