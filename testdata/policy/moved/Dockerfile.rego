# Allows the flipping file whatever its checksum: the point is that the build uses the
# content that was checked, not what the server hands out later.
package docker

default allow := false

allow if input.local

allow if input.image.repo == "127.0.0.1:5000/verified-frontend"

allow if {
	input.http.url == "http://127.0.0.1:8778/flip.txt"
	print("checked", input.http.checksum)
}

decision := {"allow": allow}
